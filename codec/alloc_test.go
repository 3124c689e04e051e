//go:build !race

package codec

import "testing"

func TestDecodeAllocs(t *testing.T) {
	cases := []struct {
		name    string
		version byte
		in      []byte
	}{
		{"publish v3.1.1", V311, AppendPublish(nil, V311, false, 1, false, "sensors/1/temp", 7, nil, make([]byte, 64))},
		{"publish v5 props", V5, publishV5WithProps()},
		{"puback v5", V5, AppendAck(nil, V5, PUBACK, 7, 0, nil)},
		{"subscribe v5", V5, Encode(nil, &Packet{Type: SUBSCRIBE, Version: V5, PacketID: 1,
			Subscriptions: []Subscription{{Filter: []byte("a/+")}, {Filter: []byte("b/#"), QoS: 1}}})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			allocs := testing.AllocsPerRun(100, func() {
				if _, err := Decode(c.in, c.version, 0, &p); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("Decode allocates %.1f per packet", allocs)
			}
		})
	}
}

func TestEncodeAllocs(t *testing.T) {
	props := Properties{Present: 1 << PropTopicAlias, TopicAlias: 3, SubscriptionIDs: []uint32{4},
		User: []UserProperty{{[]byte("k"), []byte("v")}}}
	payload := make([]byte, 64)
	dst := make([]byte, 0, 512)
	if a := testing.AllocsPerRun(100, func() {
		dst = AppendPublish(dst[:0], V5, false, 1, false, "a/b/c", 9, &props, payload)
	}); a != 0 {
		t.Fatalf("AppendPublish v5 allocates %.1f", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		dst = AppendPublish(dst[:0], V311, false, 0, false, "a/b/c", 0, nil, payload)
	}); a != 0 {
		t.Fatalf("AppendPublish v3.1.1 allocates %.1f", a)
	}
	rs := Properties{Present: 1 << PropReasonString, ReasonString: []byte("quota")}
	if a := testing.AllocsPerRun(100, func() {
		dst = AppendAck(dst[:0], V5, PUBACK, 9, 0x97, &rs)
		dst = AppendAck(dst, V5, PUBREL, 9, 0, nil)
		dst = AppendAck(dst, V311, PUBCOMP, 9, 0, nil)
	}); a != 0 {
		t.Fatalf("AppendAck allocates %.1f", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		_ = PublishSize(V5, 1, "a/b/c", &props, 64)
	}); a != 0 {
		t.Fatalf("PublishSize allocates %.1f", a)
	}
	p := Packet{Type: PUBLISH, Version: V5, QoS: 1, PacketID: 3, Topic: []byte("a/b"), Payload: payload, Props: props}
	if a := testing.AllocsPerRun(100, func() {
		dst = Encode(dst[:0], &p)
	}); a != 0 {
		t.Fatalf("Encode PUBLISH allocates %.1f", a)
	}
}
