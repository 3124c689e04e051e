package engine

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// 02: SUBSCRIBE/SUBACK and UNSUBSCRIBE/UNSUBACK for 3.1.1 and v5, exact
// bytes where the reply is fully determined.

func TestSubackOneCodePerFilterInOrder_MQTT_3_9_3_1(t *testing.T) {
	b := testBroker(t, nil)
	w := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	w.send([]byte{
		0x82, 0x0e, // SUBSCRIBE, remaining 14
		0x00, 0x0a, // packet id 10
		0x00, 0x01, 'a', 0x02, // a QoS 2
		0x00, 0x01, 'b', 0x00, // b QoS 0
		0x00, 0x01, 'c', 0x01, // c QoS 1
	})
	w.expectRaw([]byte{0x90, 0x05, 0x00, 0x0a, 0x02, 0x00, 0x01}) // [MQTT-3.8.4-2] same id, [MQTT-3.9.3-1] order
}

func TestSubackGrantsAtMostMaxQoS_MQTT_3_8_4_6(t *testing.T) {
	b := testBroker(t, func(c *config.Config) { c.MQTT.MaxQoS = 1 })
	w := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	w.send([]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'q', 0x02})
	w.expectRaw([]byte{0x90, 0x03, 0x00, 0x01, 0x01}) // granted 1, not 2
}

func TestSubscribeReplacesExisting_MQTT_3_8_4_3(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "r/x", 1)
	subscribe(t, s, 2, "r/x", 0) // same filter: replaced, QoS now 0
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "r/x", "m", 1, false)
	s.expectRaw([]byte{0x30, 0x06, 0x00, 0x03, 'r', '/', 'x', 'm'}) // once, at QoS 0
	s.expectNothing(200 * time.Millisecond)
}

func TestUnsubscribe311_MQTT_3_10_4_4(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "u/1", 0)
	s.send([]byte{0xa2, 0x07, 0x00, 0x05, 0x00, 0x03, 'u', '/', '1'}) // UNSUBSCRIBE id 5
	s.expectRaw([]byte{0xb0, 0x02, 0x00, 0x05})                       // UNSUBACK same id [MQTT-3.10.4-4]
	// Unknown filter: still UNSUBACK [MQTT-3.10.4-5].
	s.send([]byte{0xa2, 0x07, 0x00, 0x06, 0x00, 0x03, 'n', '/', 'o'})
	s.expectRaw([]byte{0xb0, 0x02, 0x00, 0x06})
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "u/1", "gone", 1, false)
	s.expectNothing(200 * time.Millisecond) // no longer subscribed [MQTT-3.10.4-1]
}

func TestUnsubackV5ReasonPerFilter_MQTT_3_11_3_1(t *testing.T) {
	b := testBroker(t, nil)
	s, _ := connect5(t, b.Addr("tcp"), "s", true, nil)
	subscribeOpts(t, s, 1, 0, sub("u/1", 0))
	s.send([]byte{0xa2, 0x0b, 0x00, 0x07, 0x00, // UNSUBSCRIBE id 7, no properties
		0x00, 0x03, 'u', '/', '1',
		0x00, 0x01, 'z'})
	s.expectRaw([]byte{0xb0, 0x05, 0x00, 0x07, 0x00, 0x00, 0x11}) // success, no subscription existed
}

func TestSubackV5ReasonCodes(t *testing.T) {
	cases := []struct {
		name   string
		mod    func(c *config.Config)
		filter string
		qos    byte
		want   byte
	}{
		{"granted QoS 2 [MQTT-3.8.4-6]", nil, "a/b", 2, 0x02},
		{"granted QoS 1 [MQTT-3.8.4-6]", nil, "a/+", 1, 0x01},
		{"shared subscriptions off: 0x9E [MQTT-3.8.4-6]", func(c *config.Config) { f := false; c.MQTT.SharedSubscriptions = &f }, "$share/g/a", 1, 0x9e},
		{"wildcards off: 0xA2 [MQTT-3.8.4-6]", func(c *config.Config) { f := false; c.MQTT.WildcardSubscriptions = &f }, "a/#", 1, 0xa2},
		{"max QoS 0: granted 0 [MQTT-3.8.4-6]", func(c *config.Config) { c.MQTT.MaxQoS = 0 }, "a", 2, 0x00},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := testBroker(t, tc.mod)
			s, _ := connect5(t, b.Addr("tcp"), "s", true, nil)
			f := []byte(tc.filter)
			pkt := []byte{0x82, byte(2 + 1 + 2 + len(f) + 1), 0x00, 0x09, 0x00, 0x00, byte(len(f))}
			pkt = append(pkt, f...)
			pkt = append(pkt, tc.qos)
			s.send(pkt)
			s.expectRaw([]byte{0x90, 0x04, 0x00, 0x09, 0x00, tc.want})
		})
	}
}

