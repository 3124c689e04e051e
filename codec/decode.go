package codec

import "encoding/binary"

// DecodeFixedHeader reads the fixed header at b[0:]. n==0 && err==nil (here
// hdrLen==0): b does not yet hold the whole header, read more. remaining is
// the Remaining Length and hdrLen the header size (2..5). A 5th length byte
// or a non-minimal encoding is ErrMalformedLength [MQTT-1.5.5-1]; when maxSize
// > 0 and hdrLen+remaining exceeds it the result is ErrPacketTooLarge, as
// soon as the length is known and before any body byte is awaited.
func DecodeFixedHeader(b []byte, maxSize int) (typeAndFlags byte, remaining, hdrLen int, err error) {
	if len(b) < 2 {
		return 0, 0, 0, nil
	}
	rem, n, err := readVarint(b[1:])
	if err != nil || n == 0 {
		return 0, 0, 0, err
	}
	if maxSize > 0 && 1+n+rem > maxSize {
		return 0, 0, 0, ErrPacketTooLarge // [MQTT-5.0 §3.2.2.3.6]
	}
	return b[0], rem, 1 + n, nil
}

// Decode decodes exactly one packet sent by a client from the start of b
// into p. p is reset first and its slices' capacity reused, so a connection
// that keeps one Packet decodes without allocating. version is the
// connection's negotiated protocol level; 0 before CONNECT, when only CONNECT
// is valid [MQTT-3.1.0-1] and the CONNECT sets p.Version from its protocol
// level. maxSize > 0 bounds the packet size (ErrPacketTooLarge).
//
// It returns the number of bytes consumed. n==0 && err==nil means b holds
// only part of a packet: read more and call again with the longer buffer.
// All byte slices in p alias b. Errors are the *Error sentinels of this
// package; p is then undefined. Every packet type decodes (so tests and
// tools can use it); which types a server accepts from a client, and a
// second CONNECT [MQTT-3.1.0-2], are the engine's decision.
func Decode(b []byte, version byte, maxSize int, p *Packet) (n int, err error) {
	return decode(b, version, maxSize, p, false)
}

// DecodeFromServer is Decode for packets sent by a server (for clients such
// as the load generator). It differs only in the rules that depend on the
// direction: a PUBLISH may carry Subscription Identifiers.
func DecodeFromServer(b []byte, version byte, maxSize int, p *Packet) (n int, err error) {
	return decode(b, version, maxSize, p, true)
}

// reset zeroes p keeping the capacity of its slices.
func (p *Packet) reset() {
	*p = Packet{
		Props:         Properties{User: p.Props.User[:0], SubscriptionIDs: p.Props.SubscriptionIDs[:0]},
		WillProps:     Properties{User: p.WillProps.User[:0], SubscriptionIDs: p.WillProps.SubscriptionIDs[:0]},
		Subscriptions: p.Subscriptions[:0],
		ReasonCodes:   p.ReasonCodes[:0],
	}
}

// requiredFlags is the fixed header low nibble each type must carry
// [MQTT-2.1.3-1] (3.1.1: MQTT-2.2.2-1). PUBLISH is checked on its own.
var requiredFlags = [16]byte{PUBREL: 0x2, SUBSCRIBE: 0x2, UNSUBSCRIBE: 0x2}

