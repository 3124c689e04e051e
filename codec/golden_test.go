package codec

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// golden is one raw packet with its expected decoding. Each case names the
// spec statement it exercises; the table doubles as a conformance index.
type golden struct {
	name     string
	rule     string // spec id ("MQTT-3.3.1-4") or section ("MQTT-5.0 §3.8.3.1")
	version  byte   // level passed to Decode (0: before CONNECT)
	server   bool   // decode with DecodeFromServer
	maxSize  int
	in       []byte
	want     *Packet // expected fields; Flags and Version are filled in by the test
	err      *Error
	noncanon bool // re-encoding gives a different (shorter) valid form
}

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

var goldens = []golden{
	// ---------------- CONNECT ----------------
	{name: "connect v3.1 MQIsdp", rule: "MQTT-3.1.2-2", version: 0, in: []byte{
		0x10, 16, // CONNECT, remaining length
		0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', // protocol name
		0x03,       // protocol level 3
		0x02,       // connect flags: clean session
		0x00, 0x0A, // keep alive 10
		0x00, 0x02, 'c', '1', // client id
	}, want: &Packet{Type: CONNECT, Version: V31, ProtocolName: []byte("MQIsdp"), CleanStart: true, KeepAlive: 10, ClientID: []byte("c1")}},

	{name: "connect v3.1.1 will user password", rule: "MQTT-3.1.2-2", version: 0, in: []byte{
		0x10, 30, // CONNECT, remaining length
		0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
		0x04,       // protocol level 4
		0xEE,       // flags: user, password, will retain, will QoS 1, will, clean
		0x00, 0x3C, // keep alive 60
		0x00, 0x02, 'i', 'd', // client id
		0x00, 0x03, 'w', '/', 't', // will topic
		0x00, 0x02, 'b', 'y', // will payload
		0x00, 0x01, 'u', // user name
		0x00, 0x02, 'p', 'w', // password
	}, want: &Packet{Type: CONNECT, Version: V311, ProtocolName: []byte("MQTT"), CleanStart: true, KeepAlive: 60,
		ClientID: []byte("id"), WillFlag: true, WillQoS: 1, WillRetain: true, WillTopic: []byte("w/t"), WillPayload: []byte("by"),
		UsernameFlag: true, Username: []byte("u"), PasswordFlag: true, Password: []byte("pw")}},

	{name: "connect v3.1.1 empty client id", rule: "MQTT-3.1.3-4", version: 0, in: []byte{
		0x10, 12, // CONNECT, remaining length
		0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
		0x04,       // level 4
		0x02,       // clean session
		0x00, 0x00, // keep alive 0
		0x00, 0x00, // client id ""
	}, want: &Packet{Type: CONNECT, Version: V311, ProtocolName: []byte("MQTT"), CleanStart: true, ClientID: []byte{}}},

	{name: "connect v5 properties will properties password without user", rule: "MQTT-3.1.2-22", version: 0, in: []byte{
		0x10, 45, // CONNECT, remaining length
		0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
		0x05,       // level 5
		0x46,       // flags: password (allowed without user name in v5), will, clean start
		0x00, 0x1E, // keep alive 30
		15,                         // property length
		0x11, 0x00, 0x00, 0x00, 60, // session expiry interval 60
		0x21, 0x00, 0x0A, // receive maximum 10
		0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
		0x00, 0x01, 'c', // client id
		7,          // will property length
		0x01, 0x01, // payload format indicator 1
		0x18, 0x00, 0x00, 0x00, 0x05, // will delay interval 5
		0x00, 0x01, 't', // will topic
		0x00, 0x00, // will payload (empty)
		0x00, 0x01, 'p', // password
	}, want: &Packet{Type: CONNECT, Version: V5, ProtocolName: []byte("MQTT"), CleanStart: true, KeepAlive: 30,
		Props: Properties{Present: 1<<PropSessionExpiry | 1<<PropReceiveMaximum | 1<<PropUser, SessionExpiry: 60, ReceiveMaximum: 10,
			User: []UserProperty{{Key: []byte("k"), Value: []byte("v")}}},
		ClientID: []byte("c"), WillFlag: true,
		WillProps: Properties{Present: 1<<PropPayloadFormat | 1<<PropWillDelay, PayloadFormat: 1, WillDelay: 5},
		WillTopic: []byte("t"), WillPayload: []byte{}, PasswordFlag: true, Password: []byte("p")}},

	{name: "connect bad protocol name", rule: "MQTT-3.1.2-1", version: 0, err: ErrProtocolName, in: []byte{
		0x10, 12, 0x00, 0x04, 'M', 'Q', 'T', 'X', // protocol name "MQTX"
		0x04, 0x02, 0x00, 0x3C, 0x00, 0x00}},
	{name: "connect unknown level 6", rule: "MQTT-3.1.2-2", version: 0, err: ErrUnsupportedVersion, in: []byte{
		0x10, 12, 0x00, 0x04, 'M', 'Q', 'T', 'T',
		0x06, // protocol level 6
		0x02, 0x00, 0x3C, 0x00, 0x00}},
	{name: "connect MQIsdp with level 4", rule: "MQTT-3.1.2-2", version: 0, err: ErrUnsupportedVersion, in: []byte{
		0x10, 14, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p',
		0x04, // level 4 does not go with MQIsdp
		0x02, 0x00, 0x3C, 0x00, 0x00}},
	{name: "connect reserved flag", rule: "MQTT-3.1.2-3", version: 0, err: ErrConnectReserved, in: []byte{
		0x10, 12, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
		0x03, // flags: clean + reserved bit 0
		0x00, 0x3C, 0x00, 0x00}},
	{name: "connect will QoS without will flag", rule: "MQTT-3.1.2-11, 3.1.1: MQTT-3.1.2-13", version: 0, err: ErrWillQoSWithoutWill, in: []byte{
		0x10, 12, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
		0x0A, // flags: will QoS 1, clean, no will flag
		0x00, 0x3C, 0x00, 0x00}},
	{name: "connect will retain without will flag", rule: "MQTT-3.1.2-13, 3.1.1: MQTT-3.1.2-15", version: 0, err: ErrWillRetainNoWill, in: []byte{
		0x10, 12, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
		0x22, // flags: will retain, clean, no will flag
		0x00, 0x3C, 0x00, 0x00}},
	{name: "connect will QoS 3", rule: "MQTT-3.1.2-12, 3.1.1: MQTT-3.1.2-14", version: 0, err: ErrWillQoS3, in: []byte{
		0x10, 12, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
		0x1E, // flags: will QoS 3, will, clean
		0x00, 0x3C, 0x00, 0x00}},
	{name: "connect v3.1.1 password without user name", rule: "MQTT-3.1.2-22", version: 0, err: ErrPasswordNoUsername, in: []byte{
		0x10, 15, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
		0x42, // flags: password, clean
		0x00, 0x3C,
		0x00, 0x00, // client id
		0x00, 0x01, 'p', // password
	}},
	{name: "connect client id overlong UTF-8", rule: "MQTT-3.1.3-4", version: 0, err: ErrClientIDInvalid, in: []byte{
		0x10, 14, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C,
		0x00, 0x02, 0xC0, 0x80, // client id: overlong encoding of U+0000
	}},
	{name: "connect user name with U+0000", rule: "MQTT-1.5.4-2, MQTT-3.1.3-12", version: 0, err: ErrNullCharacter, in: []byte{
		0x10, 16, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
		0x82, // flags: user name, clean
		0x00, 0x3C,
		0x00, 0x00, // client id
		0x00, 0x02, 'a', 0x00, // user name "a\x00"
	}},
	{name: "connect will topic with wildcard", rule: "MQTT-3.3.2-2, MQTT-3.1.3-11", version: 0, err: ErrTopicWildcard, in: []byte{
		0x10, 19, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
		0x06, // flags: will, clean
		0x00, 0x3C,
		0x00, 0x00, // client id
		0x00, 0x03, 'a', '/', '#', // will topic "a/#"
		0x00, 0x00, // will payload
	}},
	{name: "connect truncated client id", rule: "MQTT-5.0 §2.1.4", version: 0, err: ErrTruncated, in: []byte{
		0x10, 13, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C,
		0x00, 0x05, 'a', // client id claims 5 bytes, packet ends after 1
	}},
	{name: "connect trailing byte", rule: "MQTT-5.0 §2.1.4", version: 0, err: ErrTrailingBytes, in: []byte{
		0x10, 13, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C,
		0x00, 0x00, // client id
		0xFF, // not part of any field
	}},
	{name: "connect v5 duplicate session expiry", rule: "MQTT-5.0 §2.2.2.2", version: 0, err: ErrDuplicateProperty, in: []byte{
		0x10, 23, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
		10,                           // property length
		0x11, 0x00, 0x00, 0x00, 0x01, // session expiry 1
		0x11, 0x00, 0x00, 0x00, 0x02, // session expiry again
		0x00, 0x00, // client id
	}},
	{name: "connect v5 receive maximum 0", rule: "MQTT-5.0 §3.1.2.11.3", version: 0, err: ErrReceiveMaxZero, in: []byte{
		0x10, 16, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
		3, 0x21, 0x00, 0x00, // receive maximum 0
		0x00, 0x00,
	}},
	{name: "connect v5 maximum packet size 0", rule: "MQTT-5.0 §3.1.2.11.4", version: 0, err: ErrMaxPacketSizeZero, in: []byte{
		0x10, 18, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
		5, 0x27, 0x00, 0x00, 0x00, 0x00, // maximum packet size 0
		0x00, 0x00,
	}},
	{name: "connect v5 request problem information 2", rule: "MQTT-5.0 §3.1.2.11.7", version: 0, err: ErrPropertyValue, in: []byte{
		0x10, 15, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
		2, 0x17, 0x02, // request problem information 2
		0x00, 0x00,
	}},
	{name: "connect v5 request response information 2", rule: "MQTT-5.0 §3.1.2.11.6", version: 0, err: ErrPropertyValue, in: []byte{
		0x10, 15, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
		2, 0x19, 0x02, // request response information 2
		0x00, 0x00,
	}},
	{name: "connect v5 topic alias not allowed", rule: "MQTT-5.0 §2.2.2.2", version: 0, err: ErrUnknownProperty, in: []byte{
		0x10, 16, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
		3, 0x23, 0x00, 0x01, // topic alias: not a CONNECT property
		0x00, 0x00,
	}},
	{name: "connect v5 will payload format 2", rule: "MQTT-5.0 §3.1.3.2.3", version: 0, err: ErrPropertyValue, in: []byte{
		0x10, 21, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05,
		0x06, // will, clean
		0x00, 0x3C,
		0x00,       // properties
		0x00, 0x00, // client id
		2, 0x01, 0x02, // will properties: payload format 2
		0x00, 0x01, 't', // will topic
		0x00, 0x00, // will payload
	}},
	{name: "connect v5 property length past end", rule: "MQTT-5.0 §2.1.4", version: 0, err: ErrTruncated, in: []byte{
		0x10, 13, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
		5,          // property length 5
		0x00, 0x00, // only 2 bytes left
	}},
	{name: "connect v5 user property invalid UTF-8", rule: "MQTT-1.5.4-1, MQTT-1.5.7-1", version: 0, err: ErrInvalidUTF8, in: []byte{
		0x10, 19, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
		6, 0x26, 0x00, 0x01, 0xFF, 0x00, 0x00, // user property key 0xFF
		0x00, 0x00,
	}},

	// ---------------- CONNACK ----------------
	{name: "connack v3.1", rule: "MQTT-3.2.2.3", version: V31, server: true, in: []byte{
		0x20, 2, // CONNACK
		0x00, // reserved in 3.1
		0x00, // accepted
	}, want: &Packet{Type: CONNACK}},
	{name: "connack v3.1.1 session present refused", rule: "MQTT-3.2.2.3", version: V311, server: true, in: []byte{
		0x20, 2,
		0x01, // session present
		0x05, // not authorized
	}, want: &Packet{Type: CONNACK, SessionPresent: true, ReasonCode: 5}},
	{name: "connack v5 properties", rule: "MQTT-5.0 §3.2.2.3", version: V5, server: true, in: []byte{
		0x20, 13,
		0x00,                       // acknowledge flags
		0x00,                       // success
		10,                         // property length
		0x12, 0x00, 0x02, 'i', 'd', // assigned client identifier
		0x21, 0x00, 0x14, // receive maximum 20
		0x24, 0x01, // maximum QoS 1
	}, want: &Packet{Type: CONNACK, Props: Properties{Present: 1<<PropAssignedClientID | 1<<PropReceiveMaximum | 1<<PropMaximumQoS,
		AssignedClientID: []byte("id"), ReceiveMaximum: 20, MaximumQoS: 1}}},
	{name: "connack reserved flag bits", rule: "MQTT-5.0 §3.2.2.1", version: V311, server: true, err: ErrConnackReserved, in: []byte{0x20, 2, 0x02, 0x00}},
	{name: "connack v3.1.1 return code 6", rule: "MQTT-3.2.2.3", version: V311, server: true, err: ErrInvalidReason, in: []byte{0x20, 2, 0x00, 0x06}},
	{name: "connack v5 maximum QoS 2", rule: "MQTT-5.0 §3.2.2.3.4", version: V5, server: true, err: ErrPropertyValue, in: []byte{
		0x20, 5, 0x00, 0x00, 2, 0x24, 0x02}},

	// ---------------- PUBLISH ----------------
	{name: "publish v3.1.1 QoS 0", rule: "MQTT-3.3.1-4", version: V311, in: []byte{
		0x30, 7, // PUBLISH QoS 0
		0x00, 0x03, 'a', '/', 'b', // topic
		'h', 'i', // payload
	}, want: &Packet{Type: PUBLISH, Topic: []byte("a/b"), Payload: []byte("hi")}},
	{name: "publish v3.1.1 QoS 1 dup retain", rule: "MQTT-2.2.1-3", version: V311, in: []byte{
		0x3B, 8, // PUBLISH dup, QoS 1, retain
		0x00, 0x03, 'a', '/', 'b', // topic
		0x00, 0x07, // packet id 7
		'x', // payload
	}, want: &Packet{Type: PUBLISH, Dup: true, QoS: 1, Retain: true, Topic: []byte("a/b"), PacketID: 7, Payload: []byte("x")}},
	{name: "publish v3.1 QoS 2 empty payload", rule: "MQTT-3.3.1-4", version: V31, in: []byte{
		0x34, 5, // PUBLISH QoS 2
		0x00, 0x01, 't', // topic
		0x00, 0x01, // packet id 1
	}, want: &Packet{Type: PUBLISH, QoS: 2, Topic: []byte("t"), PacketID: 1, Payload: []byte{}}},
	{name: "publish v5 QoS 1 properties", rule: "MQTT-5.0 §3.3.2.3", version: V5, in: []byte{
		0x32, 36, // PUBLISH QoS 1
		0x00, 0x03, 'a', '/', 'b', // topic
		0x00, 0x01, // packet id
		23,         // property length
		0x01, 0x01, // payload format indicator: UTF-8
		0x08, 0x00, 0x03, 'r', '/', '1', // response topic
		0x09, 0x00, 0x02, 'c', 'd', // correlation data
		0x23, 0x00, 0x05, // topic alias 5
		0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property
		'h', 'e', 'l', 'l', 'o', // payload
	}, want: &Packet{Type: PUBLISH, QoS: 1, Topic: []byte("a/b"), PacketID: 1, Payload: []byte("hello"),
		Props: Properties{Present: 1<<PropPayloadFormat | 1<<PropResponseTopic | 1<<PropCorrelationData | 1<<PropTopicAlias | 1<<PropUser,
			PayloadFormat: 1, ResponseTopic: []byte("r/1"), CorrelationData: []byte("cd"), TopicAlias: 5,
			User: []UserProperty{{Key: []byte("k"), Value: []byte("v")}}}}},
	{name: "publish v5 empty topic with topic alias", rule: "MQTT-3.3.2-1", version: V5, in: []byte{
		0x30, 7,
		0x00, 0x00, // topic "" (alias in use)
		3, 0x23, 0x00, 0x01, // topic alias 1
		'p', // payload
	}, want: &Packet{Type: PUBLISH, Topic: []byte{}, Payload: []byte("p"), Props: Properties{Present: 1 << PropTopicAlias, TopicAlias: 1}}},
	{name: "publish v5 from server with subscription ids", rule: "MQTT-3.3.4-6", version: V5, server: true, in: []byte{
		0x30, 8,
		0x00, 0x01, 't', // topic
		4,          // property length
		0x0B, 0x01, // subscription identifier 1
		0x0B, 0x02, // subscription identifier 2
	}, want: &Packet{Type: PUBLISH, Topic: []byte("t"), Payload: []byte{}, Props: Properties{Present: 1 << PropSubscriptionID, SubscriptionIDs: []uint32{1, 2}}}},
	{name: "publish v5 QoS 0 no properties", rule: "MQTT-5.0 §3.3.2.3.1", version: V5, in: []byte{
		0x30, 4, 0x00, 0x01, 't', 0x00, // topic, property length 0
	}, want: &Packet{Type: PUBLISH, Topic: []byte("t"), Payload: []byte{}}},
	{name: "publish QoS 3", rule: "MQTT-3.3.1-4", version: V311, err: ErrQoS3, in: []byte{0x36, 5, 0x00, 0x01, 't', 0x00, 0x01}},
	{name: "publish DUP with QoS 0", rule: "MQTT-3.3.1-2", version: V311, err: ErrDupQoS0, in: []byte{0x38, 3, 0x00, 0x01, 't'}},
	{name: "publish topic with +", rule: "MQTT-3.3.2-2", version: V311, err: ErrTopicWildcard, in: []byte{0x30, 5, 0x00, 0x03, 'a', '/', '+'}},
	{name: "publish topic with # v5", rule: "MQTT-4.7.1-1", version: V5, err: ErrTopicWildcard, in: []byte{0x30, 4, 0x00, 0x01, '#', 0x00}},
	{name: "publish empty topic v3.1.1", rule: "MQTT-4.7.3-1", version: V311, err: ErrTopicEmpty, in: []byte{0x30, 2, 0x00, 0x00}},
	{name: "publish v5 empty topic without alias", rule: "MQTT-3.3.2-1", version: V5, err: ErrTopicMissing, in: []byte{0x30, 3, 0x00, 0x00, 0x00}},
	{name: "publish QoS 1 packet id 0", rule: "MQTT-2.2.1-3, 3.1.1: MQTT-2.3.1-1", version: V311, err: ErrPacketIDZero, in: []byte{0x32, 5, 0x00, 0x01, 't', 0x00, 0x00}},
	{name: "publish v5 topic alias 0", rule: "MQTT-3.3.2-8", version: V5, err: ErrTopicAliasZero, in: []byte{
		0x30, 7, 0x00, 0x01, 't', 3, 0x23, 0x00, 0x00}},
	{name: "publish v5 subscription id from client", rule: "MQTT-3.3.4-6", version: V5, err: ErrPublishSubscriptionID, in: []byte{
		0x30, 6, 0x00, 0x01, 't', 2, 0x0B, 0x01}},
	{name: "publish v5 subscription id 0", rule: "MQTT-5.0 §3.3.2.3.8", version: V5, server: true, err: ErrSubscriptionID0, in: []byte{
		0x30, 6, 0x00, 0x01, 't', 2, 0x0B, 0x00}},
	{name: "publish v5 subscription id non-minimal", rule: "MQTT-1.5.5-1", version: V5, server: true, err: ErrMalformedLength, in: []byte{
		0x30, 7, 0x00, 0x01, 't', 3, 0x0B, 0x80, 0x00}},
	{name: "publish topic surrogate", rule: "MQTT-1.5.4-1, 3.1.1: MQTT-1.5.3-1", version: V311, err: ErrInvalidUTF8, in: []byte{
		0x30, 5, 0x00, 0x03, 0xED, 0xA0, 0x80}}, // U+D800 encoded
	{name: "publish topic U+0000", rule: "MQTT-1.5.4-2, 3.1.1: MQTT-1.5.3-2", version: V311, err: ErrNullCharacter, in: []byte{0x30, 3, 0x00, 0x01, 0x00}},
	{name: "publish truncated topic", rule: "MQTT-5.0 §2.1.4", version: V311, err: ErrTruncated, in: []byte{0x30, 3, 0x00, 0x05, 't'}},
	{name: "publish QoS 1 truncated packet id", rule: "MQTT-5.0 §2.1.4", version: V311, err: ErrTruncated, in: []byte{0x32, 4, 0x00, 0x01, 't', 0x00}},
	{name: "publish v5 duplicate topic alias", rule: "MQTT-5.0 §2.2.2.2", version: V5, err: ErrDuplicateProperty, in: []byte{
		0x30, 10, 0x00, 0x01, 't', 6, 0x23, 0x00, 0x01, 0x23, 0x00, 0x02}},
	{name: "publish v5 response topic wildcard", rule: "MQTT-3.3.2-14", version: V5, err: ErrResponseTopic, in: []byte{
		0x30, 9, 0x00, 0x01, 't', 5, 0x08, 0x00, 0x02, 'a', '#'}},
	{name: "publish v5 unknown property 0x7F", rule: "MQTT-5.0 §2.2.2.2", version: V5, err: ErrUnknownProperty, in: []byte{
		0x30, 5, 0x00, 0x01, 't', 1, 0x7F}},
	{name: "publish v5 session expiry not allowed", rule: "MQTT-5.0 §2.2.2.2", version: V5, err: ErrUnknownProperty, in: []byte{
		0x30, 9, 0x00, 0x01, 't', 5, 0x11, 0, 0, 0, 1}},
	{name: "publish v5 payload format 2", rule: "MQTT-5.0 §3.3.2.3.2", version: V5, err: ErrPropertyValue, in: []byte{
		0x30, 6, 0x00, 0x01, 't', 2, 0x01, 0x02}},
	{name: "publish v5 truncated property", rule: "MQTT-5.0 §2.1.4", version: V5, err: ErrTruncated, in: []byte{
		0x30, 7, 0x00, 0x01, 't', 3, 0x02, 0x00, 0x00}}, // message expiry needs 4 bytes

	// ---------------- PUBACK, PUBREC, PUBREL, PUBCOMP ----------------
	{name: "puback v3.1.1", rule: "MQTT-2.2.1-3", version: V311, in: []byte{0x40, 2, 0x00, 0x01}, want: &Packet{Type: PUBACK, PacketID: 1}},
	{name: "pubrec v3.1.1", rule: "MQTT-2.2.1-3", version: V311, in: []byte{0x50, 2, 0x00, 0x01}, want: &Packet{Type: PUBREC, PacketID: 1}},
	{name: "pubrel v3.1.1", rule: "MQTT-2.1.3-1", version: V311, in: []byte{0x62, 2, 0x00, 0x01}, want: &Packet{Type: PUBREL, PacketID: 1}},
	{name: "pubcomp v3.1.1", rule: "MQTT-2.2.1-3", version: V311, in: []byte{0x70, 2, 0x00, 0x01}, want: &Packet{Type: PUBCOMP, PacketID: 1}},
	{name: "puback v3.1", rule: "MQTT-2.2.1-3", version: V31, in: []byte{0x40, 2, 0xFF, 0xFF}, want: &Packet{Type: PUBACK, PacketID: 0xFFFF}},
	{name: "puback v5 short form", rule: "MQTT-5.0 §3.4.2.1", version: V5, in: []byte{
		0x40, 2, 0x00, 0x05, // packet id; reason 0 implied
	}, want: &Packet{Type: PUBACK, PacketID: 5}},
	{name: "puback v5 reason only", rule: "MQTT-5.0 §3.4.2.2.1", version: V5, in: []byte{
		0x40, 3, 0x00, 0x05,
		0x10, // no matching subscribers
	}, want: &Packet{Type: PUBACK, PacketID: 5, ReasonCode: NoMatchingSubscribers}},
	{name: "pubrec v5 reason string", rule: "MQTT-5.0 §3.5.2.2", version: V5, in: []byte{
		0x50, 8, 0x00, 0x05,
		0x80,                     // unspecified error
		4, 0x1F, 0x00, 0x01, 'x', // reason string "x"
	}, want: &Packet{Type: PUBREC, PacketID: 5, ReasonCode: UnspecifiedError, Props: Properties{Present: 1 << PropReasonString, ReasonString: []byte("x")}}},
	{name: "pubrel v5 packet id not found", rule: "MQTT-5.0 §3.6.2.1", version: V5, in: []byte{
		0x62, 3, 0x00, 0x05, 0x92}, want: &Packet{Type: PUBREL, PacketID: 5, ReasonCode: PacketIDNotFound}},
	{name: "pubcomp v5 short form", rule: "MQTT-5.0 §3.7.2.1", version: V5, in: []byte{0x70, 2, 0x00, 0x05}, want: &Packet{Type: PUBCOMP, PacketID: 5}},
	{name: "puback v5 empty property block", rule: "MQTT-5.0 §3.4.2.2.1", version: V5, noncanon: true, in: []byte{
		0x40, 4, 0x00, 0x05, 0x00, 0x00}, want: &Packet{Type: PUBACK, PacketID: 5}},
	{name: "puback packet id 0", rule: "MQTT-2.2.1-3", version: V311, err: ErrPacketIDZero, in: []byte{0x40, 2, 0x00, 0x00}},
	{name: "puback v3.1.1 trailing byte", rule: "MQTT-5.0 §2.1.4", version: V311, err: ErrTrailingBytes, in: []byte{0x40, 3, 0x00, 0x01, 0x00}},
	{name: "puback truncated", rule: "MQTT-5.0 §2.1.4", version: V311, err: ErrTruncated, in: []byte{0x40, 1, 0x00}},
	{name: "puback v5 reason 0x92", rule: "MQTT-5.0 §2.4", version: V5, err: ErrInvalidReason, in: []byte{0x40, 3, 0x00, 0x01, 0x92}},
	{name: "puback v5 topic alias not allowed", rule: "MQTT-5.0 §2.2.2.2", version: V5, err: ErrUnknownProperty, in: []byte{
		0x40, 7, 0x00, 0x01, 0x00, 3, 0x23, 0x00, 0x01}},
	{name: "pubrel v5 trailing after properties", rule: "MQTT-5.0 §2.1.4", version: V5, err: ErrTrailingBytes, in: []byte{
		0x62, 5, 0x00, 0x01, 0x00, 0x00, 0xFF}},
	{name: "pubrel flags 0", rule: "MQTT-2.1.3-1, 3.1.1: MQTT-2.2.2-1", version: V311, err: ErrReservedFlags, in: []byte{0x60, 2, 0x00, 0x01}},
	{name: "puback flags 2", rule: "MQTT-2.1.3-1", version: V5, err: ErrReservedFlags, in: []byte{0x42, 2, 0x00, 0x01}},

	// ---------------- SUBSCRIBE ----------------
	{name: "subscribe v3.1.1", rule: "MQTT-3.8.3-1", version: V311, in: []byte{
		0x82, 12, // SUBSCRIBE, flags 0b0010
		0x00, 0x0A, // packet id 10
		0x00, 0x03, 'a', '/', '+', // filter
		0x01,            // QoS 1
		0x00, 0x01, '#', // filter
		0x02, // QoS 2
	}, want: &Packet{Type: SUBSCRIBE, PacketID: 10, Subscriptions: []Subscription{{Filter: []byte("a/+"), QoS: 1}, {Filter: []byte("#"), QoS: 2}}}},
	{name: "subscribe v3.1", rule: "MQTT-3.8.3-1", version: V31, in: []byte{
		0x82, 6, 0x00, 0x01, 0x00, 0x01, 'a', 0x00,
	}, want: &Packet{Type: SUBSCRIBE, PacketID: 1, Subscriptions: []Subscription{{Filter: []byte("a")}}}},
	{name: "subscribe v5 options shared subscription id", rule: "MQTT-4.8.2-1", version: V5, in: []byte{
		0x82, 24,
		0x00, 0x0B, // packet id 11
		2, 0x0B, 0x05, // subscription identifier 5
		0x00, 0x03, 'a', '/', 'b', // filter
		0x2E,                                                         // retain handling 2, retain as published, no local, QoS 2
		0x00, 0x0A, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'x', // shared filter
		0x01, // QoS 1
	}, want: &Packet{Type: SUBSCRIBE, PacketID: 11, Props: Properties{Present: 1 << PropSubscriptionID, SubscriptionIDs: []uint32{5}},
		Subscriptions: []Subscription{{Filter: []byte("a/b"), QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
			{Filter: []byte("$share/g/x"), QoS: 1}}}},
	{name: "subscribe v3.1.1 no filter", rule: "MQTT-3.8.3-2, 3.1.1: MQTT-3.8.3-3", version: V311, err: ErrSubscribeEmpty, in: []byte{0x82, 2, 0x00, 0x01}},
	{name: "subscribe v5 no filter", rule: "MQTT-3.8.3-2", version: V5, err: ErrSubscribeEmpty, in: []byte{0x82, 3, 0x00, 0x01, 0x00}},
	{name: "subscribe packet id 0", rule: "MQTT-2.2.1-3", version: V311, err: ErrPacketIDZero, in: []byte{0x82, 6, 0x00, 0x00, 0x00, 0x01, 'a', 0x00}},
	{name: "subscribe QoS 3", rule: "MQTT-3-8.3-4", version: V311, err: ErrSubscribeQoS3, in: []byte{0x82, 6, 0x00, 0x01, 0x00, 0x01, 'a', 0x03}},
	{name: "subscribe v5 QoS 3", rule: "MQTT-5.0 §3.8.3.1", version: V5, err: ErrSubscribeQoS3, in: []byte{0x82, 7, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x03}},
	{name: "subscribe v3.1.1 option bits above QoS", rule: "MQTT-3-8.3-4", version: V311, err: ErrSubscribeReserved, in: []byte{
		0x82, 6, 0x00, 0x01, 0x00, 0x01, 'a',
		0x04, // no local bit: reserved in 3.1.1
	}},
	{name: "subscribe v5 reserved option bits", rule: "MQTT-3.8.3-5", version: V5, err: ErrSubscribeReserved, in: []byte{
		0x82, 7, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x40}},
	{name: "subscribe v5 retain handling 3", rule: "MQTT-5.0 §3.8.3.1", version: V5, err: ErrRetainHandling, in: []byte{
		0x82, 7, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x30}},
	{name: "subscribe v5 no local on shared", rule: "MQTT-3.8.3-4", version: V5, err: ErrSharedNoLocal, in: []byte{
		0x82, 16, 0x00, 0x01, 0x00,
		0x00, 0x0A, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'x',
		0x04, // no local
	}},
	{name: "subscribe # not last", rule: "MQTT-4.7.1-2", version: V311, err: ErrFilterMultiLevel, in: []byte{
		0x82, 10, 0x00, 0x01, 0x00, 0x05, 'a', '/', '#', '/', 'b', 0x00}},
	{name: "subscribe + not alone", rule: "MQTT-4.7.1-3", version: V311, err: ErrFilterSingleLevel, in: []byte{
		0x82, 7, 0x00, 0x01, 0x00, 0x02, 'a', '+', 0x00}},
	{name: "subscribe empty share name", rule: "MQTT-4.8.2-1", version: V5, err: ErrShareNameEmpty, in: []byte{
		0x82, 15, 0x00, 0x01, 0x00, 0x00, 0x09, '$', 's', 'h', 'a', 'r', 'e', '/', '/', 'x', 0x00}},
	{name: "subscribe share name with +", rule: "MQTT-4.8.2-2", version: V5, err: ErrShareNameInvalid, in: []byte{
		0x82, 17, 0x00, 0x01, 0x00, 0x00, 0x0B, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '+', '/', 'x', 0x00}},
	{name: "subscribe share name without filter", rule: "MQTT-4.8.2-2", version: V311, err: ErrShareNameInvalid, in: []byte{
		0x82, 13, 0x00, 0x01, 0x00, 0x08, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', 0x00}},
	{name: "subscribe empty filter", rule: "MQTT-4.7.3-1", version: V311, err: ErrFilterEmpty, in: []byte{0x82, 5, 0x00, 0x01, 0x00, 0x00, 0x00}},
	{name: "subscribe missing options byte", rule: "MQTT-5.0 §2.1.4", version: V311, err: ErrTruncated, in: []byte{0x82, 5, 0x00, 0x01, 0x00, 0x01, 'a'}},
	{name: "subscribe v5 two subscription ids", rule: "MQTT-5.0 §3.8.2.1.2", version: V5, err: ErrDuplicateProperty, in: []byte{
		0x82, 11, 0x00, 0x01, 4, 0x0B, 0x01, 0x0B, 0x02, 0x00, 0x01, 'a', 0x00}},
	{name: "subscribe v5 subscription id 0", rule: "MQTT-5.0 §3.8.2.1.2", version: V5, err: ErrSubscriptionID0, in: []byte{
		0x82, 9, 0x00, 0x01, 2, 0x0B, 0x00, 0x00, 0x01, 'a', 0x00}},
	{name: "subscribe flags 0", rule: "MQTT-2.1.3-1", version: V311, err: ErrReservedFlags, in: []byte{0x80, 6, 0x00, 0x01, 0x00, 0x01, 'a', 0x00}},

	// ---------------- SUBACK ----------------
	{name: "suback v3.1.1", rule: "MQTT-3.9.3-2", version: V311, server: true, in: []byte{
		0x90, 4, 0x00, 0x0A, // packet id
		0x00, 0x80, // granted QoS 0, failure
	}, want: &Packet{Type: SUBACK, PacketID: 10, ReasonCodes: []byte{0x00, 0x80}}},
	{name: "suback v5", rule: "MQTT-5.0 §3.9.3", version: V5, server: true, in: []byte{
		0x90, 5, 0x00, 0x0A, 0x00, // packet id, no properties
		0x01, 0x8F, // granted QoS 1, topic filter invalid
	}, want: &Packet{Type: SUBACK, PacketID: 10, ReasonCodes: []byte{0x01, 0x8F}}},
	{name: "suback v3.1.1 return code 3", rule: "MQTT-3.9.3-2", version: V311, server: true, err: ErrInvalidReason, in: []byte{0x90, 3, 0x00, 0x01, 0x03}},
	{name: "suback v5 no reason codes", rule: "MQTT-5.0 §3.9.3", version: V5, server: true, err: ErrTruncated, in: []byte{0x90, 3, 0x00, 0x01, 0x00}},

	// ---------------- UNSUBSCRIBE ----------------
	{name: "unsubscribe v3.1.1", rule: "MQTT-3.10.3-1", version: V311, in: []byte{
		0xA2, 7, 0x00, 0x0B, // packet id
		0x00, 0x03, 'a', '/', 'b', // filter
	}, want: &Packet{Type: UNSUBSCRIBE, PacketID: 11, Subscriptions: []Subscription{{Filter: []byte("a/b")}}}},
	{name: "unsubscribe v5", rule: "MQTT-3.10.3-1", version: V5, in: []byte{
		0xA2, 8, 0x00, 0x0B, 0x00, // packet id, no properties
		0x00, 0x03, 'a', '/', '#',
	}, want: &Packet{Type: UNSUBSCRIBE, PacketID: 11, Subscriptions: []Subscription{{Filter: []byte("a/#")}}}},
	{name: "unsubscribe v3.1.1 no filter", rule: "MQTT-3.10.3-2", version: V311, err: ErrUnsubscribeEmpty, in: []byte{0xA2, 2, 0x00, 0x01}},
	{name: "unsubscribe v5 no filter", rule: "MQTT-3.10.3-2", version: V5, err: ErrUnsubscribeEmpty, in: []byte{0xA2, 3, 0x00, 0x01, 0x00}},
	{name: "unsubscribe packet id 0", rule: "MQTT-2.2.1-3", version: V311, err: ErrPacketIDZero, in: []byte{0xA2, 5, 0x00, 0x00, 0x00, 0x01, 'a'}},
	{name: "unsubscribe invalid filter", rule: "MQTT-4.7.1-2", version: V311, err: ErrFilterMultiLevel, in: []byte{0xA2, 6, 0x00, 0x01, 0x00, 0x02, '#', 'a'}},
	{name: "unsubscribe flags 0", rule: "MQTT-2.1.3-1", version: V311, err: ErrReservedFlags, in: []byte{0xA0, 5, 0x00, 0x01, 0x00, 0x01, 'a'}},

	// ---------------- UNSUBACK ----------------
	{name: "unsuback v3.1.1", rule: "MQTT-3.11.2", version: V311, server: true, in: []byte{0xB0, 2, 0x00, 0x0B}, want: &Packet{Type: UNSUBACK, PacketID: 11}},
	{name: "unsuback v5", rule: "MQTT-5.0 §3.11.3", version: V5, server: true, in: []byte{
		0xB0, 5, 0x00, 0x0B, 0x00, // packet id, no properties
		0x00, 0x11, // success, no subscription existed
	}, want: &Packet{Type: UNSUBACK, PacketID: 11, ReasonCodes: []byte{0x00, 0x11}}},
	{name: "unsuback v3.1.1 trailing", rule: "MQTT-5.0 §2.1.4", version: V311, server: true, err: ErrTrailingBytes, in: []byte{0xB0, 3, 0x00, 0x01, 0x00}},

	// ---------------- PINGREQ, PINGRESP ----------------
	{name: "pingreq v3.1", rule: "MQTT-5.0 §3.12", version: V31, in: []byte{0xC0, 0}, want: &Packet{Type: PINGREQ}},
	{name: "pingreq v3.1.1", rule: "MQTT-5.0 §3.12", version: V311, in: []byte{0xC0, 0}, want: &Packet{Type: PINGREQ}},
	{name: "pingreq v5", rule: "MQTT-5.0 §3.12", version: V5, in: []byte{0xC0, 0}, want: &Packet{Type: PINGREQ}},
	{name: "pingresp v3.1.1", rule: "MQTT-5.0 §3.13", version: V311, server: true, in: []byte{0xD0, 0}, want: &Packet{Type: PINGRESP}},
	{name: "pingresp v5", rule: "MQTT-5.0 §3.13", version: V5, server: true, in: []byte{0xD0, 0}, want: &Packet{Type: PINGRESP}},
	{name: "pingreq with body", rule: "MQTT-5.0 §2.1.4", version: V311, err: ErrTrailingBytes, in: []byte{0xC0, 1, 0x00}},
	{name: "pingreq flags 1", rule: "MQTT-2.1.3-1", version: V311, err: ErrReservedFlags, in: []byte{0xC1, 0}},

	// ---------------- DISCONNECT ----------------
	{name: "disconnect v3.1", rule: "MQTT-5.0 §3.14", version: V31, in: []byte{0xE0, 0}, want: &Packet{Type: DISCONNECT}},
	{name: "disconnect v3.1.1", rule: "MQTT-5.0 §3.14", version: V311, in: []byte{0xE0, 0}, want: &Packet{Type: DISCONNECT}},
	{name: "disconnect v5 short", rule: "MQTT-5.0 §3.14.2.1", version: V5, in: []byte{0xE0, 0}, want: &Packet{Type: DISCONNECT}},
	{name: "disconnect v5 with will", rule: "MQTT-5.0 §3.14.2.1", version: V5, in: []byte{
		0xE0, 1, 0x04, // disconnect with will message
	}, want: &Packet{Type: DISCONNECT, ReasonCode: DisconnectWithWill}},
	{name: "disconnect v5 session expiry", rule: "MQTT-5.0 §3.14.2.2", version: V5, in: []byte{
		0xE0, 7, 0x00, // normal disconnection
		5, 0x11, 0x00, 0x00, 0x00, 0x00, // session expiry 0
	}, want: &Packet{Type: DISCONNECT, Props: Properties{Present: 1 << PropSessionExpiry}}},
	{name: "disconnect v3.1.1 with body", rule: "MQTT-5.0 §2.1.4", version: V311, err: ErrTrailingBytes, in: []byte{0xE0, 1, 0x00}},
	{name: "disconnect v5 reason 0x01", rule: "MQTT-5.0 §3.14.2.1", version: V5, err: ErrInvalidReason, in: []byte{0xE0, 1, 0x01}},
	{name: "disconnect v5 server keep alive not allowed", rule: "MQTT-5.0 §2.2.2.2", version: V5, err: ErrUnknownProperty, in: []byte{
		0xE0, 5, 0x00, 3, 0x13, 0x00, 0x05}},

	// ---------------- AUTH ----------------
	{name: "auth v5 short", rule: "MQTT-5.0 §3.15.2.1", version: V5, in: []byte{0xF0, 0}, want: &Packet{Type: AUTH}},
	{name: "auth v5 continue", rule: "MQTT-5.0 §3.15.2.2", version: V5, in: []byte{
		0xF0, 12, 0x18, // continue authentication
		10,                              // property length
		0x15, 0x00, 0x03, 'S', 'C', 'R', // authentication method
		0x16, 0x00, 0x01, 'x', // authentication data
	}, want: &Packet{Type: AUTH, ReasonCode: ContinueAuthentication, Props: Properties{Present: 1<<PropAuthMethod | 1<<PropAuthData,
		AuthMethod: []byte("SCR"), AuthData: []byte("x")}}},
	{name: "auth in v3.1.1 is reserved", rule: "MQTT-5.0 §2.1.2", version: V311, err: ErrReservedType, in: []byte{0xF0, 0}},
	{name: "auth v5 reason 0x80", rule: "MQTT-5.0 §3.15.2.1", version: V5, err: ErrInvalidReason, in: []byte{0xF0, 1, 0x80}},
	{name: "auth flags 1", rule: "MQTT-2.1.3-1", version: V5, err: ErrReservedFlags, in: []byte{0xF1, 0}},

	// ---------------- the rest of MQTT 3.1 (level 3) ----------------
	{name: "pubrec v3.1", rule: "MQTT-2.2.1-3", version: V31, in: []byte{0x50, 2, 0x00, 0x02}, want: &Packet{Type: PUBREC, PacketID: 2}},
	{name: "pubrel v3.1", rule: "MQTT-2.1.3-1", version: V31, in: []byte{0x62, 2, 0x00, 0x02}, want: &Packet{Type: PUBREL, PacketID: 2}},
	{name: "pubcomp v3.1", rule: "MQTT-2.2.1-3", version: V31, in: []byte{0x70, 2, 0x00, 0x02}, want: &Packet{Type: PUBCOMP, PacketID: 2}},
	{name: "suback v3.1", rule: "MQTT-3.9.3-2", version: V31, server: true, in: []byte{
		0x90, 3, 0x00, 0x02, // packet id
		0x01, // granted QoS 1
	}, want: &Packet{Type: SUBACK, PacketID: 2, ReasonCodes: []byte{0x01}}},
	{name: "unsubscribe v3.1", rule: "MQTT-3.10.3-1", version: V31, in: []byte{
		0xA2, 5, 0x00, 0x03, // packet id
		0x00, 0x01, 'a', // filter
	}, want: &Packet{Type: UNSUBSCRIBE, PacketID: 3, Subscriptions: []Subscription{{Filter: []byte("a")}}}},
	{name: "unsuback v3.1", rule: "MQTT-3.11.2", version: V31, server: true, in: []byte{0xB0, 2, 0x00, 0x03}, want: &Packet{Type: UNSUBACK, PacketID: 3}},
	{name: "pingresp v3.1", rule: "MQTT-5.0 §3.13", version: V31, server: true, in: []byte{0xD0, 0}, want: &Packet{Type: PINGRESP}},
	{name: "auth in v3.1 is reserved", rule: "MQTT-5.0 §2.1.2", version: V31, err: ErrReservedType, in: []byte{0xF0, 0}},
	{name: "publish v3.1 QoS 1 packet id 0", rule: "MQTT-2.2.1-3", version: V31, err: ErrPacketIDZero, in: []byte{0x32, 5, 0x00, 0x01, 't', 0x00, 0x00}},
	{name: "connect v3.1 password without user name", rule: "MQTT-3.1.2-22", version: 0, err: ErrPasswordNoUsername, in: []byte{
		0x10, 17, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03,
		0x42, // flags: password, clean
		0x00, 0x3C,
		0x00, 0x00, // client id
		0x00, 0x01, 'p', // password
	}},

	// ---------------- fixed header ----------------
	{name: "reserved type 0", rule: "MQTT-5.0 §2.1.2", version: V311, err: ErrReservedType, in: []byte{0x00, 0}},
	{name: "first packet not CONNECT", rule: "MQTT-3.1.0-1", version: 0, err: ErrFirstNotConnect, in: []byte{0x30, 3, 0x00, 0x01, 't'}},
	{name: "connect flags 1", rule: "MQTT-2.1.3-1", version: 0, err: ErrReservedFlags, in: []byte{
		0x11, 12, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00}},
	{name: "remaining length 5 bytes", rule: "MQTT-1.5.5-1", version: V311, err: ErrMalformedLength, in: []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}},
	{name: "remaining length non-minimal", rule: "MQTT-1.5.5-1", version: V311, err: ErrMalformedLength, in: []byte{0xC0, 0x80, 0x00}},
	{name: "packet too large before body arrives", rule: "MQTT-5.0 §3.2.2.3.6", version: V311, maxSize: 1024, err: ErrPacketTooLarge, in: []byte{
		0x30, 0xFF, 0xFF, 0xFF, 0x7F, // 268435455 bytes declared, none sent
	}},
}

// normalize makes nil and empty slices compare equal.
func normalize(p Packet) Packet {
	nb := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return b
	}
	np := func(pr Properties) Properties {
		for _, f := range []*[]byte{&pr.ContentType, &pr.ResponseTopic, &pr.CorrelationData, &pr.AssignedClientID,
			&pr.AuthMethod, &pr.AuthData, &pr.ResponseInfo, &pr.ServerReference, &pr.ReasonString} {
			*f = nb(*f)
		}
		if len(pr.User) == 0 {
			pr.User = nil
		} else {
			u := make([]UserProperty, len(pr.User))
			for i, x := range pr.User {
				u[i] = UserProperty{nb(x.Key), nb(x.Value)}
			}
			pr.User = u
		}
		if len(pr.SubscriptionIDs) == 0 {
			pr.SubscriptionIDs = nil
		}
		return pr
	}
	p.Props, p.WillProps = np(p.Props), np(p.WillProps)
	for _, f := range []*[]byte{&p.Topic, &p.Payload, &p.ProtocolName, &p.ClientID, &p.WillTopic, &p.WillPayload,
		&p.Username, &p.Password, &p.ReasonCodes} {
		*f = nb(*f)
	}
	if len(p.Subscriptions) == 0 {
		p.Subscriptions = nil
	} else {
		s := make([]Subscription, len(p.Subscriptions))
		copy(s, p.Subscriptions)
		for i := range s {
			s[i].Filter = nb(s[i].Filter)
		}
		p.Subscriptions = s
	}
	return p
}

func packetsEqual(a, b *Packet) bool { return reflect.DeepEqual(normalize(*a), normalize(*b)) }

func decodeDir(server bool, b []byte, version byte, maxSize int, p *Packet) (int, error) {
	if server {
		return DecodeFromServer(b, version, maxSize, p)
	}
	return Decode(b, version, maxSize, p)
}

func (g *golden) testName() string { return g.name + " [" + g.rule + "]" }

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.testName(), func(t *testing.T) {
			var p Packet
			n, err := decodeDir(g.server, g.in, g.version, g.maxSize, &p)
			if g.err != nil {
				if !errors.Is(err, g.err) {
					t.Fatalf("err = %v, want %v", err, g.err)
				}
				if n != 0 {
					t.Fatalf("n = %d on error", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if n != len(g.in) {
				t.Fatalf("n = %d, want %d", n, len(g.in))
			}
			want := *g.want
			want.Flags = g.in[0] & 0x0F
			if want.Version == 0 {
				want.Version = g.version
			}
			if !packetsEqual(&p, &want) {
				t.Fatalf("decoded\n %+v\nwant\n %+v", normalize(p), normalize(want))
			}
			out := Encode(nil, &p)
			if s := Size(&p); s != len(out) {
				t.Errorf("Size = %d, len(Encode) = %d", s, len(out))
			}
			if !g.noncanon && !bytes.Equal(out, g.in) {
				t.Errorf("Encode = % x\n    want % x", out, g.in)
			}
			var q Packet
			v := g.version
			if p.Type == CONNECT {
				v = 0
			}
			n2, err := decodeDir(g.server, out, v, 0, &q)
			if err != nil || n2 != len(out) {
				t.Fatalf("re-decode: n=%d err=%v", n2, err)
			}
			if !packetsEqual(&p, &q) {
				t.Fatalf("round trip\n %+v\nwant\n %+v", normalize(q), normalize(p))
			}
		})
	}
}

// TestGoldenCoversEverySentinel keeps the table a conformance index: every
// rule the decoder enforces has at least one case.
func TestGoldenCoversEverySentinel(t *testing.T) {
	all := []*Error{ErrMalformedLength, ErrPacketTooLarge, ErrReservedType, ErrReservedFlags, ErrFirstNotConnect,
		ErrTruncated, ErrTrailingBytes, ErrInvalidUTF8, ErrNullCharacter, ErrInvalidReason, ErrPacketIDZero,
		ErrConnackReserved, ErrProtocolName, ErrUnsupportedVersion, ErrConnectReserved, ErrWillQoSWithoutWill,
		ErrWillQoS3, ErrWillRetainNoWill, ErrPasswordNoUsername, ErrClientIDInvalid, ErrUnknownProperty,
		ErrDuplicateProperty, ErrPropertyValue, ErrReceiveMaxZero, ErrMaxPacketSizeZero, ErrSubscriptionID0,
		ErrTopicAliasZero, ErrResponseTopic, ErrQoS3, ErrDupQoS0, ErrTopicMissing, ErrPublishSubscriptionID,
		ErrTopicEmpty, ErrTopicWildcard, ErrFilterEmpty, ErrFilterMultiLevel, ErrFilterSingleLevel,
		ErrShareNameEmpty, ErrShareNameInvalid, ErrSubscribeEmpty, ErrSubscribeQoS3, ErrSubscribeReserved,
		ErrRetainHandling, ErrSharedNoLocal, ErrUnsubscribeEmpty}
	seen := map[*Error]bool{}
	for _, g := range goldens {
		if g.err != nil {
			seen[g.err] = true
		}
	}
	for _, e := range all {
		if !seen[e] {
			t.Errorf("no golden case for %q [%s]", e.Text, e.Rule)
		}
	}
}

// TestErrorCodes pins the reason codes the engine answers with.
func TestErrorCodes(t *testing.T) {
	cases := []struct {
		err  *Error
		code ReasonCode
	}{
		{ErrUnsupportedVersion, UnsupportedProtocolVersion},
		{ErrClientIDInvalid, ClientIDNotValid},
		{ErrTopicAliasZero, TopicAliasInvalid},
		{ErrPacketTooLarge, PacketTooLarge},
		{ErrTopicWildcard, TopicNameInvalid},
		{ErrFilterMultiLevel, TopicFilterInvalid},
		{ErrMalformedLength, MalformedPacket},
		{ErrDupQoS0, ProtocolError},
	}
	for _, c := range cases {
		if c.err.Code != c.code {
			t.Errorf("%s: code %#x, want %#x", c.err.Text, c.err.Code, c.code)
		}
	}
	if got := ErrTopicAliasZero.Error(); got != "topic alias is 0 [MQTT-3.3.2-8]" {
		t.Errorf("Error() = %q", got)
	}
}
