package codec

import "unsafe"

var typeNames = [16]string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL",
	"PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// String returns the packet type name ("CONNECT", ...).
func (t PacketType) String() string {
	if t < 16 {
		return typeNames[t]
	}
	return "INVALID"
}

func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Encode appends the wire form of p for protocol level p.Version to dst.
// Fields not valid for the type or version are ignored (properties in 3.1.x,
// reason codes of 3.1.x acks, properties not allowed for the packet type).
// A v5 property is written when its bit in Props.Present is set (User and
// SubscriptionIDs when non-empty). The fixed header flags are derived from
// the fields (Dup, QoS, Retain for PUBLISH), not taken from p.Flags.
func Encode(dst []byte, p *Packet) []byte {
	switch p.Type {
	case PUBLISH:
		return appendPublish(dst, p.Version, p.Dup, p.QoS, p.Retain, bstr(p.Topic), p.PacketID, &p.Props, p.Payload)
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		return AppendAck(dst, p.Version, p.Type, p.PacketID, p.ReasonCode, &p.Props)
	}
	rem := bodySize(p)
	dst = append(dst, byte(p.Type)<<4|requiredFlags[p.Type&0x0F])
	dst = AppendVarint(dst, rem)
	return appendBody(dst, p)
}

// Size returns len(Encode(nil, p)) without encoding.
func Size(p *Packet) int {
	switch p.Type {
	case PUBLISH:
		return PublishSize(p.Version, p.QoS, bstr(p.Topic), &p.Props, len(p.Payload))
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		rem := ackRemaining(p.Version, p.Type, p.ReasonCode, &p.Props)
		return 1 + VarintSize(rem) + rem
	}
	rem := bodySize(p)
	return 1 + VarintSize(rem) + rem
}

func (p *Packet) propMask() uint64 {
	if p.Version < V5 {
		return 0
	}
	return encMask(&p.Props, ctxOf(p.Type))
}

// subscribeProps returns the properties to write for a SUBSCRIBE: at most
// one Subscription Identifier is valid there [MQTT-5.0 §3.8.2.1.2].
func (p *Packet) subscribeProps() *Properties {
	if p.Type == SUBSCRIBE && len(p.Props.SubscriptionIDs) > 1 {
		c := p.Props
		c.SubscriptionIDs = c.SubscriptionIDs[:1]
		return &c
	}
	return &p.Props
}

// bodySize is the Remaining Length of p (types other than PUBLISH and acks).
func bodySize(p *Packet) int {
	v5 := p.Version >= V5
	n := 0
	switch p.Type {
	case CONNECT:
		n = 2 + len(protocolName(p.Version)) + 1 + 1 + 2
		if v5 {
			n += propsBlockSize(&p.Props, p.propMask())
		}
		n += 2 + len(p.ClientID)
		if p.WillFlag {
			if v5 {
				n += propsBlockSize(&p.WillProps, encMask(&p.WillProps, ctxWill))
			}
			n += 4 + len(p.WillTopic) + len(p.WillPayload)
		}
		if p.UsernameFlag || len(p.Username) > 0 {
			n += 2 + len(p.Username)
		}
		if p.PasswordFlag || len(p.Password) > 0 {
			n += 2 + len(p.Password)
		}
	case CONNACK:
		n = 2
		if v5 {
			n += propsBlockSize(&p.Props, p.propMask())
		}
	case SUBSCRIBE, UNSUBSCRIBE:
		n = 2
		if v5 {
			n += propsBlockSize(p.subscribeProps(), p.propMask())
		}
		for i := range p.Subscriptions {
			n += 2 + len(p.Subscriptions[i].Filter)
			if p.Type == SUBSCRIBE {
				n++
			}
		}
	case SUBACK:
		n = 2 + len(p.ReasonCodes)
		if v5 {
			n += propsBlockSize(&p.Props, p.propMask())
		}
	case UNSUBACK:
		n = 2
		if v5 {
			n += propsBlockSize(&p.Props, p.propMask()) + len(p.ReasonCodes)
		}
	case DISCONNECT, AUTH:
		if v5 {
			if m := p.propMask(); m != 0 {
				n = 1 + propsBlockSize(&p.Props, m)
			} else if p.ReasonCode != 0 {
				n = 1
			}
		}
	}
	return n
}

func protocolName(v byte) string {
	if v == V31 {
		return "MQIsdp"
	}
	return "MQTT"
}

