package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// 05: sessions: clean and persistent, session present, the bounded offline
// queue, v5 session expiry, takeover, inflight redelivery.

// reconnect311 opens a new 3.1.1 connection for id and checks the exact CONNACK.
func reconnect311(t *testing.T, addr, id string, clean bool, present byte) *wire {
	t.Helper()
	w := dial(t, addr)
	w.sendPacket(&codec.Packet{Type: codec.CONNECT, ProtocolName: []byte("MQTT"), ClientID: []byte(id), CleanStart: clean, KeepAlive: 30})
	w.expectRaw([]byte{0x20, 0x02, present, 0x00})
	return w
}

func TestCleanSessionDiscardsState_MQTT_3_1_2_6(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "cs", codec.V311, false)
	subscribe(t, s, 1, "cs/t", 1)
	_ = s.conn.Close()
	time.Sleep(50 * time.Millisecond)
	s2 := reconnect311(t, b.Addr("tcp"), "cs", true, 0x00) // clean: present 0 [MQTT-3.2.2-1]
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "cs/t", "m", 1, false)
	s2.expectNothing(200 * time.Millisecond) // the subscription went with the old session
	// And a clean session leaves nothing behind: a persistent reconnect starts fresh.
	s2.send([]byte{0xe0, 0x00})
	s2.expectClosed(2 * time.Second)
	reconnect311(t, b.Addr("tcp"), "cs", false, 0x00)
}

func TestPersistentSessionQueuesQoS1_MQTT_3_1_2_4(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "ps", codec.V311, false)
	subscribe(t, s, 1, "ps/+", 2)
	s.send([]byte{0xe0, 0x00})
	s.expectClosed(2 * time.Second)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "ps/0", "zero", 0, false) // QoS 0: not queued for an offline session
	publish(t, p, 2, "ps/1", "one", 1, false)
	publish(t, p, 3, "ps/2", "two", 2, false)
	s2 := reconnect311(t, b.Addr("tcp"), "ps", false, 0x01) // session present [MQTT-3.2.2-2]
	m1 := s2.expect(codec.PUBLISH)
	m2 := s2.expect(codec.PUBLISH)
	if string(m1.Payload) != "one" || m1.QoS != 1 || string(m2.Payload) != "two" || m2.QoS != 2 {
		t.Fatalf("queued %+v then %+v", m1, m2)
	}
	s2.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: m1.PacketID})
	s2.sendPacket(&codec.Packet{Type: codec.PUBREC, PacketID: m2.PacketID})
	s2.expectRaw([]byte{0x62, 0x02, byte(m2.PacketID >> 8), byte(m2.PacketID)})
	s2.sendPacket(&codec.Packet{Type: codec.PUBCOMP, PacketID: m2.PacketID})
	s2.sync()
}

func TestOfflineQueueBoundedByMaxQueuedMessages(t *testing.T) {
	b := testBroker(t, func(c *config.Config) { c.MQTT.MaxQueuedMessages = 5 })
	s := connectWire(t, b.Addr("tcp"), "q", codec.V311, false)
	subscribe(t, s, 1, "q", 1)
	s.send([]byte{0xe0, 0x00})
	s.expectClosed(2 * time.Second)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	for i := 0; i < 12; i++ {
		publish(t, p, uint16(i+1), "q", fmt.Sprint(i), 1, false)
	}
	s2 := reconnect311(t, b.Addr("tcp"), "q", false, 0x01)
	for i := 0; i < 5; i++ { // the oldest 5 kept, in order; the rest dropped
		m := s2.expect(codec.PUBLISH)
		if string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("queued message %d is %q", i, m.Payload)
		}
		s2.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: m.PacketID})
	}
	s2.sync()
}

