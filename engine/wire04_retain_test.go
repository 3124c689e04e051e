package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
)

// 04: retained messages: replace, delete, wildcard delivery, QoS downgrade,
// v5 retain handling and shared subscriptions.

func TestRetainedReplaced_MQTT_3_3_1_5(t *testing.T) {
	b := testBroker(t, nil)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "rr", "v1", 1, true)
	publish(t, p, 2, "rr", "v2", 1, true) // replaces v1
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "rr", 0)
	s.expectRaw([]byte{0x31, 0x06, 0x00, 0x02, 'r', 'r', 'v', '2'})
	s.expectNothing(200 * time.Millisecond)
}

func TestRetainedDeletedByEmptyPayload_MQTT_3_3_1_6(t *testing.T) {
	b := testBroker(t, nil)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "rd", "v", 1, true)
	p.send([]byte{0x33, 0x06, 0x00, 0x02, 'r', 'd', 0x00, 0x02}) // QoS 1 retain, empty payload
	p.expectRaw([]byte{0x40, 0x02, 0x00, 0x02})
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "rd", 1)
	s.expectNothing(200 * time.Millisecond) // deleted, and the empty message is not stored [MQTT-3.3.1-7]
}

func TestRetainedNotReplacedByNonRetained_MQTT_3_3_1_8(t *testing.T) {
	b := testBroker(t, nil)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "rn", "keep", 1, true)
	publish(t, p, 2, "rn", "transient", 1, false)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "rn", 0)
	s.expectRaw([]byte{0x31, 0x08, 0x00, 0x02, 'r', 'n', 'k', 'e', 'e', 'p'})
}

func TestRetainedWildcardDelivery_MQTT_3_3_1_9(t *testing.T) {
	b := testBroker(t, nil)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	for i, topic := range []string{"w/a", "w/b", "w/a/deep", "x/y", "$sys-like/w"} {
		publish(t, p, uint16(i+1), topic, topic, 1, true)
	}
	cases := []struct {
		filter string
		want   []string
	}{
		{"w/+", []string{"w/a", "w/b"}},
		{"w/#", []string{"w/a", "w/a/deep", "w/b"}},
		{"#", []string{"w/a", "w/a/deep", "w/b", "x/y"}}, // never "$sys-like/w" [MQTT-4.7.2-1]
		{"+/+", []string{"w/a", "w/b", "x/y"}},           // never "$sys-like/w" [MQTT-4.7.2-1]
	}
	for i, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			s := connectWire(t, b.Addr("tcp"), "s"+string(rune('0'+i)), codec.V311, true)
			subscribe(t, s, 1, tc.filter, 1)
			var got []string
			for range tc.want {
				m := s.expect(codec.PUBLISH)
				if !m.Retain || m.QoS != 1 || string(m.Payload) != string(m.Topic) {
					t.Fatalf("retained delivery %+v", m)
				}
				got = append(got, string(m.Topic))
				s.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: m.PacketID})
			}
			s.expectNothing(200 * time.Millisecond)
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestRetainedDollarTopicNotMatchedByWildcard_MQTT_4_7_2_1(t *testing.T) {
	b := testBroker(t, nil)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "$dollar/x", "v", 1, true)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "#", 0)
	subscribe(t, s, 2, "+/x", 0)
	s.expectNothing(200 * time.Millisecond)
	subscribe(t, s, 3, "$dollar/+", 0)
	s.expectRaw([]byte{0x31, 0x0c, 0x00, 0x09, '$', 'd', 'o', 'l', 'l', 'a', 'r', '/', 'x', 'v'})
}

func TestRetainedQoSDowngraded_MQTT_3_8_4_8(t *testing.T) {
	b := testBroker(t, nil)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "rq", "two", 2, true)
	s0 := connectWire(t, b.Addr("tcp"), "s0", codec.V311, true)
	subscribe(t, s0, 1, "rq", 0)
	s0.expectRaw([]byte{0x31, 0x07, 0x00, 0x02, 'r', 'q', 't', 'w', 'o'}) // QoS 0, RETAIN 1
	s1 := connectWire(t, b.Addr("tcp"), "s1", codec.V311, true)
	subscribe(t, s1, 1, "rq", 1)
	m := s1.expect(codec.PUBLISH)
	if m.QoS != 1 || !m.Retain || m.PacketID == 0 {
		t.Fatalf("retained at subscription QoS 1: %+v", m)
	}
	s2 := connectWire(t, b.Addr("tcp"), "s2", codec.V311, true)
	subscribe(t, s2, 1, "rq", 2)
	if m := s2.expect(codec.PUBLISH); m.QoS != 2 || !m.Retain {
		t.Fatalf("retained at QoS 2: %+v", m)
	}
}

func TestRetainedV5PropertiesKept_MQTT_3_3_2_17(t *testing.T) {
	b := testBroker(t, nil)
	p, _ := connect5(t, b.Addr("tcp"), "p", true, nil)
	pk := &codec.Packet{Type: codec.PUBLISH, QoS: 1, PacketID: 1, Retain: true, Topic: []byte("rv"), Payload: []byte("x")}
	pk.Props.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
	pk.Props.ContentType = []byte("text/plain")
	pk.Props.Present |= 1<<codec.PropUser | 1<<codec.PropContentType
	p.sendPacket(pk)
	p.recv(codec.PUBACK)
	s, _ := connect5(t, b.Addr("tcp"), "s", true, nil)
	subscribeOpts(t, s, 1, 0, sub("rv", 0))
	m := s.recv(codec.PUBLISH)
	if !m.Retain || string(m.Props.ContentType) != "text/plain" || len(m.Props.User) != 1 || string(m.Props.User[0].Value) != "v" {
		t.Fatalf("retained v5 message %+v", m)
	}
}

func TestRetainedNotSentToSharedSubscription_MQTT_4_8_2(t *testing.T) {
	b := testBroker(t, nil)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "rs/a", "kept", 1, true)
	s, _ := connect5(t, b.Addr("tcp"), "s", true, nil)
	if ack := subscribeOpts(t, s, 1, 0, sub("$share/g/rs/+", 1)); ack.ReasonCodes[0] != 1 {
		t.Fatalf("SUBACK %v", ack.ReasonCodes)
	}
	s.sync() // no retained message before the PINGRESP
	// New messages still flow to the group.
	publish(t, p, 2, "rs/a", "live", 0, false)
	if m := s.recv(codec.PUBLISH); string(m.Payload) != "live" || m.Retain {
		t.Fatalf("shared delivery %+v", m)
	}
}

func TestRetainedExpiredNotSent_MQTT_3_3_2_5(t *testing.T) {
	t.Parallel()
	b := testBroker(t, nil)
	p, _ := connect5(t, b.Addr("tcp"), "p", true, nil)
	pk := &codec.Packet{Type: codec.PUBLISH, Retain: true, Topic: []byte("re"), Payload: []byte("short")}
	pk.Props.MessageExpiry = 1
	pk.Props.Present |= 1 << codec.PropMessageExpiry
	p.sendPacket(pk)
	p.sync()
	time.Sleep(2100 * time.Millisecond)
	s, _ := connect5(t, b.Addr("tcp"), "s", true, nil)
	subscribeOpts(t, s, 1, 0, sub("re", 1))
	s.sync()
}