func TestSubscribeInvalidFilter(t *testing.T) {
	cases := []struct {
		name   string
		ver    byte
		filter string
		want   []byte
	}{
		{"3.1.1 '#' not last closes [MQTT-4.7.1-2]", codec.V311, "a/#/b", nil},
		{"3.1.1 '+' not alone closes [MQTT-4.7.1-3]", codec.V311, "a/b+", nil},
		{"3.1.1 empty filter closes [MQTT-4.7.3-1]", codec.V311, "", nil},
		{"v5 '#' not last: DISCONNECT 0x8F [MQTT-4.7.1-2]", codec.V5, "a#", disconnectV5(0x8f)},
		{"v5 '+' not alone: DISCONNECT 0x8F [MQTT-4.7.1-3]", codec.V5, "+a/b", disconnectV5(0x8f)},
		{"v5 empty share name: DISCONNECT 0x8F [MQTT-4.8.2-1]", codec.V5, "$share//a", disconnectV5(0x8f)},
		{"v5 share name with wildcard: DISCONNECT 0x8F [MQTT-4.8.2-2]", codec.V5, "$share/g+/a", disconnectV5(0x8f)},
		{"v5 share without filter: DISCONNECT 0x8F [MQTT-4.8.2-2]", codec.V5, "$share/g", disconnectV5(0x8f)},
	}
	b := testBroker(t, nil)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := connectWire(t, b.Addr("tcp"), fmt.Sprint("inv", i), tc.ver, true)
			f := []byte(tc.filter)
			pkt := []byte{0x82, 0, 0x00, 0x01}
			if tc.ver == codec.V5 {
				pkt = append(pkt, 0x00)
			}
			pkt = append(pkt, 0x00, byte(len(f)))
			pkt = append(pkt, f...)
			pkt = append(pkt, 0x00)
			pkt[1] = byte(len(pkt) - 2)
			w.send(pkt)
			w.expectCloseWith(tc.want)
		})
	}
}

func TestSubscribeReservedOptionBits_MQTT_3_8_3_5(t *testing.T) {
	b := testBroker(t, nil)
	t.Run("v5 reserved bits 6-7 set: DISCONNECT 0x81 [MQTT-3.8.3-5]", func(t *testing.T) {
		w, _ := connect5(t, b.Addr("tcp"), "r5", true, nil)
		w.send([]byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0xc1})
		w.expectCloseWith(disconnectV5(0x81))
	})
	t.Run("v5 retain handling 3: DISCONNECT 0x82 [MQTT-3.8.3-5]", func(t *testing.T) {
		w, _ := connect5(t, b.Addr("tcp"), "rh3", true, nil)
		w.send([]byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x30})
		w.expectCloseWith(disconnectV5(0x82))
	})
	t.Run("3.1.1 bits above QoS set closes [MQTT-3-8.3-4]", func(t *testing.T) {
		w := connectWire(t, b.Addr("tcp"), "r4", codec.V311, true)
		w.send([]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x04})
		w.expectCloseWith(nil)
	})
	t.Run("v5 no local on a shared subscription: DISCONNECT 0x82 [MQTT-3.8.3-4]", func(t *testing.T) {
		w, _ := connect5(t, b.Addr("tcp"), "nl", true, nil)
		f := []byte("$share/g/a")
		pkt := append([]byte{0x82, byte(6 + len(f)), 0x00, 0x01, 0x00, 0x00, byte(len(f))}, f...)
		w.send(append(pkt, 0x05)) // QoS 1 + no local
		w.expectCloseWith(disconnectV5(0x82))
	})
}

