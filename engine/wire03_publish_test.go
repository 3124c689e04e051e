package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
)

// 02/03: SUBSCRIBE and PUBLISH at QoS 0, 1, 2, exact bytes.

func subscribe(t testing.TB, w *wire, id uint16, filter string, qos byte) {
	t.Helper()
	w.sendPacket(&codec.Packet{Type: codec.SUBSCRIBE, PacketID: id, Subscriptions: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}})
	p := w.expect(codec.SUBACK)
	if p.PacketID != id || len(p.ReasonCodes) != 1 || p.ReasonCodes[0] != qos {
		t.Fatalf("SUBACK %+v, want id %d granted %d", p, id, qos)
	}
}

func TestSubscribePublishQoS0Exact(t *testing.T) {
	b := testBroker(t, nil)
	sub := connectWire(t, b.Addr("tcp"), "sub", codec.V311, true)
	sub.send([]byte{
		0x82, 0x08, // SUBSCRIBE, reserved flags 0010 [MQTT-3.8.1-1]
		0x00, 0x01, // packet id 1
		0x00, 0x03, 'a', '/', 'b', // filter
		0x00, // QoS 0
	})
	sub.expectRaw([]byte{0x90, 0x03, 0x00, 0x01, 0x00}) // SUBACK [MQTT-3.8.4-1]
	pub := connectWire(t, b.Addr("tcp"), "pub", codec.V311, true)
	pub.send([]byte{0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'})
	sub.expectRaw([]byte{0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'})
}

func TestPublishQoS1Acked_MQTT_4_3_2_4(t *testing.T) {
	b := testBroker(t, nil)
	sub := connectWire(t, b.Addr("tcp"), "sub", codec.V311, true)
	subscribe(t, sub, 1, "q/1", 1)
	pub := connectWire(t, b.Addr("tcp"), "pub", codec.V311, true)
	pub.send([]byte{0x32, 0x08, 0x00, 0x03, 'q', '/', '1', 0x00, 0x07, 'x'})
	pub.expectRaw([]byte{0x40, 0x02, 0x00, 0x07}) // PUBACK with the same packet id
	p := sub.expect(codec.PUBLISH)
	if p.QoS != 1 || string(p.Payload) != "x" || p.PacketID == 0 {
		t.Fatalf("delivered %+v", p)
	}
	sub.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: p.PacketID})
}

func TestPublishQoS2ExactlyOnce_MQTT_4_3_3_10(t *testing.T) {
	b := testBroker(t, nil)
	sub := connectWire(t, b.Addr("tcp"), "sub", codec.V311, true)
	subscribe(t, sub, 1, "q/2", 2)
	pub := connectWire(t, b.Addr("tcp"), "pub", codec.V311, true)
	msg := []byte{0x34, 0x08, 0x00, 0x03, 'q', '/', '2', 0x00, 0x09, 'y'}
	pub.send(msg)
	pub.expectRaw([]byte{0x50, 0x02, 0x00, 0x09}) // PUBREC
	// The publisher retransmits before PUBREL (DUP set): acknowledged again, not delivered again.
	dup := append([]byte(nil), msg...)
	dup[0] |= 0x08
	pub.send(dup)
	pub.expectRaw([]byte{0x50, 0x02, 0x00, 0x09})
	pub.send([]byte{0x62, 0x02, 0x00, 0x09})      // PUBREL
	pub.expectRaw([]byte{0x70, 0x02, 0x00, 0x09}) // PUBCOMP [MQTT-4.3.3-11]

	p := sub.expect(codec.PUBLISH)
	if p.QoS != 2 || string(p.Payload) != "y" {
		t.Fatalf("delivered %+v", p)
	}
	sub.sendPacket(&codec.Packet{Type: codec.PUBREC, PacketID: p.PacketID})
	rel := sub.expect(codec.PUBREL)
	if rel.PacketID != p.PacketID {
		t.Fatalf("PUBREL id %d, want %d", rel.PacketID, p.PacketID)
	}
	sub.sendPacket(&codec.Packet{Type: codec.PUBCOMP, PacketID: p.PacketID})
	sub.expectNothing(300 * time.Millisecond) // exactly once
}

func TestQoSDowngradedToSubscription_MQTT_3_8_4_8(t *testing.T) {
	b := testBroker(t, nil)
	sub := connectWire(t, b.Addr("tcp"), "sub", codec.V311, true)
	subscribe(t, sub, 1, "d/+", 0)
	pub := connectWire(t, b.Addr("tcp"), "pub", codec.V311, true)
	pub.sendPacket(&codec.Packet{Type: codec.PUBLISH, QoS: 2, PacketID: 3, Topic: []byte("d/x"), Payload: []byte("z")})
	pub.expect(codec.PUBREC)
	sub.expectRaw([]byte{0x30, 0x06, 0x00, 0x03, 'd', '/', 'x', 'z'})
}

func TestDollarTopicsNotMatchedByWildcard_MQTT_4_7_2_1(t *testing.T) {
	b := testBroker(t, nil)
	sub := connectWire(t, b.Addr("tcp"), "sub", codec.V311, true)
	subscribe(t, sub, 1, "#", 0)
	pub := connectWire(t, b.Addr("tcp"), "pub", codec.V311, true)
	pub.sendPacket(&codec.Packet{Type: codec.PUBLISH, Topic: []byte("$x/y"), Payload: []byte("no")})
	sub.expectNothing(300 * time.Millisecond)
}

func TestInflightWindowAndOrder_MQTT_4_6_0_6(t *testing.T) {
	b := testBroker(t, nil) // receive_maximum 20 for 3.1.1 clients
	sub := connectWire(t, b.Addr("tcp"), "sub", codec.V311, true)
	subscribe(t, sub, 1, "o", 1)
	pub := connectWire(t, b.Addr("tcp"), "pub", codec.V311, true)
	const n = 50
	for i := 0; i < n; i++ {
		pub.sendPacket(&codec.Packet{Type: codec.PUBLISH, QoS: 1, PacketID: uint16(i + 1), Topic: []byte("o"), Payload: []byte(fmt.Sprint(i))})
	}
	got := 0
	var held []uint16
	for got < n {
		p := sub.expect(codec.PUBLISH)
		if string(p.Payload) != fmt.Sprint(got) {
			t.Fatalf("message %d arrived as %q: order broken", got, p.Payload)
		}
		got++
		held = append(held, p.PacketID)
		if len(held) == 20 {
			// The window is full: nothing more until we acknowledge.
			sub.expectNothing(200 * time.Millisecond)
			for _, id := range held {
				sub.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: id})
			}
			held = held[:0]
		}
	}
}

