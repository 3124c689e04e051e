package codec

import (
	"encoding/binary"
	"math/bits"
)

// Property contexts: bit 1<<PacketType for each packet type, bit 0 for the
// will properties of a CONNECT.
const (
	ctxWill uint16 = 1 << 0
	ctxAll  uint16 = 0xFFFF
)

func ctxOf(t PacketType) uint16 { return 1 << t }

// Property value kinds.
const (
	kByte = iota + 1
	kUint16
	kUint32
	kVarint
	kString // UTF-8 string
	kBinary
	kPair // UTF-8 string pair
)

type propInfo struct {
	kind    uint8
	allowed uint16 // contexts the property may appear in [MQTT-5.0 §2.2.2.2 Table 2-4]
}

func ctx(ts ...PacketType) uint16 {
	var m uint16
	for _, t := range ts {
		m |= 1 << t
	}
	return m
}

var propTable = [64]propInfo{
	PropPayloadFormat:        {kByte, ctx(PUBLISH) | ctxWill},
	PropMessageExpiry:        {kUint32, ctx(PUBLISH) | ctxWill},
	PropContentType:          {kString, ctx(PUBLISH) | ctxWill},
	PropResponseTopic:        {kString, ctx(PUBLISH) | ctxWill},
	PropCorrelationData:      {kBinary, ctx(PUBLISH) | ctxWill},
	PropSubscriptionID:       {kVarint, ctx(PUBLISH, SUBSCRIBE)},
	PropSessionExpiry:        {kUint32, ctx(CONNECT, CONNACK, DISCONNECT)},
	PropAssignedClientID:     {kString, ctx(CONNACK)},
	PropServerKeepAlive:      {kUint16, ctx(CONNACK)},
	PropAuthMethod:           {kString, ctx(CONNECT, CONNACK, AUTH)},
	PropAuthData:             {kBinary, ctx(CONNECT, CONNACK, AUTH)},
	PropRequestProblemInfo:   {kByte, ctx(CONNECT)},
	PropWillDelay:            {kUint32, ctxWill},
	PropRequestResponseInfo:  {kByte, ctx(CONNECT)},
	PropResponseInfo:         {kString, ctx(CONNACK)},
	PropServerReference:      {kString, ctx(CONNACK, DISCONNECT)},
	PropReasonString:         {kString, ctx(CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH)},
	PropReceiveMaximum:       {kUint16, ctx(CONNECT, CONNACK)},
	PropTopicAliasMaximum:    {kUint16, ctx(CONNECT, CONNACK)},
	PropTopicAlias:           {kUint16, ctx(PUBLISH)},
	PropMaximumQoS:           {kByte, ctx(CONNACK)},
	PropRetainAvailable:      {kByte, ctx(CONNACK)},
	PropUser:                 {kPair, ctxAll},
	PropMaximumPacketSize:    {kUint32, ctx(CONNECT, CONNACK)},
	PropWildcardSubAvailable: {kByte, ctx(CONNACK)},
	PropSubIDAvailable:       {kByte, ctx(CONNACK)},
	PropSharedSubAvailable:   {kByte, ctx(CONNACK)},
}

// Reset zeroes p but keeps the capacity of User and SubscriptionIDs.
func (p *Properties) Reset() {
	*p = Properties{User: p.User[:0], SubscriptionIDs: p.SubscriptionIDs[:0]}
}

