package engine

import (
	"time"
	"unsafe"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/metrics"
	"github.com/tsubame-mq/tsubame/router"
)

var (
	errTopicAliasInvalid = errProtocol(codec.TopicAliasInvalid, "MQTT-3.3.2-9", "topic alias above the maximum")
	errTopicAliasUnknown = errProtocol(codec.ProtocolError, "MQTT-3.3.2-12", "topic alias not set")
	errQoSNotSupported   = errProtocol(codec.QoSNotSupported, "MQTT-3.2.2-11", "QoS above the maximum")
	errRetainUnavailable = errProtocol(codec.RetainNotSupported, "MQTT-3.2.2-14", "retain not available")
	errReceiveMaximum    = errProtocol(codec.ReceiveMaximumExceeded, "MQTT-3.3.4-9", "more QoS 2 messages unacknowledged than Receive Maximum")
)

// handlePublish handles an inbound PUBLISH: topic alias, authorisation,
// QoS 2 de-duplication, retain, routing, acknowledgement.
func (c *client) handlePublish(w *worker, p *codec.Packet) error {
	b := c.b
	topic := p.Topic
	if c.version == codec.V5 && p.Props.Has(codec.PropTopicAlias) {
		a := p.Props.TopicAlias
		if a == 0 || a > b.lim.maxTopicAlias {
			return errTopicAliasInvalid // [MQTT-3.3.2-9]
		}
		x := c.x()
		if len(topic) > 0 {
			if x.aliases == nil {
				x.aliases = make([]string, int(b.lim.maxTopicAlias)+1)
			}
			if x.aliases[a] != string(topic) {
				x.aliases[a] = string(topic)
			}
		} else {
			if x.aliases == nil || x.aliases[a] == "" {
				return errTopicAliasUnknown
			}
			topic = unsafe.Slice(unsafe.StringData(x.aliases[a]), len(x.aliases[a]))
		}
	}
	if p.QoS > b.lim.maxQoS {
		return errQoSNotSupported // [MQTT-3.2.2-11]
	}
	if p.Retain && !b.lim.retainAvailable {
		return errRetainUnavailable // [MQTT-3.2.2-14]
	}
	c.msgsIn.Add(1)
	w.ms.Received(p.QoS)

	topicStr := unsafe.String(unsafe.SliceData(topic), len(topic))
	allowed := b.auth == nil || b.auth.Allowed(c.username, c.id, topicStr, aclWrite)

	if p.QoS == 2 {
		s := c.sess
		s.mu.Lock()
		for _, id := range s.inQoS2 {
			if id == p.PacketID {
				// Already received and routed: acknowledge again, never deliver twice [MQTT-4.3.3-10].
				s.mu.Unlock()
				c.sendAck(w, codec.PUBREC, p.PacketID, 0)
				return nil
			}
		}
		if len(s.inQoS2) >= int(b.lim.receiveMaximum) {
			s.mu.Unlock()
			return errReceiveMaximum // [MQTT-3.3.4-9]
		}
		if allowed {
			s.inQoS2 = append(s.inQoS2, p.PacketID)
		}
		s.mu.Unlock()
	}

	reason := codec.Success
	if !allowed {
		// 3.1.1: dropped and acknowledged as usual; v5: reason 0x87.
		reason = codec.NotAuthorized
		w.ms.Dropped(p.QoS, metrics.DropNotAuthorized)
		if b.debug {
			b.log.Debug("publish denied", "client", c.id, "user", c.username, "topic", topicStr)
		}
	} else {
		// The transient message lives in the worker so that it does not
		// escape to the heap per publish; only a kept copy (retained,
		// queued, inflight) is allocated.
		m := &w.msg
		*m = router.Message{
			Topic:   topicStr,
			Payload: p.Payload,
			QoS:     p.QoS,
			Retain:  p.Retain,
			Created: w.now,
			Origin:  c.id,
		}
		if c.version == codec.V5 {
			m.Props = p.Props
			m.Props.Present &^= 1<<codec.PropTopicAlias | 1<<codec.PropMessageExpiry
			m.Props.TopicAlias = 0
			if p.Props.Has(codec.PropMessageExpiry) {
				m.Expiry = w.now + int64(p.Props.MessageExpiry)*int64(time.Second)
			}
		}
		r := &w.ref
		*r = pubRef{msg: m}
		if p.Retain {
			b.storeRetained(r.keep()) // [MQTT-3.3.1-5]
		}
		w.congested = w.congested[:0]
		n := b.route(w, r, c.sess)
		*r = pubRef{}
		*m = router.Message{}
		if n == 0 {
			if !p.Retain { // a retained message is kept, not lost
				w.ms.Dropped(p.QoS, metrics.DropNoSubscribers)
			}
			if c.version == codec.V5 {
				reason = codec.NoMatchingSubscribers
			}
		}
	}
	t := codec.PUBACK // [MQTT-4.3.2-4]
	if p.QoS == 2 {
		t = codec.PUBREC // [MQTT-4.3.3-9]
	}
	if p.QoS > 0 && (reason != codec.Success || !c.holdAck(w, t, p.PacketID)) {
		c.sendAck(w, t, p.PacketID, reason)
	}
	return nil
}

