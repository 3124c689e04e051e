package codec

import (
	"bytes"
	"testing"
)

func fullProps() Properties {
	p := Properties{
		PayloadFormat: 1, MessageExpiry: 7, ContentType: []byte("ct"), ResponseTopic: []byte("r/t"),
		CorrelationData: []byte{0, 1}, SubscriptionIDs: []uint32{1, 300, MaxVarint}, SessionExpiry: 9,
		AssignedClientID: []byte("ac"), ServerKeepAlive: 11, AuthMethod: []byte("am"), AuthData: []byte{2},
		RequestProblemInfo: 1, WillDelay: 12, RequestResponseInfo: 1, ResponseInfo: []byte("ri"),
		ServerReference: []byte("sr"), ReasonString: []byte("rs"), ReceiveMaximum: 13, TopicAliasMaximum: 14,
		TopicAlias: 15, MaximumQoS: 1, RetainAvailable: 1, MaximumPacketSize: 16, WildcardSubAvailable: 1,
		SubIDAvailable: 1, SharedSubAvailable: 1,
		User: []UserProperty{{[]byte("k1"), []byte("v1")}, {[]byte("k2"), []byte("")}},
	}
	for id, pi := range propTable {
		if pi.kind != 0 {
			p.Present |= 1 << id
		}
	}
	return p
}

// TestAppendPropertiesAllRoundTrip: every property written by
// AppendProperties parses back in a context that allows it.
func TestAppendPropertiesAllRoundTrip(t *testing.T) {
	src := fullProps()
	b := AppendProperties(nil, &src)
	if len(b) != PropertiesSize(&src) {
		t.Fatalf("len %d, PropertiesSize %d", len(b), PropertiesSize(&src))
	}
	// Decode with a context that allows everything (all packet types + will).
	var got Properties
	n, err := decodeProperties(b, ctxAll, &got)
	if err != nil || n != len(b) {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if !packetsEqual(&Packet{Props: src}, &Packet{Props: got}) {
		t.Fatalf("got %+v\nwant %+v", got, src)
	}
}

func TestAppendPropertiesEmpty(t *testing.T) {
	if b := AppendProperties(nil, nil); !bytes.Equal(b, []byte{0}) || PropertiesSize(nil) != 1 {
		t.Fatalf("nil props: % x", b)
	}
}

// TestEncodeFiltersProperties: properties not allowed for the packet type are
// not written (Encode ignores fields not valid for the type).
func TestEncodeFiltersProperties(t *testing.T) {
	p := Packet{Type: PUBACK, Version: V5, PacketID: 1, Props: fullProps()}
	b := Encode(nil, &p)
	var q Packet
	if _, err := Decode(b, V5, 0, &q); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if q.Props.Present != 1<<PropReasonString|1<<PropUser {
		t.Fatalf("present = %b", q.Props.Present)
	}
	for _, typ := range []PacketType{CONNECT, CONNACK, PUBLISH, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH} {
		p := Packet{Type: typ, Version: V5, PacketID: 1, Props: fullProps(), Topic: []byte("t"),
			Subscriptions: []Subscription{{Filter: []byte("f")}}, ReasonCodes: []byte{0}}
		b := Encode(nil, &p)
		if len(b) != Size(&p) {
			t.Errorf("%v: Size %d, len %d", typ, Size(&p), len(b))
		}
		var q Packet
		v := V5
		if typ == CONNECT {
			v = 0
		}
		if _, err := DecodeFromServer(b, v, 0, &q); err != nil {
			t.Errorf("%v: decode of encoded packet: %v", typ, err)
		}
	}
}

func TestPropertiesClone(t *testing.T) {
	buf := []byte("ctrtkv")
	p := Properties{Present: 1<<PropContentType | 1<<PropUser, ContentType: buf[0:2], ResponseTopic: buf[2:4],
		User: []UserProperty{{buf[4:5], buf[5:6]}}, SubscriptionIDs: []uint32{3}}
	c := p.Clone()
	for i := range buf {
		buf[i] = 'X'
	}
	p.SubscriptionIDs[0] = 9
	if string(c.ContentType) != "ct" || string(c.ResponseTopic) != "rt" || string(c.User[0].Key) != "k" ||
		string(c.User[0].Value) != "v" || c.SubscriptionIDs[0] != 3 || c.Present != p.Present {
		t.Fatalf("clone shares memory: %+v", c)
	}
	if c.CorrelationData != nil {
		t.Fatal("nil field became non-nil")
	}
	// Appending to one cloned field must not overwrite the next.
	c.ContentType = append(c.ContentType, 'z')
	if string(c.ResponseTopic) != "rt" {
		t.Fatal("cloned fields overlap")
	}
}

func TestPropertiesReset(t *testing.T) {
	p := fullProps()
	userCap, idCap := cap(p.User), cap(p.SubscriptionIDs)
	p.Reset()
	if p.Present != 0 || p.ContentType != nil || p.TopicAlias != 0 || len(p.User) != 0 || len(p.SubscriptionIDs) != 0 {
		t.Fatalf("not reset: %+v", p)
	}
	if cap(p.User) != userCap || cap(p.SubscriptionIDs) != idCap {
		t.Fatal("capacity lost")
	}
}

func TestAppendAck(t *testing.T) {
	rs := Properties{Present: 1 << PropReasonString, ReasonString: []byte("x")}
	cases := []struct {
		name    string
		version byte
		t       PacketType
		reason  byte
		props   *Properties
		want    []byte
	}{
		{"v3.1.1 puback", V311, PUBACK, 0, nil, []byte{0x40, 2, 0, 7}},
		{"v3.1.1 ignores reason", V311, PUBREC, 0x80, &rs, []byte{0x50, 2, 0, 7}},
		{"v3.1.1 pubrel flags [MQTT-2.1.3-1]", V311, PUBREL, 0, nil, []byte{0x62, 2, 0, 7}},
		{"v5 shortest form [MQTT-5.0 §3.4.2.1]", V5, PUBACK, 0, nil, []byte{0x40, 2, 0, 7}},
		{"v5 empty props shortest", V5, PUBCOMP, 0, &Properties{}, []byte{0x70, 2, 0, 7}},
		{"v5 reason only", V5, PUBREC, 0x10, nil, []byte{0x50, 3, 0, 7, 0x10}},
		{"v5 reason and props", V5, PUBACK, 0x80, &rs, []byte{0x40, 8, 0, 7, 0x80, 4, 0x1F, 0, 1, 'x'}},
		{"v5 props with reason 0", V5, PUBREL, 0, &rs, []byte{0x62, 8, 0, 7, 0x00, 4, 0x1F, 0, 1, 'x'}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := AppendAck(nil, c.version, c.t, 7, c.reason, c.props)
			if !bytes.Equal(got, c.want) {
				t.Fatalf("got % x, want % x", got, c.want)
			}
			p := Packet{Type: c.t, Version: c.version, PacketID: 7, ReasonCode: c.reason}
			if c.props != nil {
				p.Props = *c.props
			}
			if s := Size(&p); s != len(got) {
				t.Fatalf("Size = %d", s)
			}
		})
	}
}