// Clone returns a copy of p whose byte slices (including user properties)
// live in one backing array of their own, so it outlives the read buffer.
// User and SubscriptionIDs get their own slices.
func (p *Properties) Clone() Properties {
	c := *p
	n := len(p.ContentType) + len(p.ResponseTopic) + len(p.CorrelationData) +
		len(p.AssignedClientID) + len(p.AuthMethod) + len(p.AuthData) +
		len(p.ResponseInfo) + len(p.ServerReference) + len(p.ReasonString)
	for _, u := range p.User {
		n += len(u.Key) + len(u.Value)
	}
	buf := make([]byte, 0, n)
	cp := func(s []byte) []byte {
		if s == nil {
			return nil
		}
		start := len(buf)
		buf = append(buf, s...)
		return buf[start:len(buf):len(buf)]
	}
	c.ContentType = cp(p.ContentType)
	c.ResponseTopic = cp(p.ResponseTopic)
	c.CorrelationData = cp(p.CorrelationData)
	c.AssignedClientID = cp(p.AssignedClientID)
	c.AuthMethod = cp(p.AuthMethod)
	c.AuthData = cp(p.AuthData)
	c.ResponseInfo = cp(p.ResponseInfo)
	c.ServerReference = cp(p.ServerReference)
	c.ReasonString = cp(p.ReasonString)
	c.User = nil
	if len(p.User) > 0 {
		c.User = make([]UserProperty, len(p.User))
		for i, u := range p.User {
			c.User[i] = UserProperty{Key: cp(u.Key), Value: cp(u.Value)}
		}
	}
	c.SubscriptionIDs = nil
	if len(p.SubscriptionIDs) > 0 {
		c.SubscriptionIDs = append([]uint32(nil), p.SubscriptionIDs...)
	}
	return c
}

// decodeProperties parses a property block (length varint + properties) at
// b[0:] for context cx into p, which must be Reset. It returns the bytes
// consumed. b is the rest of the packet, so running out is malformed.
func decodeProperties(b []byte, cx uint16, p *Properties) (int, error) {
	plen, n, err := readVarint(b)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, ErrTruncated
	}
	if plen > len(b)-n {
		return 0, ErrTruncated
	}
	end := n + plen
	i := n
	for i < end {
		id := b[i]
		i++
		if id >= 64 || propTable[id].allowed&cx == 0 {
			return 0, ErrUnknownProperty // [MQTT-5.0 §2.2.2.2] not valid for this packet
		}
		bit := uint64(1) << id
		if p.Present&bit != 0 && id != PropUser && !(id == PropSubscriptionID && cx&ctxOf(PUBLISH) != 0) {
			return 0, ErrDuplicateProperty // [MQTT-5.0 §2.2.2.2]
		}
		p.Present |= bit
		switch propTable[id].kind {
		case kByte:
			if i >= end {
				return 0, ErrTruncated
			}
			v := b[i]
			i++
			if v > 1 {
				return 0, ErrPropertyValue // 0 or 1 only [MQTT-5.0 §3.1.2.11.6, §3.1.2.11.7, §3.2.2.3.4, §3.3.2.3.2]
			}
			switch id {
			case PropPayloadFormat:
				p.PayloadFormat = v
			case PropRequestProblemInfo:
				p.RequestProblemInfo = v
			case PropRequestResponseInfo:
				p.RequestResponseInfo = v
			case PropMaximumQoS:
				p.MaximumQoS = v
			case PropRetainAvailable:
				p.RetainAvailable = v
			case PropWildcardSubAvailable:
				p.WildcardSubAvailable = v
			case PropSubIDAvailable:
				p.SubIDAvailable = v
			case PropSharedSubAvailable:
				p.SharedSubAvailable = v
			}
		case kUint16:
			if end-i < 2 {
				return 0, ErrTruncated
			}
			v := binary.BigEndian.Uint16(b[i:])
			i += 2
			switch id {
			case PropServerKeepAlive:
				p.ServerKeepAlive = v
			case PropReceiveMaximum:
				if v == 0 {
					return 0, ErrReceiveMaxZero // [MQTT-5.0 §3.1.2.11.3]
				}
				p.ReceiveMaximum = v
			case PropTopicAliasMaximum:
				p.TopicAliasMaximum = v
			case PropTopicAlias:
				if v == 0 {
					return 0, ErrTopicAliasZero // [MQTT-3.3.2-8]
				}
				p.TopicAlias = v
			}
		case kUint32:
			if end-i < 4 {
				return 0, ErrTruncated
			}
			v := binary.BigEndian.Uint32(b[i:])
			i += 4
			switch id {
			case PropMessageExpiry:
				p.MessageExpiry = v
			case PropSessionExpiry:
				p.SessionExpiry = v
			case PropWillDelay:
				p.WillDelay = v
			case PropMaximumPacketSize:
				if v == 0 {
					return 0, ErrMaxPacketSizeZero // [MQTT-5.0 §3.1.2.11.4]
				}
				p.MaximumPacketSize = v
			}
		case kVarint: // only the subscription identifier
			v, m, err := readVarint(b[i:end])
			if err != nil {
				return 0, err
			}
			if m == 0 {
				return 0, ErrTruncated
			}
			i += m
			if v == 0 {
				return 0, ErrSubscriptionID0 // [MQTT-5.0 §3.8.2.1.2, §3.3.2.3.8]
			}
			p.SubscriptionIDs = append(p.SubscriptionIDs, uint32(v))
		case kString, kBinary:
			s, j, ok := readBytes(b[:end], i)
			if !ok {
				return 0, ErrTruncated
			}
			i = j
			if propTable[id].kind == kString {
				if err := ValidUTF8(s); err != nil {
					return 0, err // [MQTT-1.5.4-1] [MQTT-1.5.4-2]
				}
			}
			switch id {
			case PropContentType:
				p.ContentType = s
			case PropResponseTopic:
				if ValidTopicName(s) != nil {
					return 0, ErrResponseTopic // [MQTT-3.3.2-14]
				}
				p.ResponseTopic = s
			case PropCorrelationData:
				p.CorrelationData = s
			case PropAssignedClientID:
				p.AssignedClientID = s
			case PropAuthMethod:
				p.AuthMethod = s
			case PropAuthData:
				p.AuthData = s
			case PropResponseInfo:
				p.ResponseInfo = s
			case PropServerReference:
				p.ServerReference = s
			case PropReasonString:
				p.ReasonString = s
			}
		case kPair:
			k, j, ok := readBytes(b[:end], i)
			if !ok {
				return 0, ErrTruncated
			}
			v, j, ok := readBytes(b[:end], j)
			if !ok {
				return 0, ErrTruncated
			}
			i = j
			if err := ValidUTF8(k); err != nil {
				return 0, err // [MQTT-1.5.7-1]
			}
			if err := ValidUTF8(v); err != nil {
				return 0, err // [MQTT-1.5.7-1]
			}
			p.User = append(p.User, UserProperty{Key: k, Value: v})
		}
	}
	return end, nil
}

