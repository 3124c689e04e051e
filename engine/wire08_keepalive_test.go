package engine

import (
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// 08: keepalive: 0 (and too large) lowered to max_keepalive, PINGREQ and
// PINGRESP exact bytes.

func TestKeepaliveZeroLoweredV311_MQTT_3_1_2_24(t *testing.T) {
	t.Parallel()
	b := testBroker(t, func(c *config.Config) { c.MQTT.MaxKeepalive = 1 })
	for _, ka := range []uint16{0, 100} {
		w := dial(t, b.Addr("tcp"))
		w.send([]byte{0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, byte(ka >> 8), byte(ka), 0x00, 0x01, 'k'})
		w.expectRaw([]byte{0x20, 0x02, 0x00, 0x00}) // 3.1.1 has no Server Keep Alive: the limit is silent
		start := time.Now()
		if got := w.readUntilClosed(4 * time.Second); len(got) != 0 { // no DISCONNECT in 3.1.1
			t.Fatalf("keepalive %d: got % x before close", ka, got)
		}
		if el := time.Since(start); el < 900*time.Millisecond {
			t.Fatalf("keepalive %d: closed after %v, before 1.5 x 1 s", ka, el)
		}
	}
}

func TestKeepaliveZeroLoweredV5_MQTT_3_2_2_21(t *testing.T) {
	t.Parallel()
	b := testBroker(t, func(c *config.Config) { c.MQTT.MaxKeepalive = 1 })
	w := dial(t, b.Addr("tcp"))
	w.ver = codec.V5
	w.send([]byte{0x10, 0x0e, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 'k'}) // keepalive 0
	ack := w.recv(codec.CONNACK)
	if !ack.Props.Has(codec.PropServerKeepAlive) || ack.Props.ServerKeepAlive != 1 {
		t.Fatalf("Server Keep Alive %d (present %v), want 1", ack.Props.ServerKeepAlive, ack.Props.Has(codec.PropServerKeepAlive))
	}
	// The server holds the client to it: DISCONNECT 0x8D after 1.5 x 1 s of silence [MQTT-3.1.2-22].
	got := w.readUntilClosed(4 * time.Second)
	if string(got) != string(disconnectV5(0x8d)) {
		t.Fatalf("before close got % x, want DISCONNECT 0x8D", got)
	}
}

func TestKeepaliveWithinLimitNotAnnounced_MQTT_3_2_2_21(t *testing.T) {
	b := testBroker(t, func(c *config.Config) { c.MQTT.MaxKeepalive = 60 })
	_, ack := connect5(t, b.Addr("tcp"), "ok", true, nil) // keepalive 30
	if ack.Props.Has(codec.PropServerKeepAlive) {
		t.Fatalf("Server Keep Alive %d sent for an acceptable keepalive", ack.Props.ServerKeepAlive)
	}
}

func TestPingreqPingresp_MQTT_3_12_4_1(t *testing.T) {
	t.Parallel()
	b := testBroker(t, nil)
	w := dial(t, b.Addr("tcp"))
	w.send([]byte{0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x01, 0x00, 0x01, 'p'}) // keepalive 1 s
	w.expectRaw([]byte{0x20, 0x02, 0x00, 0x00})
	// PINGREQ every 0.5 s keeps the connection open well past 1.5 x keepalive.
	for i := 0; i < 6; i++ {
		w.send([]byte{0xc0, 0x00})
		w.expectRaw([]byte{0xd0, 0x00})
		time.Sleep(500 * time.Millisecond)
	}
	// Several in one write: one PINGRESP each.
	w.send([]byte{0xc0, 0x00, 0xc0, 0x00, 0xc0, 0x00})
	for i := 0; i < 3; i++ {
		w.expectRaw([]byte{0xd0, 0x00})
	}
}