func TestAppendPublish(t *testing.T) {
	props := Properties{Present: 1<<PropTopicAlias | 1<<PropSessionExpiry, TopicAlias: 3, SessionExpiry: 5}
	for _, v := range []byte{V31, V311, V5} {
		for qos := byte(0); qos < 3; qos++ {
			b := AppendPublish(nil, v, qos > 0, qos, true, "a/b", 9, &props, []byte("pl"))
			if PublishSize(v, qos, "a/b", &props, 2) != len(b) {
				t.Fatalf("v%d qos%d: PublishSize %d, len %d", v, qos, PublishSize(v, qos, "a/b", &props, 2), len(b))
			}
			var p Packet
			n, err := Decode(b, v, 0, &p)
			if err != nil || n != len(b) {
				t.Fatalf("v%d qos%d: n=%d err=%v", v, qos, n, err)
			}
			if string(p.Topic) != "a/b" || p.QoS != qos || !p.Retain || p.Dup != (qos > 0) || string(p.Payload) != "pl" {
				t.Fatalf("v%d qos%d: %+v", v, qos, p)
			}
			if qos > 0 && p.PacketID != 9 {
				t.Fatalf("packet id %d", p.PacketID)
			}
			if v == V5 && (p.Props.TopicAlias != 3 || p.Props.Has(PropSessionExpiry)) {
				t.Fatalf("v5 props: %+v (session expiry must be filtered out of PUBLISH)", p.Props)
			}
		}
	}
	// Dup is dropped on QoS 0 so the packet stays valid [MQTT-3.3.1-2].
	b := AppendPublish(nil, V311, true, 0, false, "t", 0, nil, nil)
	if b[0] != 0x30 {
		t.Fatalf("dup on QoS 0 encoded: %#x", b[0])
	}
}