// holdAck holds the acknowledgement of a publish that went into congested
// subscriber queues (see ackHold). It reports false when nothing was
// congested and the caller acknowledges as usual. Otherwise whoever takes
// ackHold.left to zero (a draining queue, or this function for a queue that
// drained already) sends the acknowledgement, exactly once.
func (c *client) holdAck(w *worker, t codec.PacketType, id uint16) bool {
	if len(w.congested) == 0 {
		return false
	}
	h := &ackHold{c: c, t: t, id: id}
	h.left.Store(int32(len(w.congested)))
	for i, s := range w.congested {
		s.mu.Lock()
		if s.queue.len() >= c.b.holdLow && s.client.Load() != nil {
			if len(s.waiters) == 0 {
				s.holdSince = w.now
				c.b.holding.add(s)
			}
			s.waiters = append(s.waiters, h)
		} else if h.left.Add(-1) == 0 {
			c.sendAck(w, t, id, 0)
		}
		s.mu.Unlock()
		w.congested[i] = nil
	}
	w.congested = w.congested[:0]
	return true
}

// handlePubrel completes an inbound QoS 2 flow [MQTT-4.3.3-11].
func (c *client) handlePubrel(w *worker, p *codec.Packet) error {
	s := c.sess
	reason := byte(codec.PacketIDNotFound)
	s.mu.Lock()
	for i, id := range s.inQoS2 {
		if id == p.PacketID {
			s.inQoS2 = append(s.inQoS2[:i], s.inQoS2[i+1:]...)
			reason = codec.Success
			break
		}
	}
	s.mu.Unlock()
	c.sendAck(w, codec.PUBCOMP, p.PacketID, reason) // [MQTT-4.3.3-12]
	return nil
}

// handleOutboundAck handles PUBACK, PUBREC and PUBCOMP for messages the
// server sent.
func (c *client) handleOutboundAck(w *worker, p *codec.Packet) error {
	s := c.sess
	s.mu.Lock()
	err := s.ackLocked(w, c, p.Type, p.PacketID, p.ReasonCode)
	s.mu.Unlock()
	return err
}

// storeRetained sets or, for an empty payload, deletes the retained message
// of m.Topic [MQTT-3.3.1-6] [MQTT-3.3.1-7]. m must be a kept copy.
func (b *Broker) storeRetained(m *router.Message) {
	if len(m.Payload) == 0 {
		b.retained.Delete(m.Topic)
		return
	}
	b.retained.Set(m)
}

// route delivers r to every matching subscription and returns how many
// subscribers it went to.
func (b *Broker) route(w *worker, r *pubRef, from *Session) int {
	m := r.msg
	w.pubGen++ // invalidates the pre-encoded packet of the previous publish
	var pub router.Subscriber
	if from != nil {
		pub = from
	}
	topic := unsafe.Slice(unsafe.StringData(m.Topic), len(m.Topic))
	b.router.Match(topic, pub, &w.matches)
	acl := b.auth != nil && b.auth.HasACL()
	n := 0
	// Chunks: a big subscriber list comes back as the router's own chunks of
	// 128, never copied.
	for _, ds := range w.matches.Chunks() {
		for i := range ds {
			d := &ds[i]
			s := d.Sub.(*Session)
			if acl && !b.auth.Allowed(s.username, s.id, m.Topic, aclRead) {
				continue // denied deliveries are never sent
			}
			qos := m.QoS
			if d.QoS < qos {
				qos = d.QoS // [MQTT-3.8.4-8]
			}
			// Retain flag on normal delivery: as published only with Retain As
			// Published [MQTT-3.3.1-12] [MQTT-3.3.1-13]; 3.1.1 clears it [MQTT-3.3.1-9].
			retain := m.Retain && d.RetainAsPublished
			s.deliver(w, r, qos, retain, d.SubIDs)
			n++
		}
	}
	return n
}
