package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/metrics"
	"github.com/tsubame-mq/tsubame/router"
)

// handleConnect runs the CONNECT handshake: validation, authentication,
// session takeover or resumption, CONNACK, then redelivery.
func (c *client) handleConnect(w *worker, p *codec.Packet) error {
	b := c.b
	c.version = p.Version
	v5 := p.Version == codec.V5

	// Client identifier [MQTT-3.1.3-2].
	id := string(p.ClientID)
	assigned := false
	if id == "" {
		if p.Version == codec.V31 || (!p.CleanStart && !v5) {
			// 3.1.1 persistent sessions need an id [MQTT-3.1.3-8]; 3.1 requires 1..23 characters.
			return c.refuse(w, codec.ClientIDNotValid, "empty client id without clean session")
		}
		id = newClientID() // [MQTT-3.1.3-6] [MQTT-3.2.2-16]
		assigned = true
	}
	if len(id) > b.lim.maxClientIDLen {
		return c.refuse(w, codec.ClientIDNotValid, "client id too long")
	}
	c.id = id

	if v5 && p.Props.Has(codec.PropAuthMethod) {
		// No enhanced authentication methods are offered [MQTT-4.12.0-1].
		return c.refuse(w, codec.BadAuthenticationMethod, "enhanced authentication not supported")
	}

	// Authentication.
	ip := addrIP(c.remote)
	switch {
	case c.lis.certUser:
		// use_identity_as_username (only with require_certificate): the
		// verified certificate authenticates and its CN is the user name;
		// the password file is not consulted, as in mosquitto. Checking it
		// would refuse every device that has no password entry.
		if c.rare == nil || c.rare.certUser == "" {
			c.setReason(metrics.CloseAuthFailed)
			return c.refuse(w, codec.NotAuthorized, "client certificate has no common name")
		}
		c.username = c.rare.certUser
	case b.auth != nil:
		if b.auth.LoginBlocked(ip, time.Unix(0, w.now)) {
			b.log.Warn("login rate limited", "remote", c.remote, "client", id)
			return c.refuse(w, codec.NotAuthorized, "too many failed logins from this address")
		}
		code := b.auth.Login(ip, p.Username, p.Password, p.UsernameFlag, p.PasswordFlag, c.lis.allowAnon)
		if code != codec.Success {
			b.log.Warn("login refused", "remote", c.remote, "client", id, "user", string(p.Username), "code", code)
			c.setReason(metrics.CloseAuthFailed)
			return c.refuse(w, code, "authentication failed")
		}
		c.username = string(p.Username)
	default:
		c.username = string(p.Username)
	}

	// Will message.
	if p.WillFlag {
		if p.WillQoS > b.lim.maxQoS {
			return c.refuse(w, codec.QoSNotSupported, "will QoS above the maximum") // [MQTT-3.2.2-12]
		}
		if p.WillRetain && !b.lim.retainAvailable {
			return c.refuse(w, codec.RetainNotSupported, "will retain not available") // [MQTT-3.2.2-13]
		}
		if b.auth != nil && !b.auth.Allowed(c.username, c.id, string(p.WillTopic), aclWrite) {
			return c.refuse(w, codec.NotAuthorized, "will topic not allowed")
		}
		m := &router.Message{
			Topic:   string(p.WillTopic),
			Payload: append([]byte(nil), p.WillPayload...),
			QoS:     p.WillQoS,
			Retain:  p.WillRetain,
			Created: w.now,
			Origin:  id,
		}
		if v5 {
			m.Props = p.WillProps.Clone()
			m.Props.Present &^= 1 << codec.PropWillDelay
			if m.Props.Has(codec.PropMessageExpiry) {
				m.Props.Present &^= 1 << codec.PropMessageExpiry
			}
			c.x().willDelay = p.WillProps.WillDelay
			if p.WillProps.Has(codec.PropMessageExpiry) {
				c.x().willExpiry = p.WillProps.MessageExpiry
			}
		}
		c.x().will = m
	}

	// Keepalive: lowered to max_keepalive at every protocol level; v5 is told
	// through Server Keep Alive [MQTT-3.2.2-21].
	ka := p.KeepAlive
	serverKA := false
	if mk := b.lim.maxKeepalive; mk > 0 && (ka == 0 || ka > mk) {
		ka = mk
		serverKA = true
	}
	c.keepalive = ka

	// Session expiry.
	var expiry uint32
	expiryCapped := false
	if v5 {
		expiry = p.Props.SessionExpiry
		if expiry > b.lim.maxSessionExpiry {
			expiry = b.lim.maxSessionExpiry
			expiryCapped = true
		}
	} else if !p.CleanStart {
		expiry = b.lim.maxSessionExpiry
	}
	receiveMax := uint16(65535)
	if v5 && p.Props.Has(codec.PropReceiveMaximum) {
		receiveMax = p.Props.ReceiveMaximum
	}
	if !v5 {
		receiveMax = b.lim.receiveMaximum
	}
	if v5 && p.Props.Has(codec.PropMaximumPacketSize) {
		c.clientMaxPacket = p.Props.MaximumPacketSize
	}

	// CONNACK properties (v5).
	var ack codec.Packet
	ack.Type = codec.CONNACK
	ack.Version = c.version
	if v5 {
		pr := &ack.Props
		set := func(id byte) { pr.Present |= 1 << id }
		pr.ReceiveMaximum = b.lim.receiveMaximum
		set(codec.PropReceiveMaximum)
		pr.MaximumPacketSize = b.lim.maxPacketSize
		set(codec.PropMaximumPacketSize)
		pr.TopicAliasMaximum = b.lim.maxTopicAlias
		set(codec.PropTopicAliasMaximum)
		if b.lim.maxQoS < 2 {
			pr.MaximumQoS = b.lim.maxQoS
			set(codec.PropMaximumQoS)
		}
		if !b.lim.retainAvailable {
			pr.RetainAvailable = 0
			set(codec.PropRetainAvailable)
		}
		if !b.lim.wildcardSubs {
			set(codec.PropWildcardSubAvailable)
		}
		if !b.lim.subIDs {
			set(codec.PropSubIDAvailable)
		}
		if !b.lim.sharedSubs {
			set(codec.PropSharedSubAvailable)
		}
		if assigned {
			pr.AssignedClientID = []byte(id)
			set(codec.PropAssignedClientID)
		}
		if serverKA {
			pr.ServerKeepAlive = ka
			set(codec.PropServerKeepAlive)
		}
		if expiryCapped {
			pr.SessionExpiry = expiry
			set(codec.PropSessionExpiry)
		}
	}

	c.connectedAt = w.now
	c.state = stateConnected
	c.live.Store(true)
	if ka > 0 {
		b.wheel.add(c, w.nowSec+(int64(ka)*3+1)/2) // [MQTT-3.1.2-24]
	}
	b.attach(w, c, p.CleanStart, expiry, receiveMax, &ack)
	w.ms.ConnAck(codec.Success)
	if b.debug {
		b.log.Debug("client connected", "client", id, "remote", c.remote, "listener", c.lis.name,
			"version", c.version, "clean", p.CleanStart, "keepalive", ka)
	}
	return nil
}