func TestRedeliveryOnResume_MQTT_4_4_0_1(t *testing.T) {
	b := testBroker(t, nil)
	sub := connectWire(t, b.Addr("tcp"), "resume", codec.V311, false)
	subscribe(t, sub, 1, "r", 1)
	pub := connectWire(t, b.Addr("tcp"), "pub", codec.V311, true)
	pub.sendPacket(&codec.Packet{Type: codec.PUBLISH, QoS: 1, PacketID: 1, Topic: []byte("r"), Payload: []byte("first")})
	p := sub.expect(codec.PUBLISH)
	_ = sub.conn.Close() // no PUBACK: the message stays inflight
	// Published while offline: queued.
	time.Sleep(100 * time.Millisecond)
	pub.sendPacket(&codec.Packet{Type: codec.PUBLISH, QoS: 1, PacketID: 2, Topic: []byte("r"), Payload: []byte("second")})
	pub.expect(codec.PUBACK)
	pub.expect(codec.PUBACK)

	again := dial(t, b.Addr("tcp"))
	again.sendPacket(&codec.Packet{Type: codec.CONNECT, ProtocolName: []byte("MQTT"), ClientID: []byte("resume"), KeepAlive: 30})
	again.expectRaw([]byte{0x20, 0x02, 0x01, 0x00})
	r := again.expect(codec.PUBLISH)
	if !r.Dup || r.PacketID != p.PacketID || string(r.Payload) != "first" {
		t.Fatalf("redelivery %+v, want DUP with id %d [MQTT-3.3.1-1]", r, p.PacketID)
	}
	q := again.expect(codec.PUBLISH)
	if q.Dup || string(q.Payload) != "second" {
		t.Fatalf("queued message %+v", q)
	}
}

func TestRetainedDeliveredOnSubscribe_MQTT_3_3_1_8(t *testing.T) {
	b := testBroker(t, nil)
	pub := connectWire(t, b.Addr("tcp"), "pub", codec.V311, true)
	pub.send([]byte{0x31, 0x06, 0x00, 0x03, 'r', '/', 'a', 'v'}) // QoS 0, retain
	time.Sleep(50 * time.Millisecond)
	sub := connectWire(t, b.Addr("tcp"), "sub", codec.V311, true)
	subscribe(t, sub, 1, "r/#", 0)
	sub.expectRaw([]byte{0x31, 0x06, 0x00, 0x03, 'r', '/', 'a', 'v'}) // RETAIN set on subscribe
	// An empty retained payload deletes it [MQTT-3.3.1-6] [MQTT-3.3.1-7].
	pub.send([]byte{0x31, 0x05, 0x00, 0x03, 'r', '/', 'a'})
	sub.expectRaw([]byte{0x30, 0x05, 0x00, 0x03, 'r', '/', 'a'}) // normal delivery: RETAIN 0 [MQTT-3.3.1-9]
	time.Sleep(50 * time.Millisecond)
	sub2 := connectWire(t, b.Addr("tcp"), "sub2", codec.V311, true)
	subscribe(t, sub2, 1, "r/#", 0)
	sub2.expectNothing(300 * time.Millisecond)
}

func TestWillOnAbnormalClose_MQTT_3_1_2_8(t *testing.T) {
	b := testBroker(t, nil)
	sub := connectWire(t, b.Addr("tcp"), "sub", codec.V311, true)
	subscribe(t, sub, 1, "will/#", 0)
	w := dial(t, b.Addr("tcp"))
	w.sendPacket(&codec.Packet{Type: codec.CONNECT, ProtocolName: []byte("MQTT"), ClientID: []byte("dying"), CleanStart: true, KeepAlive: 30,
		WillFlag: true, WillTopic: []byte("will/x"), WillPayload: []byte("bye")})
	w.expect(codec.CONNACK)
	_ = w.conn.Close()
	p := sub.expect(codec.PUBLISH)
	if string(p.Topic) != "will/x" || string(p.Payload) != "bye" {
		t.Fatalf("will %+v", p)
	}
}

func TestNoWillOnDisconnect_MQTT_3_14_4_3(t *testing.T) {
	b := testBroker(t, nil)
	sub := connectWire(t, b.Addr("tcp"), "sub", codec.V311, true)
	subscribe(t, sub, 1, "will/#", 0)
	w := dial(t, b.Addr("tcp"))
	w.sendPacket(&codec.Packet{Type: codec.CONNECT, ProtocolName: []byte("MQTT"), ClientID: []byte("polite"), CleanStart: true, KeepAlive: 30,
		WillFlag: true, WillTopic: []byte("will/x"), WillPayload: []byte("bye")})
	w.expect(codec.CONNACK)
	w.send([]byte{0xe0, 0x00})
	w.expectClosed(2 * time.Second)
	sub.expectNothing(300 * time.Millisecond)
}