func TestSharedSubscriptionOneMemberEach_MQTT_4_8_2(t *testing.T) {
	b := testBroker(t, nil)
	m1, _ := connect5(t, b.Addr("tcp"), "m1", true, nil)
	m2, _ := connect5(t, b.Addr("tcp"), "m2", true, nil)
	plain, _ := connect5(t, b.Addr("tcp"), "plain", true, nil)
	subscribeOpts(t, m1, 1, 0, sub("$share/g/sh/+", 0))
	subscribeOpts(t, m2, 1, 0, sub("$share/g/sh/+", 0))
	subscribeOpts(t, plain, 1, 0, sub("sh/+", 0))
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	const n = 20
	for i := 0; i < n; i++ {
		p.sendPacket(&codec.Packet{Type: codec.PUBLISH, Topic: []byte("sh/x"), Payload: []byte(fmt.Sprint(i))})
	}
	p.sync()
	seen := map[string]int{}
	for _, m := range []*wire{m1, m2} {
		for {
			raw, err := m.readRaw(300 * time.Millisecond)
			if err != nil {
				break
			}
			var pk codec.Packet
			if _, err := codec.DecodeFromServer(raw, codec.V5, 0, &pk); err != nil {
				t.Fatal(err)
			}
			seen[string(pk.Payload)]++
		}
	}
	if len(seen) != n {
		t.Fatalf("group received %d distinct of %d messages", len(seen), n)
	}
	for k, v := range seen {
		if v != 1 {
			t.Fatalf("message %s delivered %d times to the group, want once", k, v)
		}
	}
	for i := 0; i < n; i++ { // the non-shared subscriber still gets every message
		if got := plain.recv(codec.PUBLISH); string(got.Payload) != fmt.Sprint(i) {
			t.Fatalf("plain subscriber got %q, want %d", got.Payload, i)
		}
	}
}

func TestOverlappingSubscriptionsOnceAtMaxQoS_MQTT_3_3_5_1(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "ov/+", 0)
	subscribe(t, s, 2, "ov/#", 2)
	subscribe(t, s, 3, "ov/x", 1)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "ov/x", "m", 2, false)
	got := s.expect(codec.PUBLISH)
	if got.QoS != 2 || string(got.Payload) != "m" {
		t.Fatalf("delivered %+v, want once at QoS 2", got)
	}
	s.sendPacket(&codec.Packet{Type: codec.PUBREC, PacketID: got.PacketID})
	s.expect(codec.PUBREL)
	s.sendPacket(&codec.Packet{Type: codec.PUBCOMP, PacketID: got.PacketID})
	s.expectNothing(300 * time.Millisecond) // one copy [MQTT-3.3.5-1]
}

func TestOverlappingSubscriptionIdentifiersMerged_MQTT_3_3_4_4(t *testing.T) {
	b := testBroker(t, nil)
	s, _ := connect5(t, b.Addr("tcp"), "s", true, nil)
	subscribeOpts(t, s, 1, 5, sub("id/+", 0))
	subscribeOpts(t, s, 2, 7, sub("id/#", 1))
	subscribeOpts(t, s, 3, 0, sub("id/x", 0)) // no identifier
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "id/x", "m", 1, false)
	got := s.recv(codec.PUBLISH)
	ids := slices.Clone(got.Props.SubscriptionIDs)
	slices.Sort(ids)
	if got.QoS != 1 || !slices.Equal(ids, []uint32{5, 7}) {
		t.Fatalf("delivered QoS %d with subscription ids %v, want one QoS 1 copy with [5 7] [MQTT-3.3.4-3] [MQTT-3.3.4-4]", got.QoS, got.Props.SubscriptionIDs)
	}
	s.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: got.PacketID})
	s.expectNothing(300 * time.Millisecond)
}