// refuse answers a CONNECT with an error CONNACK and closes. A 3.1.x client
// gets the nearest return code; refusals that 3.1.x answers by closing
// without CONNACK are reported as errors by the codec before we get here.
func (c *client) refuse(w *worker, code byte, why string) error {
	ack := codec.Packet{Type: codec.CONNACK, Version: c.version, ReasonCode: code}
	if c.version != codec.V5 {
		ack.ReasonCode = codec.ConnackCodeV3(code)
	}
	w.ms.ConnAck(code)
	buf := codec.Encode(w.scratch[:0], &ack) // [MQTT-3.2.2-6] session present 0 with an error
	c.send(w, buf)
	w.scratch = buf[:0]
	c.setReason(metrics.CloseProtocolError)
	c.b.log.Info("connection refused", "client", c.id, "remote", c.remote, "code", code, "why", why)
	c.state = stateClosing
	return nil
}

// connectError answers a CONNECT that failed to decode, where the spec
// wants a CONNACK: an unsupported protocol level gets return code 0x01
// (0x84 in v5) [MQTT-3.1.2-2]; a v5 malformed CONNECT gets its reason code.
func (c *client) connectError(w *worker, err error) {
	var ce *codec.Error
	if !errors.As(err, &ce) {
		return
	}
	switch {
	case ce.Code == codec.UnsupportedProtocolVersion:
		if w.pkt.Version == codec.V5 {
			c.send(w, []byte{0x20, 0x03, 0x00, codec.UnsupportedProtocolVersion, 0x00})
		} else {
			c.send(w, []byte{0x20, 0x02, 0x00, codec.ConnRefusedVersion})
		}
	case ce.Code == codec.ClientIDNotValid && w.pkt.Version != codec.V5:
		c.send(w, []byte{0x20, 0x02, 0x00, codec.ConnRefusedIdentifier}) // [MQTT-3.1.3-9]
	case w.pkt.Version == codec.V5:
		// A v5 server may send a CONNACK with the reason before closing [MQTT-3.1.4-1].
		c.send(w, []byte{0x20, 0x03, 0x00, ce.Code, 0x00})
	}
}

func newClientID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "tsubame-" + hex.EncodeToString(b[:])
}

func addrIP(a net.Addr) netip.Addr {
	switch t := a.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}