func decode(b []byte, version byte, maxSize int, p *Packet, fromServer bool) (int, error) {
	tf, rem, hl, err := DecodeFixedHeader(b, maxSize)
	if err != nil || hl == 0 {
		return 0, err
	}
	total := hl + rem
	if len(b) < total {
		return 0, nil
	}
	t := PacketType(tf >> 4)
	flags := tf & 0x0F
	p.reset()
	p.Type = t
	p.Flags = flags
	p.Version = version
	if t == 0 || (t == AUTH && version != 0 && version < V5) {
		return 0, ErrReservedType // [MQTT-5.0 §2.1.2] type 0; AUTH is reserved in 3.1.x
	}
	if version == 0 && t != CONNECT {
		return 0, ErrFirstNotConnect // [MQTT-3.1.0-1]
	}
	if t != PUBLISH && flags != requiredFlags[t] {
		return 0, ErrReservedFlags // [MQTT-2.1.3-1]
	}
	body := b[hl:total:total]
	switch t {
	case CONNECT:
		err = p.decodeConnect(body)
	case CONNACK:
		err = p.decodeConnack(body)
	case PUBLISH:
		err = p.decodePublish(body, fromServer)
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		err = p.decodeAck(body)
	case SUBSCRIBE:
		err = p.decodeSubscribe(body)
	case SUBACK:
		err = p.decodeSuback(body)
	case UNSUBSCRIBE:
		err = p.decodeUnsubscribe(body)
	case UNSUBACK:
		err = p.decodeUnsuback(body)
	case PINGREQ, PINGRESP:
		if rem != 0 {
			err = ErrTrailingBytes // [MQTT-5.0 §3.12, §3.13] no variable header or payload
		}
	case DISCONNECT, AUTH:
		err = p.decodeReasonOnly(body)
	}
	if err != nil {
		return 0, err
	}
	return total, nil
}

func (p *Packet) decodeConnect(b []byte) error {
	name, i, ok := readBytes(b, 0)
	if !ok || i >= len(b) {
		return ErrTruncated
	}
	level := b[i]
	i++
	switch string(name) {
	case "MQTT":
		if level != V311 && level != V5 {
			return ErrUnsupportedVersion // [MQTT-3.1.2-2]
		}
	case "MQIsdp":
		if level != V31 {
			return ErrUnsupportedVersion // [MQTT-3.1.2-2]
		}
	default:
		return ErrProtocolName // [MQTT-3.1.2-1]
	}
	p.ProtocolName = name
	p.Version = level
	if len(b)-i < 3 {
		return ErrTruncated
	}
	f := b[i]
	p.KeepAlive = binary.BigEndian.Uint16(b[i+1:])
	i += 3
	if f&0x01 != 0 {
		return ErrConnectReserved // [MQTT-3.1.2-3]
	}
	p.CleanStart = f&0x02 != 0
	p.WillFlag = f&0x04 != 0
	p.WillQoS = (f >> 3) & 0x03
	p.WillRetain = f&0x20 != 0
	p.PasswordFlag = f&0x40 != 0
	p.UsernameFlag = f&0x80 != 0
	if !p.WillFlag {
		if p.WillQoS != 0 {
			return ErrWillQoSWithoutWill // [MQTT-3.1.2-11] (3.1.1: MQTT-3.1.2-13)
		}
		if p.WillRetain {
			return ErrWillRetainNoWill // [MQTT-3.1.2-13] (3.1.1: MQTT-3.1.2-15)
		}
	} else if p.WillQoS == 3 {
		return ErrWillQoS3 // [MQTT-3.1.2-12] (3.1.1: MQTT-3.1.2-14)
	}
	if level < V5 && p.PasswordFlag && !p.UsernameFlag {
		return ErrPasswordNoUsername // [MQTT-3.1.2-22] (v5 allows it)
	}
	if level == V5 {
		n, err := decodeProperties(b[i:], ctxOf(CONNECT), &p.Props)
		if err != nil {
			return err
		}
		i += n
	}
	if p.ClientID, i, ok = readBytes(b, i); !ok {
		return ErrTruncated
	}
	if ValidUTF8(p.ClientID) != nil {
		return ErrClientIDInvalid // [MQTT-3.1.3-4]
	}
	if p.WillFlag {
		if level == V5 {
			n, err := decodeProperties(b[i:], ctxWill, &p.WillProps)
			if err != nil {
				return err
			}
			i += n
		}
		if p.WillTopic, i, ok = readBytes(b, i); !ok {
			return ErrTruncated
		}
		if err := ValidTopicName(p.WillTopic); err != nil {
			return err // [MQTT-3.1.3-11] [MQTT-3.3.2-2]
		}
		if p.WillPayload, i, ok = readBytes(b, i); !ok {
			return ErrTruncated
		}
	}
	if p.UsernameFlag {
		if p.Username, i, ok = readBytes(b, i); !ok {
			return ErrTruncated
		}
		if err := ValidUTF8(p.Username); err != nil {
			return err // [MQTT-3.1.3-12]
		}
	}
	if p.PasswordFlag {
		if p.Password, i, ok = readBytes(b, i); !ok {
			return ErrTruncated
		}
	}
	if i != len(b) {
		return ErrTrailingBytes
	}
	return nil
}