func TestNoLocal_MQTT_3_8_3_3(t *testing.T) {
	b := testBroker(t, nil)
	s, _ := connect5(t, b.Addr("tcp"), "self", true, nil)
	subscribeOpts(t, s, 1, 0, codec.Subscription{Filter: []byte("nl"), QoS: 0, NoLocal: true})
	s.sendPacket(&codec.Packet{Type: codec.PUBLISH, Topic: []byte("nl"), Payload: []byte("own")})
	s.sync() // PINGRESP comes first and alone: the own message is not forwarded
	other := connectWire(t, b.Addr("tcp"), "other", codec.V311, true)
	other.sendPacket(&codec.Packet{Type: codec.PUBLISH, Topic: []byte("nl"), Payload: []byte("theirs")})
	if got := s.recv(codec.PUBLISH); string(got.Payload) != "theirs" {
		t.Fatalf("got %q", got.Payload)
	}
}

func TestRetainAsPublished_MQTT_3_3_1_12(t *testing.T) {
	b := testBroker(t, nil)
	rap, _ := connect5(t, b.Addr("tcp"), "rap", true, nil)
	plain, _ := connect5(t, b.Addr("tcp"), "plain", true, nil)
	subscribeOpts(t, rap, 1, 0, codec.Subscription{Filter: []byte("rp"), RetainAsPublished: true})
	subscribeOpts(t, plain, 1, 0, codec.Subscription{Filter: []byte("rp")})
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	p.send([]byte{0x31, 0x05, 0x00, 0x02, 'r', 'p', 'v'})                // retained, QoS 0
	rap.expectRaw([]byte{0x31, 0x06, 0x00, 0x02, 'r', 'p', 0x00, 'v'})   // RETAIN kept [MQTT-3.3.1-13]
	plain.expectRaw([]byte{0x30, 0x06, 0x00, 0x02, 'r', 'p', 0x00, 'v'}) // RETAIN cleared [MQTT-3.3.1-12]
}

func TestRetainHandling(t *testing.T) {
	b := testBroker(t, nil)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "rh/a", "kept", 1, true)
	retainedRaw := []byte{0x31, 0x0b, 0x00, 0x04, 'r', 'h', '/', 'a', 0x00, 'k', 'e', 'p', 't'}
	cases := []struct {
		name       string
		rh         byte
		first, gen bool // retained sent on the first subscribe / on re-subscribing the same filter
	}{
		{"0 sends at every subscribe [MQTT-3.3.1-9]", 0, true, true},
		{"1 sends only for a new subscription [MQTT-3.3.1-10]", 1, true, false},
		{"2 never sends [MQTT-3.3.1-11]", 2, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := connect5(t, b.Addr("tcp"), "rh"+fmt.Sprint(tc.rh), true, nil)
			for i, want := range []bool{tc.first, tc.gen} {
				subscribeOpts(t, s, uint16(i+1), 0, codec.Subscription{Filter: []byte("rh/+"), RetainHandling: tc.rh})
				if want {
					s.expectRaw(retainedRaw)
				}
				s.sync() // nothing (else) queued before the PINGRESP
			}
		})
	}
}

func TestSubscribePublishMQTT31(t *testing.T) {
	b := testBroker(t, nil)
	s := dial(t, b.Addr("tcp"))
	s.ver = codec.V31
	s.send([]byte{0x10, 0x10, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03, 0x02, 0x00, 0x1e, 0x00, 0x02, 's', '1'})
	s.expectRaw([]byte{0x20, 0x02, 0x00, 0x00})
	s.send([]byte{0x82, 0x06, 0x00, 0x02, 0x00, 0x01, 't', 0x01})
	s.expectRaw([]byte{0x90, 0x03, 0x00, 0x02, 0x01}) // [MQTT-3.8.4-2]
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "t", "v31", 1, false)
	m := s.expect(codec.PUBLISH)
	if m.QoS != 1 || string(m.Payload) != "v31" {
		t.Fatalf("3.1 delivery %+v", m)
	}
	s.send([]byte{0x40, 0x02, byte(m.PacketID >> 8), byte(m.PacketID)})
	s.sync()
}