// readBytes reads a two-byte length prefixed field at b[i:].
func readBytes(b []byte, i int) (s []byte, next int, ok bool) {
	if len(b)-i < 2 {
		return nil, 0, false
	}
	n := int(binary.BigEndian.Uint16(b[i:]))
	i += 2
	if len(b)-i < n {
		return nil, 0, false
	}
	return b[i : i+n : i+n], i + n, true
}

// encMask is the set of properties of p to encode in context cx: those whose
// Present bit is set, plus User and SubscriptionIDs when non-empty.
func encMask(p *Properties, cx uint16) uint64 {
	if p == nil {
		return 0
	}
	m := p.Present &^ (1<<PropUser | 1<<PropSubscriptionID)
	if len(p.User) > 0 {
		m |= 1 << PropUser
	}
	if len(p.SubscriptionIDs) > 0 {
		m |= 1 << PropSubscriptionID
	}
	if cx == ctxAll {
		return m & allPropsMask
	}
	return m & allowedMask[bits.TrailingZeros16(cx)]
}

var allPropsMask uint64

// allowedMask[c] is the set of property ids valid in context bit c.
var allowedMask [16]uint64

func init() {
	for id, pi := range propTable {
		if pi.kind == 0 {
			continue
		}
		allPropsMask |= 1 << id
		for c := 0; c < 16; c++ {
			if pi.allowed&(1<<c) != 0 {
				allowedMask[c] |= 1 << id
			}
		}
	}
}

// propsLen is the length of the properties (without the length prefix).
func propsLen(p *Properties, m uint64) int {
	n := 0
	for m != 0 {
		id := byte(bits.TrailingZeros64(m))
		m &= m - 1
		switch propTable[id].kind {
		case kByte:
			n += 2
		case kUint16:
			n += 3
		case kUint32:
			n += 5
		case kVarint:
			for _, v := range p.SubscriptionIDs {
				n += 1 + VarintSize(int(v))
			}
		case kString, kBinary:
			n += 3 + len(propBytes(p, id))
		case kPair:
			for _, u := range p.User {
				n += 5 + len(u.Key) + len(u.Value)
			}
		}
	}
	return n
}