func (p *Packet) decodeConnack(b []byte) error {
	if len(b) < 2 {
		return ErrTruncated
	}
	if p.Version != V31 { // in 3.1 the first byte is unused
		if b[0]&0xFE != 0 {
			return ErrConnackReserved // [MQTT-5.0 §3.2.2.1] (3.1.1 §3.2.2.1)
		}
		p.SessionPresent = b[0]&0x01 != 0
	}
	p.ReasonCode = b[1]
	if p.Version < V5 {
		if p.ReasonCode > ConnRefusedNotAuthorized {
			return ErrInvalidReason // [MQTT-3.2.2.3] return codes 0..5
		}
		if len(b) != 2 {
			return ErrTrailingBytes
		}
		return nil
	}
	if !validReason(CONNACK, p.ReasonCode) {
		return ErrInvalidReason // [MQTT-5.0 §3.2.2.2]
	}
	if len(b) == 2 { // tolerated: no property block
		return nil
	}
	n, err := decodeProperties(b[2:], ctxOf(CONNACK), &p.Props)
	if err != nil {
		return err
	}
	if 2+n != len(b) {
		return ErrTrailingBytes
	}
	return nil
}

func (p *Packet) decodePublish(b []byte, fromServer bool) error {
	f := p.Flags
	p.Dup = f&0x08 != 0
	p.QoS = (f >> 1) & 0x03
	p.Retain = f&0x01 != 0
	if p.QoS == 3 {
		return ErrQoS3 // [MQTT-3.3.1-4]
	}
	if p.Dup && p.QoS == 0 {
		return ErrDupQoS0 // [MQTT-3.3.1-2]
	}
	topic, i, ok := readBytes(b, 0)
	if !ok {
		return ErrTruncated
	}
	p.Topic = topic
	if len(topic) > 0 || p.Version < V5 {
		if err := ValidTopicName(topic); err != nil {
			return err // [MQTT-3.3.2-2] [MQTT-4.7.3-1] [MQTT-1.5.4-1]
		}
	}
	if p.QoS > 0 {
		if len(b)-i < 2 {
			return ErrTruncated
		}
		p.PacketID = binary.BigEndian.Uint16(b[i:])
		i += 2
		if p.PacketID == 0 {
			return ErrPacketIDZero // [MQTT-2.2.1-3] (3.1.1: MQTT-2.3.1-1)
		}
	}
	if p.Version >= V5 {
		n, err := decodeProperties(b[i:], ctxOf(PUBLISH), &p.Props)
		if err != nil {
			return err
		}
		i += n
		if len(topic) == 0 && p.Props.Present&(1<<PropTopicAlias) == 0 {
			return ErrTopicMissing // [MQTT-3.3.2-1] empty topic needs a Topic Alias
		}
		if !fromServer && len(p.Props.SubscriptionIDs) > 0 {
			return ErrPublishSubscriptionID // [MQTT-3.3.4-6]
		}
	}
	p.Payload = b[i:]
	return nil
}