func TestSessionExpiryV5_MQTT_3_1_2_23(t *testing.T) {
	t.Parallel()
	b := testBroker(t, nil)
	addr := b.Addr("tcp")
	expiry := func(sec uint32) func(p *codec.Packet) {
		return func(p *codec.Packet) {
			p.Props.SessionExpiry = sec
			p.Props.Present |= 1 << codec.PropSessionExpiry
		}
	}
	// Expiry 0: the session ends with the connection.
	w, _ := connect5(t, addr, "e0", false, nil)
	subscribeOpts(t, w, 1, 0, sub("e/0", 1))
	w.send([]byte{0xe0, 0x00})
	w.expectClosed(2 * time.Second)
	if _, ack := connect5(t, addr, "e0", false, nil); ack.SessionPresent {
		t.Fatal("session with expiry 0 survived its connection")
	}
	// Expiry 1 s: still there right after, gone after it expires.
	w, _ = connect5(t, addr, "e1", false, expiry(1))
	subscribeOpts(t, w, 1, 0, sub("e/1", 1))
	w.send([]byte{0xe0, 0x00})
	w.expectClosed(2 * time.Second)
	w, ack := connect5(t, addr, "e1", false, expiry(1))
	if !ack.SessionPresent {
		t.Fatal("session lost before its expiry interval")
	}
	w.send([]byte{0xe0, 0x00})
	w.expectClosed(2 * time.Second)
	p := connectWire(t, addr, "p", codec.V311, true)
	time.Sleep(2500 * time.Millisecond)
	publish(t, p, 1, "e/1", "late", 1, false)
	w, ack = connect5(t, addr, "e1", false, expiry(1))
	if ack.SessionPresent {
		t.Fatal("session present after its expiry interval")
	}
	w.sync() // its subscription went with it: nothing queued
}

func TestSessionExpiryFromDisconnect_MQTT_3_14_2_2(t *testing.T) {
	b := testBroker(t, nil)
	w, _ := connect5(t, b.Addr("tcp"), "d0", false, nil)
	// Expiry 0 at CONNECT, non-zero on DISCONNECT: protocol error.
	w.send([]byte{0xe0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0a})
	w.expectCloseWith(disconnectV5(0x82))
}

func TestTakeoverKeepsPersistentState_MQTT_3_1_4_3(t *testing.T) {
	b := testBroker(t, nil)
	a := connectWire(t, b.Addr("tcp"), "tk", codec.V311, false)
	subscribe(t, a, 1, "tk", 1)
	nb := reconnect311(t, b.Addr("tcp"), "tk", false, 0x01) // same id, resumes the session
	a.expectClosed(2 * time.Second)                         // the old connection is closed [MQTT-3.1.4-2]
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "tk", "after", 1, false)
	if m := nb.expect(codec.PUBLISH); string(m.Payload) != "after" {
		t.Fatalf("got %+v", m)
	}
}

func TestTakeoverCleanDiscardsState_MQTT_3_1_4_3(t *testing.T) {
	b := testBroker(t, nil)
	a, _ := connect5(t, b.Addr("tcp"), "tc", false, func(p *codec.Packet) {
		p.Props.SessionExpiry = 60
		p.Props.Present |= 1 << codec.PropSessionExpiry
	})
	subscribeOpts(t, a, 1, 0, sub("tc", 1))
	nb, ack := connect5(t, b.Addr("tcp"), "tc", true, nil)
	if ack.SessionPresent {
		t.Fatal("clean start resumed the session [MQTT-3.2.2-2]")
	}
	a.expectCloseWith(disconnectV5(0x8e))
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "tc", "m", 1, false)
	nb.sync()
}

