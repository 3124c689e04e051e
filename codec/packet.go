package codec

// Protocol levels as carried in the CONNECT packet.
const (
	V31  byte = 3 // MQTT 3.1, protocol name "MQIsdp"
	V311 byte = 4 // MQTT 3.1.1, protocol name "MQTT"
	V5   byte = 5 // MQTT 5.0, protocol name "MQTT"
)

// PacketType is the control packet type from the high nibble of the fixed header.
type PacketType byte

// Control packet types [MQTT-2.1.2].
const (
	CONNECT     PacketType = 1
	CONNACK     PacketType = 2
	PUBLISH     PacketType = 3
	PUBACK      PacketType = 4
	PUBREC      PacketType = 5
	PUBREL      PacketType = 6
	PUBCOMP     PacketType = 7
	SUBSCRIBE   PacketType = 8
	SUBACK      PacketType = 9
	UNSUBSCRIBE PacketType = 10
	UNSUBACK    PacketType = 11
	PINGREQ     PacketType = 12
	PINGRESP    PacketType = 13
	DISCONNECT  PacketType = 14
	AUTH        PacketType = 15
)

// UserProperty is one v5 user property; both fields alias the decoded buffer.
type UserProperty struct {
	Key, Value []byte
}

// Properties holds the v5 properties of a packet (or of a will). Byte-slice
// fields alias the buffer the packet was decoded from: copy them (Clone)
// before the buffer is released. Which properties were present is recorded in
// Present, one bit per property identifier (Present&(1<<PropTopicAlias) != 0).
type Properties struct {
	Present uint64

	PayloadFormat        byte
	MessageExpiry        uint32
	ContentType          []byte
	ResponseTopic        []byte
	CorrelationData      []byte
	SubscriptionIDs      []uint32 // PUBLISH may carry several; SUBSCRIBE at most one
	SessionExpiry        uint32
	AssignedClientID     []byte
	ServerKeepAlive      uint16
	AuthMethod           []byte
	AuthData             []byte
	RequestProblemInfo   byte
	WillDelay            uint32
	RequestResponseInfo  byte
	ResponseInfo         []byte
	ServerReference      []byte
	ReasonString         []byte
	ReceiveMaximum       uint16
	TopicAliasMaximum    uint16
	TopicAlias           uint16
	MaximumQoS           byte
	RetainAvailable      byte
	User                 []UserProperty
	MaximumPacketSize    uint32
	WildcardSubAvailable byte
	SubIDAvailable       byte
	SharedSubAvailable   byte
}

// Property identifiers [MQTT-2.2.2.2].
const (
	PropPayloadFormat        byte = 0x01
	PropMessageExpiry        byte = 0x02
	PropContentType          byte = 0x03
	PropResponseTopic        byte = 0x08
	PropCorrelationData      byte = 0x09
	PropSubscriptionID       byte = 0x0B
	PropSessionExpiry        byte = 0x11
	PropAssignedClientID     byte = 0x12
	PropServerKeepAlive      byte = 0x13
	PropAuthMethod           byte = 0x15
	PropAuthData             byte = 0x16
	PropRequestProblemInfo   byte = 0x17
	PropWillDelay            byte = 0x18
	PropRequestResponseInfo  byte = 0x19
	PropResponseInfo         byte = 0x1A
	PropServerReference      byte = 0x1C
	PropReasonString         byte = 0x1F
	PropReceiveMaximum       byte = 0x21
	PropTopicAliasMaximum    byte = 0x22
	PropTopicAlias           byte = 0x23
	PropMaximumQoS           byte = 0x24
	PropRetainAvailable      byte = 0x25
	PropUser                 byte = 0x26
	PropMaximumPacketSize    byte = 0x27
	PropWildcardSubAvailable byte = 0x28
	PropSubIDAvailable       byte = 0x29
	PropSharedSubAvailable   byte = 0x2A
)

// Has reports whether property id was present.
func (p *Properties) Has(id byte) bool { return p.Present&(1<<id) != 0 }

// Subscription is one topic filter of a SUBSCRIBE (or UNSUBSCRIBE, where only
// Filter is set). Filter aliases the decoded buffer.
type Subscription struct {
	Filter            []byte
	QoS               byte
	NoLocal           bool // v5
	RetainAsPublished bool // v5
	RetainHandling    byte // v5: 0 send retained, 1 only if new, 2 never
}

// Packet is one MQTT control packet of any type. Decode fills it in place
// and reuses its slices' capacity, so a connection keeps one Packet and
// decodes every inbound packet into it without allocating. Byte-slice fields
// alias the decoded buffer and are valid only until that buffer is reused.
type Packet struct {
	Type    PacketType
	Flags   byte // low nibble of the fixed header as received
	Version byte // protocol level the packet was decoded with or is encoded for

	// PUBLISH
	Dup      bool
	QoS      byte
	Retain   bool
	Topic    []byte
	PacketID uint16 // also PUBACK..PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK
	Payload  []byte

	// Properties of any v5 packet.
	Props Properties

	// CONNECT
	ProtocolName []byte
	CleanStart   bool // Clean Session in 3.1.x
	KeepAlive    uint16
	ClientID     []byte
	WillFlag     bool
	WillQoS      byte
	WillRetain   bool
	WillProps    Properties
	WillTopic    []byte
	WillPayload  []byte
	UsernameFlag bool
	Username     []byte
	PasswordFlag bool
	Password     []byte

	// CONNACK
	SessionPresent bool

	// ReasonCode: CONNACK return/reason code; v5 reason code of PUBACK,
	// PUBREC, PUBREL, PUBCOMP, DISCONNECT and AUTH.
	ReasonCode byte

	// SUBSCRIBE, UNSUBSCRIBE
	Subscriptions []Subscription
	// SUBACK, UNSUBACK (v5 UNSUBACK carries reason codes; 3.1.1 none)
	ReasonCodes []byte
}