func (p *Packet) decodeAck(b []byte) error {
	if err := p.readPacketID(b); err != nil {
		return err
	}
	if p.Version < V5 {
		if len(b) != 2 {
			return ErrTrailingBytes
		}
		return nil
	}
	if len(b) == 2 {
		return nil // reason 0, no properties [MQTT-5.0 §3.4.2.1]
	}
	p.ReasonCode = b[2]
	if !validReason(p.Type, p.ReasonCode) {
		return ErrInvalidReason // [MQTT-5.0 §3.4.2.1, §3.5.2.1, §3.6.2.1, §3.7.2.1]
	}
	if len(b) == 3 {
		return nil // no properties [MQTT-5.0 §3.4.2.2.1]
	}
	n, err := decodeProperties(b[3:], ctxOf(p.Type), &p.Props)
	if err != nil {
		return err
	}
	if 3+n != len(b) {
		return ErrTrailingBytes
	}
	return nil
}

// readPacketID reads the packet identifier at the start of b; 0 is not a
// valid identifier [MQTT-2.2.1-3] (3.1.1: MQTT-2.3.1-1).
func (p *Packet) readPacketID(b []byte) error {
	if len(b) < 2 {
		return ErrTruncated
	}
	p.PacketID = binary.BigEndian.Uint16(b)
	if p.PacketID == 0 {
		return ErrPacketIDZero // [MQTT-2.2.1-3]
	}
	return nil
}

// decodeIDAndProps reads the packet identifier and (v5) the properties that
// start SUBSCRIBE and UNSUBSCRIBE, and returns where the payload begins.
func (p *Packet) decodeIDAndProps(b []byte) (int, error) {
	if err := p.readPacketID(b); err != nil {
		return 0, err
	}
	i := 2
	if p.Version >= V5 {
		n, err := decodeProperties(b[i:], ctxOf(p.Type), &p.Props)
		if err != nil {
			return 0, err
		}
		i += n
	}
	return i, nil
}

func (p *Packet) decodeSubscribe(b []byte) error {
	i, err := p.decodeIDAndProps(b)
	if err != nil {
		return err
	}
	if i == len(b) {
		return ErrSubscribeEmpty // [MQTT-3.8.3-2] (3.1.1: MQTT-3.8.3-3)
	}
	for i < len(b) {
		f, j, ok := readBytes(b, i)
		if !ok || j >= len(b) {
			return ErrTruncated
		}
		o := b[j]
		i = j + 1
		s := Subscription{Filter: f, QoS: o & 0x03}
		if s.QoS == 3 {
			return ErrSubscribeQoS3 // [MQTT-5.0 §3.8.3.1] (3.1.1: MQTT-3-8.3-4)
		}
		if p.Version < V5 {
			if o&0xFC != 0 {
				return ErrSubscribeReserved // (3.1.1: MQTT-3-8.3-4) only QoS bits
			}
		} else {
			if o&0xC0 != 0 {
				return ErrSubscribeReserved // [MQTT-3.8.3-5]
			}
			s.NoLocal = o&0x04 != 0
			s.RetainAsPublished = o&0x08 != 0
			s.RetainHandling = (o >> 4) & 0x03
			if s.RetainHandling == 3 {
				return ErrRetainHandling // [MQTT-5.0 §3.8.3.1]
			}
		}
		if err := ValidTopicFilter(f); err != nil {
			return err // [MQTT-3.8.3-1] [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.8.2-1] [MQTT-4.8.2-2]
		}
		if s.NoLocal {
			if _, _, shared := IsShared(f); shared {
				return ErrSharedNoLocal // [MQTT-3.8.3-4]
			}
		}
		p.Subscriptions = append(p.Subscriptions, s)
	}
	return nil
}

func (p *Packet) decodeUnsubscribe(b []byte) error {
	i, err := p.decodeIDAndProps(b)
	if err != nil {
		return err
	}
	if i == len(b) {
		return ErrUnsubscribeEmpty // [MQTT-3.10.3-2]
	}
	for i < len(b) {
		f, j, ok := readBytes(b, i)
		if !ok {
			return ErrTruncated
		}
		i = j
		if err := ValidTopicFilter(f); err != nil {
			return err // [MQTT-3.10.3-1]
		}
		p.Subscriptions = append(p.Subscriptions, Subscription{Filter: f})
	}
	return nil
}

