package engine

import (
	"strings"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/metrics"
	"github.com/tsubame-mq/tsubame/router"
)

// handleSubscribe grants or refuses each filter, answers SUBACK, then sends
// the retained messages the new subscriptions ask for.
func (c *client) handleSubscribe(w *worker, p *codec.Packet) error {
	b := c.b
	s := c.sess
	v5 := c.version == codec.V5
	var subID uint32
	if v5 && p.Props.Has(codec.PropSubscriptionID) && len(p.Props.SubscriptionIDs) > 0 {
		if !b.lim.subIDs {
			return errProtocol(codec.SubIDNotSupported, "MQTT-5.0 §3.8.2.1.2", "subscription identifiers not supported")
		}
		subID = p.Props.SubscriptionIDs[0]
	}
	codes := make([]byte, 0, len(p.Subscriptions))
	type retainReq struct {
		filter string
		qos    byte
		opts   router.Options
	}
	var retained []retainReq
	for i := range p.Subscriptions {
		sub := &p.Subscriptions[i]
		filter := string(sub.Filter)
		shared := strings.HasPrefix(filter, "$share/")
		granted := sub.QoS
		if granted > b.lim.maxQoS {
			granted = b.lim.maxQoS // [MQTT-3.8.4-6] the server may grant a lower QoS
		}
		var code byte = granted
		switch {
		case shared && !b.lim.sharedSubs:
			code = codec.SharedSubNotSupported
		case !b.lim.wildcardSubs && strings.ContainsAny(filter, "+#"):
			code = codec.WildcardSubNotSupported
		case b.auth != nil && !b.auth.Allowed(c.username, c.id, filter, aclSubscribe):
			code = codec.NotAuthorized
			if b.debug {
				b.log.Debug("subscribe denied", "client", c.id, "user", c.username, "filter", filter)
			}
		}
		if code >= 0x80 {
			if !v5 {
				code = 0x80 // 3.1.1 has one failure code [MQTT-3.9.3-2]
			}
			codes = append(codes, code)
			continue
		}
		opts := router.Options{
			QoS:               granted,
			NoLocal:           sub.NoLocal,
			RetainAsPublished: sub.RetainAsPublished,
			RetainHandling:    sub.RetainHandling,
			SubID:             subID,
		}
		c.prepareStage()
		existed := b.router.Subscribe(s, filter, opts) // replaces an identical filter [MQTT-3.8.4-3]
		s.mu.Lock()
		if s.subs == nil {
			s.subs = make(map[string]router.Options)
		}
		s.subs[filter] = opts
		s.mu.Unlock()
		codes = append(codes, code)
		// Retained messages: not for shared subscriptions; per Retain
		// Handling otherwise [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11].
		if !shared && (sub.RetainHandling == 0 || (sub.RetainHandling == 1 && !existed)) {
			retained = append(retained, retainReq{filter: filter, qos: granted, opts: opts})
		}
	}
	c.saveSession()
	ack := codec.Packet{Type: codec.SUBACK, Version: c.version, PacketID: p.PacketID, ReasonCodes: codes} // [MQTT-3.8.4-1] [MQTT-3.8.4-2]
	buf := codec.Encode(w.scratch[:0], &ack)
	c.send(w, buf)
	w.scratch = buf[:0]

	acl := b.auth != nil && b.auth.HasACL()
	for _, rq := range retained {
		var ids []uint32
		if rq.opts.SubID != 0 {
			ids = []uint32{rq.opts.SubID}
		}
		b.retained.Match(rq.filter, func(m *router.Message) bool {
			if m.Expiry != 0 && w.now >= m.Expiry {
				return true
			}
			if acl && !b.auth.Allowed(c.username, c.id, m.Topic, aclRead) {
				return true
			}
			qos := min(m.QoS, rq.qos)
			r := pubRef{msg: m, stored: m}
			s.deliver(w, &r, qos, true, ids) // RETAIN 1 for retained messages on subscribe [MQTT-3.3.1-8]
			return true
		})
	}
	return nil
}

// handleUnsubscribe removes filters and answers UNSUBACK [MQTT-3.10.4-4].
func (c *client) handleUnsubscribe(w *worker, p *codec.Packet) error {
	s := c.sess
	var codes []byte
	if c.version == codec.V5 {
		codes = make([]byte, 0, len(p.Subscriptions))
	}
	for i := range p.Subscriptions {
		filter := string(p.Subscriptions[i].Filter)
		existed := c.b.router.Unsubscribe(s, filter)
		s.mu.Lock()
		delete(s.subs, filter)
		s.mu.Unlock()
		if codes != nil {
			if existed {
				codes = append(codes, codec.Success)
			} else {
				codes = append(codes, codec.NoSubscriptionExisted)
			}
		}
	}
	c.saveSession()
	ack := codec.Packet{Type: codec.UNSUBACK, Version: c.version, PacketID: p.PacketID, ReasonCodes: codes}
	buf := codec.Encode(w.scratch[:0], &ack)
	c.send(w, buf)
	w.scratch = buf[:0]
	return nil
}

// handleDisconnect ends the connection normally: the will is discarded
// unless a v5 client asks for it with reason 0x04 [MQTT-3.14.4-3].
func (c *client) handleDisconnect(w *worker, p *codec.Packet) error {
	if c.version == codec.V5 {
		if p.Props.Has(codec.PropSessionExpiry) {
			s := c.sess
			s.mu.Lock()
			if s.expiry == 0 && p.Props.SessionExpiry != 0 {
				s.mu.Unlock()
				return errProtocol(codec.ProtocolError, "MQTT-3.14.2-2", "session expiry set on DISCONNECT after 0 on CONNECT")
			}
			e := p.Props.SessionExpiry
			if e > c.b.lim.maxSessionExpiry {
				e = c.b.lim.maxSessionExpiry
			}
			s.expiry = e
			s.mu.Unlock()
		}
		c.normalDisconnect = p.ReasonCode != codec.DisconnectWithWill
	} else {
		c.normalDisconnect = true
	}
	c.setReason(metrics.CloseNormal)
	c.state = stateClosing // [MQTT-3.14.4-1]
	return nil
}

// saveSession hands a persistent session's new subscriptions to the store.
func (c *client) saveSession() {
	s := c.sess
	s.mu.Lock()
	if s.expiry > 0 {
		c.b.stored.Saved(s.recordLocked())
	}
	s.mu.Unlock()
}