func TestQoS2RedeliveryPublishThenPubrel_MQTT_4_4_0_1(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "r2", codec.V311, false)
	subscribe(t, s, 1, "r2", 2)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "r2", "a", 2, false)
	publish(t, p, 2, "r2", "b", 2, false)
	ma := s.expect(codec.PUBLISH)
	mb := s.expect(codec.PUBLISH)
	// a gets as far as PUBREL; b is not acknowledged at all.
	s.sendPacket(&codec.Packet{Type: codec.PUBREC, PacketID: ma.PacketID})
	s.expect(codec.PUBREL)
	_ = s.conn.Close()
	time.Sleep(50 * time.Millisecond)

	s2 := reconnect311(t, b.Addr("tcp"), "r2", false, 0x01)
	// Original order: PUBREL for a, then PUBLISH b with DUP and its old id [MQTT-4.4.0-1] [MQTT-3.3.1-1].
	s2.expectRaw([]byte{0x62, 0x02, byte(ma.PacketID >> 8), byte(ma.PacketID)})
	rb := s2.expect(codec.PUBLISH)
	if !rb.Dup || rb.QoS != 2 || rb.PacketID != mb.PacketID || string(rb.Payload) != "b" {
		t.Fatalf("redelivered %+v, want DUP QoS 2 id %d", rb, mb.PacketID)
	}
	s2.sendPacket(&codec.Packet{Type: codec.PUBCOMP, PacketID: ma.PacketID})
	s2.sendPacket(&codec.Packet{Type: codec.PUBREC, PacketID: rb.PacketID})
	s2.expect(codec.PUBREL)
	s2.sendPacket(&codec.Packet{Type: codec.PUBCOMP, PacketID: rb.PacketID})
	s2.sync()
	// Settled: nothing is resent on the next resume.
	_ = s2.conn.Close()
	time.Sleep(50 * time.Millisecond)
	s3 := reconnect311(t, b.Addr("tcp"), "r2", false, 0x01)
	s3.sync()
}

func TestInboundQoS2StateSurvivesReconnect_MQTT_4_3_3_10(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "sub", codec.V311, true)
	subscribe(t, s, 1, "i2", 2)
	p := connectWire(t, b.Addr("tcp"), "ip", codec.V311, false)
	msg := []byte{0x34, 0x07, 0x00, 0x02, 'i', '2', 0x00, 0x2a, 'x'}
	p.send(msg)
	p.expectRaw([]byte{0x50, 0x02, 0x00, 0x2a})
	_ = p.conn.Close() // lost before PUBREL
	time.Sleep(50 * time.Millisecond)
	p2 := reconnect311(t, b.Addr("tcp"), "ip", false, 0x01)
	msg[0] |= 0x08 // retransmitted with DUP
	p2.send(msg)
	p2.expectRaw([]byte{0x50, 0x02, 0x00, 0x2a})
	p2.send([]byte{0x62, 0x02, 0x00, 0x2a})
	p2.expectRaw([]byte{0x70, 0x02, 0x00, 0x2a})
	m := s.expect(codec.PUBLISH)
	s.sendPacket(&codec.Packet{Type: codec.PUBREC, PacketID: m.PacketID})
	s.expect(codec.PUBREL)
	s.sendPacket(&codec.Packet{Type: codec.PUBCOMP, PacketID: m.PacketID})
	s.expectNothing(300 * time.Millisecond) // delivered once
}

func TestTakeoverRedeliversInflight_MQTT_4_4_0_1(t *testing.T) {
	b := testBroker(t, nil)
	a := connectWire(t, b.Addr("tcp"), "ti", codec.V311, false)
	subscribe(t, a, 1, "ti", 1)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "ti", "held", 1, false)
	m := a.expect(codec.PUBLISH) // not acknowledged
	nb := reconnect311(t, b.Addr("tcp"), "ti", false, 0x01)
	a.expectClosed(2 * time.Second)
	r := nb.expect(codec.PUBLISH)
	if !r.Dup || r.PacketID != m.PacketID || string(r.Payload) != "held" {
		t.Fatalf("after takeover %+v, want DUP redelivery with id %d [MQTT-3.3.1-1]", r, m.PacketID)
	}
	nb.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: r.PacketID})
	nb.sync()
}

func TestSessionExpiryZeroOnDisconnect_MQTT_3_1_2_23(t *testing.T) {
	b := testBroker(t, nil)
	w, _ := connect5(t, b.Addr("tcp"), "dz", false, func(p *codec.Packet) {
		p.Props.SessionExpiry = 60
		p.Props.Present |= 1 << codec.PropSessionExpiry
	})
	subscribeOpts(t, w, 1, 0, sub("dz", 1))
	w.send([]byte{0xe0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00}) // DISCONNECT, Session Expiry 0
	w.expectCloseWith(nil)
	time.Sleep(50 * time.Millisecond)
	if _, ack := connect5(t, b.Addr("tcp"), "dz", false, nil); ack.SessionPresent {
		t.Fatal("session outlived a DISCONNECT that set its expiry to 0")
	}
}