func appendBody(dst []byte, p *Packet) []byte {
	v5 := p.Version >= V5
	switch p.Type {
	case CONNECT:
		dst = appendString(dst, protocolName(p.Version))
		var f byte
		if p.CleanStart {
			f |= 0x02
		}
		if p.WillFlag {
			f |= 0x04 | (p.WillQoS&0x03)<<3
			if p.WillRetain {
				f |= 0x20
			}
		}
		userFlag := p.UsernameFlag || len(p.Username) > 0
		passFlag := p.PasswordFlag || len(p.Password) > 0
		if passFlag {
			f |= 0x40
		}
		if userFlag {
			f |= 0x80
		}
		dst = append(dst, p.Version, f, byte(p.KeepAlive>>8), byte(p.KeepAlive))
		if v5 {
			dst = appendProps(dst, &p.Props, p.propMask())
		}
		dst = appendBytes(dst, p.ClientID)
		if p.WillFlag {
			if v5 {
				dst = appendProps(dst, &p.WillProps, encMask(&p.WillProps, ctxWill))
			}
			dst = appendBytes(dst, p.WillTopic)
			dst = appendBytes(dst, p.WillPayload)
		}
		if userFlag {
			dst = appendBytes(dst, p.Username)
		}
		if passFlag {
			dst = appendBytes(dst, p.Password)
		}
	case CONNACK:
		var f byte
		if p.SessionPresent && p.Version != V31 {
			f = 1
		}
		dst = append(dst, f, p.ReasonCode)
		if v5 {
			dst = appendProps(dst, &p.Props, p.propMask())
		}
	case SUBSCRIBE, UNSUBSCRIBE:
		dst = append(dst, byte(p.PacketID>>8), byte(p.PacketID))
		if v5 {
			dst = appendProps(dst, p.subscribeProps(), p.propMask())
		}
		for i := range p.Subscriptions {
			s := &p.Subscriptions[i]
			dst = appendBytes(dst, s.Filter)
			if p.Type == UNSUBSCRIBE {
				continue
			}
			o := s.QoS & 0x03
			if v5 {
				if s.NoLocal {
					o |= 0x04
				}
				if s.RetainAsPublished {
					o |= 0x08
				}
				o |= (s.RetainHandling & 0x03) << 4
			}
			dst = append(dst, o)
		}
	case SUBACK, UNSUBACK:
		dst = append(dst, byte(p.PacketID>>8), byte(p.PacketID))
		if v5 {
			dst = appendProps(dst, &p.Props, p.propMask())
		}
		if p.Type == SUBACK || v5 {
			dst = append(dst, p.ReasonCodes...)
		}
	case DISCONNECT, AUTH:
		if v5 {
			if m := p.propMask(); m != 0 {
				dst = append(dst, p.ReasonCode)
				dst = appendProps(dst, &p.Props, m)
			} else if p.ReasonCode != 0 {
				dst = append(dst, p.ReasonCode)
			}
		}
	}
	return dst
}

// AppendPublish appends a PUBLISH packet. props is used only for v5 (nil: no
// properties); properties not allowed in PUBLISH are skipped. packetID is
// written only for qos > 0, and dup only for qos > 0 [MQTT-3.3.1-2]. The
// caller provides a valid topic (or "" with a Topic Alias in v5). It
// allocates nothing when dst has room.
func AppendPublish(dst []byte, version byte, dup bool, qos byte, retain bool, topic string, packetID uint16, props *Properties, payload []byte) []byte {
	return appendPublish(dst, version, dup, qos, retain, topic, packetID, props, payload)
}

func appendPublish(dst []byte, version byte, dup bool, qos byte, retain bool, topic string, packetID uint16, props *Properties, payload []byte) []byte {
	qos &= 0x03
	h := byte(PUBLISH)<<4 | qos<<1
	if dup && qos > 0 {
		h |= 0x08
	}
	if retain {
		h |= 0x01
	}
	var m uint64
	rem := 2 + len(topic) + len(payload)
	if qos > 0 {
		rem += 2
	}
	plen := 0
	if version >= V5 {
		m = encMask(props, ctxOf(PUBLISH))
		if m != 0 {
			plen = propsLen(props, m)
		}
		rem += VarintSize(plen) + plen
	}
	dst = append(dst, h)
	dst = AppendVarint(dst, rem)
	dst = appendString(dst, topic)
	if qos > 0 {
		dst = append(dst, byte(packetID>>8), byte(packetID))
	}
	if version >= V5 {
		if m == 0 {
			dst = append(dst, 0)
		} else {
			dst = appendProps(dst, props, m)
		}
	}
	return append(dst, payload...)
}

// PublishSize is the size of the packet AppendPublish writes.
func PublishSize(version byte, qos byte, topic string, props *Properties, payloadLen int) int {
	rem := 2 + len(topic) + payloadLen
	if qos&0x03 > 0 {
		rem += 2
	}
	if version >= V5 {
		rem += propsBlockSize(props, encMask(props, ctxOf(PUBLISH)))
	}
	return 1 + VarintSize(rem) + rem
}

func ackRemaining(version byte, t PacketType, reason byte, props *Properties) int {
	if version < V5 {
		return 2
	}
	m := encMask(props, ctxOf(t))
	switch {
	case m != 0:
		return 3 + propsBlockSize(props, m)
	case reason != 0:
		return 3
	}
	return 2
}

// AppendAck appends a PUBACK, PUBREC, PUBREL or PUBCOMP (t). In 3.1.x only
// the packet id is written. In v5 the reason code and properties are omitted
// when reason == 0 and props is nil or empty, and the property block is
// omitted when props is empty (the shortest forms, MQTT-5.0 §3.4.2.1).
// It allocates nothing when dst has room.
func AppendAck(dst []byte, version byte, t PacketType, packetID uint16, reason byte, props *Properties) []byte {
	h := byte(t) << 4
	if t == PUBREL {
		h |= 0x02
	}
	if version < V5 {
		return append(dst, h, 2, byte(packetID>>8), byte(packetID))
	}
	m := encMask(props, ctxOf(t))
	switch {
	case m != 0:
		rem := 3 + propsBlockSize(props, m)
		dst = append(dst, h)
		dst = AppendVarint(dst, rem)
		dst = append(dst, byte(packetID>>8), byte(packetID), reason)
		return appendProps(dst, props, m)
	case reason != 0:
		return append(dst, h, 3, byte(packetID>>8), byte(packetID), reason)
	}
	return append(dst, h, 2, byte(packetID>>8), byte(packetID))
}