func (p *Packet) decodeSuback(b []byte) error {
	if err := p.readPacketID(b); err != nil {
		return err
	}
	i := 2
	if p.Version >= V5 {
		n, err := decodeProperties(b[i:], ctxOf(SUBACK), &p.Props)
		if err != nil {
			return err
		}
		i += n
	}
	if i == len(b) {
		return ErrTruncated // one reason code per filter, at least one [MQTT-5.0 §3.9.3]
	}
	for _, c := range b[i:] {
		if !validReasonV(SUBACK, p.Version, c) {
			return ErrInvalidReason // [MQTT-5.0 §3.9.3] (3.1.1: MQTT-3.9.3-2)
		}
	}
	p.ReasonCodes = append(p.ReasonCodes, b[i:]...)
	return nil
}

func (p *Packet) decodeUnsuback(b []byte) error {
	if err := p.readPacketID(b); err != nil {
		return err
	}
	if p.Version < V5 {
		if len(b) != 2 {
			return ErrTrailingBytes // 3.1.x UNSUBACK has no payload
		}
		return nil
	}
	n, err := decodeProperties(b[2:], ctxOf(UNSUBACK), &p.Props)
	if err != nil {
		return err
	}
	i := 2 + n
	if i == len(b) {
		return ErrTruncated // one reason code per filter, at least one [MQTT-5.0 §3.11.3]
	}
	for _, c := range b[i:] {
		if !validReason(UNSUBACK, c) {
			return ErrInvalidReason // [MQTT-5.0 §3.11.3]
		}
	}
	p.ReasonCodes = append(p.ReasonCodes, b[i:]...)
	return nil
}

// decodeReasonOnly decodes DISCONNECT and AUTH: in 3.1.x DISCONNECT has no
// body; in v5 both carry an optional reason code and property block.
func (p *Packet) decodeReasonOnly(b []byte) error {
	if p.Version < V5 {
		if len(b) != 0 {
			return ErrTrailingBytes // 3.1.1 §3.14: DISCONNECT has no variable header or payload
		}
		return nil
	}
	if len(b) == 0 {
		return nil // reason 0x00, no properties [MQTT-5.0 §3.14.2.1, §3.15.2.1]
	}
	p.ReasonCode = b[0]
	if !validReason(p.Type, p.ReasonCode) {
		return ErrInvalidReason // [MQTT-5.0 §3.14.2.1, §3.15.2.1]
	}
	if len(b) == 1 {
		return nil
	}
	n, err := decodeProperties(b[1:], ctxOf(p.Type), &p.Props)
	if err != nil {
		return err
	}
	if 1+n != len(b) {
		return ErrTrailingBytes
	}
	return nil
}

// reasonSet is a 256-bit set of reason codes.
type reasonSet [4]uint64

func (s reasonSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }

func mkReasons(cs ...byte) reasonSet {
	var s reasonSet
	for _, c := range cs {
		s[c>>6] |= 1 << (c & 63)
	}
	return s
}

// validReasons lists the v5 reason codes each packet type may carry
// [MQTT-5.0 §2.4 Table 2-6].
var validReasons = [16]reasonSet{
	CONNACK: mkReasons(0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C,
		0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F),
	PUBACK:   mkReasons(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99),
	PUBREC:   mkReasons(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99),
	PUBREL:   mkReasons(0x00, 0x92),
	PUBCOMP:  mkReasons(0x00, 0x92),
	SUBACK:   mkReasons(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2),
	UNSUBACK: mkReasons(0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91),
	DISCONNECT: mkReasons(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F,
		0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2),
	AUTH: mkReasons(0x00, 0x18, 0x19),
}

var subackV3 = mkReasons(0x00, 0x01, 0x02, 0x80)

func validReason(t PacketType, c byte) bool { return validReasons[t].has(c) }

func validReasonV(t PacketType, v byte, c byte) bool {
	if t == SUBACK && v < V5 {
		return subackV3.has(c) // 3.1.1 [MQTT-3.9.3-2]; 3.1 has no 0x80 but clients accept it
	}
	return validReasons[t].has(c)
}