func propBytes(p *Properties, id byte) []byte {
	switch id {
	case PropContentType:
		return p.ContentType
	case PropResponseTopic:
		return p.ResponseTopic
	case PropCorrelationData:
		return p.CorrelationData
	case PropAssignedClientID:
		return p.AssignedClientID
	case PropAuthMethod:
		return p.AuthMethod
	case PropAuthData:
		return p.AuthData
	case PropResponseInfo:
		return p.ResponseInfo
	case PropServerReference:
		return p.ServerReference
	case PropReasonString:
		return p.ReasonString
	}
	return nil
}

func propByte(p *Properties, id byte) byte {
	switch id {
	case PropPayloadFormat:
		return p.PayloadFormat
	case PropRequestProblemInfo:
		return p.RequestProblemInfo
	case PropRequestResponseInfo:
		return p.RequestResponseInfo
	case PropMaximumQoS:
		return p.MaximumQoS
	case PropRetainAvailable:
		return p.RetainAvailable
	case PropWildcardSubAvailable:
		return p.WildcardSubAvailable
	case PropSubIDAvailable:
		return p.SubIDAvailable
	case PropSharedSubAvailable:
		return p.SharedSubAvailable
	}
	return 0
}

func propUint(p *Properties, id byte) uint32 {
	switch id {
	case PropServerKeepAlive:
		return uint32(p.ServerKeepAlive)
	case PropReceiveMaximum:
		return uint32(p.ReceiveMaximum)
	case PropTopicAliasMaximum:
		return uint32(p.TopicAliasMaximum)
	case PropTopicAlias:
		return uint32(p.TopicAlias)
	case PropMessageExpiry:
		return p.MessageExpiry
	case PropSessionExpiry:
		return p.SessionExpiry
	case PropWillDelay:
		return p.WillDelay
	case PropMaximumPacketSize:
		return p.MaximumPacketSize
	}
	return 0
}

// appendProps appends the property block (length prefix included) for mask m.
func appendProps(dst []byte, p *Properties, m uint64) []byte {
	if m == 0 {
		return append(dst, 0)
	}
	dst = AppendVarint(dst, propsLen(p, m))
	for m != 0 {
		id := byte(bits.TrailingZeros64(m))
		m &= m - 1
		switch propTable[id].kind {
		case kByte:
			dst = append(dst, id, propByte(p, id))
		case kUint16:
			v := propUint(p, id)
			dst = append(dst, id, byte(v>>8), byte(v))
		case kUint32:
			dst = append(dst, id)
			dst = binary.BigEndian.AppendUint32(dst, propUint(p, id))
		case kVarint:
			for _, v := range p.SubscriptionIDs {
				dst = append(dst, id)
				dst = AppendVarint(dst, int(v))
			}
		case kString, kBinary:
			dst = append(dst, id)
			dst = appendBytes(dst, propBytes(p, id))
		case kPair:
			for _, u := range p.User {
				dst = append(dst, id)
				dst = appendBytes(dst, u.Key)
				dst = appendBytes(dst, u.Value)
			}
		}
	}
	return dst
}

func appendBytes(dst, s []byte) []byte {
	dst = append(dst, byte(len(s)>>8), byte(len(s)))
	return append(dst, s...)
}

func appendString(dst []byte, s string) []byte {
	dst = append(dst, byte(len(s)>>8), byte(len(s)))
	return append(dst, s...)
}

// AppendProperties appends the v5 property block of p (length varint and
// every present property, in identifier order). A property is written when
// its Present bit is set; User and SubscriptionIDs when non-empty. p may be
// nil (an empty block, one 0 byte).
func AppendProperties(dst []byte, p *Properties) []byte {
	return appendProps(dst, p, encMask(p, ctxAll))
}

// PropertiesSize is the size of the block AppendProperties writes, length
// prefix included.
func PropertiesSize(p *Properties) int {
	return propsBlockSize(p, encMask(p, ctxAll))
}

func propsBlockSize(p *Properties, m uint64) int {
	if m == 0 {
		return 1
	}
	n := propsLen(p, m)
	return VarintSize(n) + n
}
