package codec

// Sentinel errors returned by Decode and the validation helpers. Each is a
// distinct *Error so callers can errors.Is them; Code is the v5 reason code
// the server answers with (CONNACK during CONNECT, DISCONNECT afterwards).
// For 3.1.x connections the engine simply closes the connection (or maps
// CONNACK codes with ConnackCodeV3).
var (
	// Fixed header.
	ErrMalformedLength = &Error{MalformedPacket, "MQTT-1.5.5-1", "malformed variable byte integer (more than 4 bytes or not minimal)"}
	ErrPacketTooLarge  = &Error{PacketTooLarge, "MQTT-5.0 §3.2.2.3.6", "packet exceeds maximum packet size"}
	ErrReservedType    = &Error{MalformedPacket, "MQTT-5.0 §2.1.2", "reserved control packet type"}
	ErrReservedFlags   = &Error{MalformedPacket, "MQTT-2.1.3-1", "invalid fixed header flags"} // 3.1.1: MQTT-2.2.2-1
	ErrFirstNotConnect = &Error{ProtocolError, "MQTT-3.1.0-1", "first packet is not CONNECT"}
	ErrTruncated       = &Error{MalformedPacket, "MQTT-5.0 §2.1.4", "field runs past the end of the packet"}
	ErrTrailingBytes   = &Error{MalformedPacket, "MQTT-5.0 §2.1.4", "unexpected bytes after the end of the packet"}
	ErrInvalidUTF8     = &Error{MalformedPacket, "MQTT-1.5.4-1", "string is not well-formed UTF-8"} // 3.1.1: MQTT-1.5.3-1
	ErrNullCharacter   = &Error{MalformedPacket, "MQTT-1.5.4-2", "string contains U+0000"}          // 3.1.1: MQTT-1.5.3-2
	ErrInvalidReason   = &Error{ProtocolError, "MQTT-5.0 §2.4", "reason code not valid for this packet type"}
	ErrPacketIDZero    = &Error{ProtocolError, "MQTT-2.2.1-3", "packet identifier must be non-zero"} // 3.1.1: MQTT-2.3.1-1
	ErrConnackReserved = &Error{MalformedPacket, "MQTT-5.0 §3.2.2.1", "CONNACK acknowledge flags reserved bits set"}

	// CONNECT.
	ErrProtocolName       = &Error{ProtocolError, "MQTT-3.1.2-1", "unknown protocol name"}
	ErrUnsupportedVersion = &Error{UnsupportedProtocolVersion, "MQTT-3.1.2-2", "unsupported protocol level"}
	ErrConnectReserved    = &Error{MalformedPacket, "MQTT-3.1.2-3", "CONNECT reserved flag is set"}
	ErrWillQoSWithoutWill = &Error{MalformedPacket, "MQTT-3.1.2-11", "will QoS set without will flag"}         // 3.1.1: MQTT-3.1.2-13
	ErrWillQoS3           = &Error{MalformedPacket, "MQTT-3.1.2-12", "will QoS 3"}                             // 3.1.1: MQTT-3.1.2-14
	ErrWillRetainNoWill   = &Error{MalformedPacket, "MQTT-3.1.2-13", "will retain set without will flag"}      // 3.1.1: MQTT-3.1.2-15
	ErrPasswordNoUsername = &Error{ProtocolError, "MQTT-3.1.2-22", "password flag set without user name flag"} // 3.1.x only
	ErrClientIDInvalid    = &Error{ClientIDNotValid, "MQTT-3.1.3-4", "client identifier is not a valid UTF-8 string"}

	// Properties (v5).
	ErrUnknownProperty   = &Error{MalformedPacket, "MQTT-5.0 §2.2.2.2", "property not valid for this packet type"}
	ErrDuplicateProperty = &Error{ProtocolError, "MQTT-5.0 §2.2.2.2", "property included more than once"}
	ErrPropertyValue     = &Error{ProtocolError, "MQTT-5.0 §2.2.2.2", "property value out of range"}
	ErrReceiveMaxZero    = &Error{ProtocolError, "MQTT-5.0 §3.1.2.11.3", "receive maximum is 0"}
	ErrMaxPacketSizeZero = &Error{ProtocolError, "MQTT-5.0 §3.1.2.11.4", "maximum packet size is 0"}
	ErrSubscriptionID0   = &Error{ProtocolError, "MQTT-5.0 §3.8.2.1.2", "subscription identifier is 0"}
	ErrTopicAliasZero    = &Error{TopicAliasInvalid, "MQTT-3.3.2-8", "topic alias is 0"}
	ErrResponseTopic     = &Error{ProtocolError, "MQTT-3.3.2-14", "response topic is not a valid topic name"}

	// PUBLISH.
	ErrQoS3                  = &Error{MalformedPacket, "MQTT-3.3.1-4", "PUBLISH QoS 3"}
	ErrDupQoS0               = &Error{ProtocolError, "MQTT-3.3.1-2", "DUP set on QoS 0 PUBLISH"}
	ErrTopicMissing          = &Error{ProtocolError, "MQTT-3.3.2-1", "PUBLISH topic empty without topic alias"}
	ErrPublishSubscriptionID = &Error{ProtocolError, "MQTT-3.3.4-6", "subscription identifier in PUBLISH from client"}

	// Topic names and filters.
	ErrTopicEmpty        = &Error{TopicNameInvalid, "MQTT-4.7.3-1", "topic name is empty"}
	ErrTopicWildcard     = &Error{TopicNameInvalid, "MQTT-3.3.2-2", "topic name contains a wildcard"} // also MQTT-4.7.1-1
	ErrFilterEmpty       = &Error{TopicFilterInvalid, "MQTT-4.7.3-1", "topic filter is empty"}
	ErrFilterMultiLevel  = &Error{TopicFilterInvalid, "MQTT-4.7.1-2", "'#' must be last and alone in its level"}
	ErrFilterSingleLevel = &Error{TopicFilterInvalid, "MQTT-4.7.1-3", "'+' must be alone in its level"}
	ErrShareNameEmpty    = &Error{TopicFilterInvalid, "MQTT-4.8.2-1", "shared subscription has an empty share name"}
	ErrShareNameInvalid  = &Error{TopicFilterInvalid, "MQTT-4.8.2-2", "share name contains '+' or '#' or is not followed by '/' and a filter"}

	// SUBSCRIBE, UNSUBSCRIBE.
	ErrSubscribeEmpty    = &Error{ProtocolError, "MQTT-3.8.3-2", "SUBSCRIBE has no topic filter"}            // 3.1.1: MQTT-3.8.3-3
	ErrSubscribeQoS3     = &Error{MalformedPacket, "MQTT-5.0 §3.8.3.1", "subscription QoS 3"}                // 3.1.1: MQTT-3-8.3-4
	ErrSubscribeReserved = &Error{MalformedPacket, "MQTT-3.8.3-5", "subscription options reserved bits set"} // 3.1.1: MQTT-3-8.3-4
	ErrRetainHandling    = &Error{ProtocolError, "MQTT-5.0 §3.8.3.1", "retain handling 3"}
	ErrSharedNoLocal     = &Error{ProtocolError, "MQTT-3.8.3-4", "no local set on a shared subscription"}
	ErrUnsubscribeEmpty  = &Error{ProtocolError, "MQTT-3.10.3-2", "UNSUBSCRIBE has no topic filter"}
)
