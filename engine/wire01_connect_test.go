package engine

import (
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// 01: CONNECT and CONNACK, exact bytes.

func TestConnect311Accepted(t *testing.T) {
	b := testBroker(t, nil)
	w := dial(t, b.Addr("tcp"))
	w.send([]byte{
		0x10, 0x10, // CONNECT, remaining 16
		0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
		0x04,       // level 4
		0x02,       // clean session
		0x00, 0x1e, // keepalive 30
		0x00, 0x04, 'c', 'l', 'i', '1', // client id
	})
	w.expectRaw([]byte{0x20, 0x02, 0x00, 0x00}) // [MQTT-3.2.2-1] session present 0 with clean session
}

func TestConnect31Accepted(t *testing.T) {
	b := testBroker(t, nil)
	w := dial(t, b.Addr("tcp"))
	w.send([]byte{
		0x10, 0x12,
		0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', // 3.1 protocol name
		0x03,       // level 3
		0x02,       // clean session
		0x00, 0x1e, // keepalive
		0x00, 0x04, 'c', 'l', 'i', '1',
	})
	w.expectRaw([]byte{0x20, 0x02, 0x00, 0x00})
}

func TestConnectUnsupportedLevel_MQTT_3_1_2_2(t *testing.T) {
	b := testBroker(t, nil)
	w := dial(t, b.Addr("tcp"))
	w.send([]byte{0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x07, 0x02, 0x00, 0x1e, 0x00, 0x04, 'c', 'l', 'i', '1'})
	w.expectRaw([]byte{0x20, 0x02, 0x00, 0x01}) // unacceptable protocol version [MQTT-3.1.2-2]
	w.expectClosed(2 * time.Second)
}

func TestFirstPacketNotConnect_MQTT_3_1_0_1(t *testing.T) {
	b := testBroker(t, nil)
	w := dial(t, b.Addr("tcp"))
	w.send([]byte{0xc0, 0x00}) // PINGREQ before CONNECT
	w.expectClosed(2 * time.Second)
}

func TestSecondConnect_MQTT_3_1_0_2(t *testing.T) {
	b := testBroker(t, nil)
	w := connectWire(t, b.Addr("tcp"), "c2", codec.V311, true)
	w.sendPacket(&codec.Packet{Type: codec.CONNECT, ProtocolName: []byte("MQTT"), ClientID: []byte("c2"), CleanStart: true})
	w.expectClosed(2 * time.Second)
}

func TestEmptyClientIDPersistentRejected_MQTT_3_1_3_8(t *testing.T) {
	b := testBroker(t, nil)
	w := dial(t, b.Addr("tcp"))
	w.send([]byte{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x00, 0x00, 0x1e, 0x00, 0x00})
	w.expectRaw([]byte{0x20, 0x02, 0x00, 0x02}) // identifier rejected [MQTT-3.1.3-9]
	w.expectClosed(2 * time.Second)
}

func TestEmptyClientIDv5Assigned_MQTT_3_2_2_16(t *testing.T) {
	b := testBroker(t, nil)
	w := dial(t, b.Addr("tcp"))
	w.ver = codec.V5
	w.sendPacket(&codec.Packet{Type: codec.CONNECT, ProtocolName: []byte("MQTT"), CleanStart: true, KeepAlive: 30})
	raw, err := w.readRaw(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var p codec.Packet
	if _, err := codec.Decode(raw, codec.V5, 0, &p); err != nil {
		t.Fatalf("decode CONNACK % x: %v", raw, err)
	}
	if p.ReasonCode != 0 || len(p.Props.AssignedClientID) == 0 {
		t.Fatalf("want success with an assigned client id, got %+v", p)
	}
}

func TestKeepaliveLoweredToMax_MQTT_3_2_2_21(t *testing.T) {
	b := testBroker(t, func(c *config.Config) { c.MQTT.MaxKeepalive = 10 })
	w := dial(t, b.Addr("tcp"))
	w.ver = codec.V5
	w.sendPacket(&codec.Packet{Type: codec.CONNECT, ProtocolName: []byte("MQTT"), ClientID: []byte("ka"), CleanStart: true, KeepAlive: 100})
	raw, _ := w.readRaw(2 * time.Second)
	var p codec.Packet
	if _, err := codec.Decode(raw, codec.V5, 0, &p); err != nil {
		t.Fatal(err)
	}
	if !p.Props.Has(codec.PropServerKeepAlive) || p.Props.ServerKeepAlive != 10 {
		t.Fatalf("want Server Keep Alive 10, got %+v", p.Props)
	}
}

func TestKeepaliveTimeout_MQTT_3_1_2_24(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a keepalive timeout")
	}
	b := testBroker(t, nil)
	w := dial(t, b.Addr("tcp"))
	w.sendPacket(&codec.Packet{Type: codec.CONNECT, ProtocolName: []byte("MQTT"), ClientID: []byte("kt"), CleanStart: true, KeepAlive: 1})
	w.expect(codec.CONNACK)
	// 1.5 x 1 s: closed within a couple of seconds of silence.
	w.expectClosed(4 * time.Second)
}

func TestTakeover_MQTT_3_1_4_2(t *testing.T) {
	b := testBroker(t, nil)
	old := connectWire(t, b.Addr("tcp"), "same", codec.V5, true)
	_ = connectWire(t, b.Addr("tcp"), "same", codec.V5, true)
	p := old.expect(codec.DISCONNECT)
	if p.ReasonCode != codec.SessionTakenOver {
		t.Fatalf("reason %#x, want 0x8e [MQTT-3.1.4-3]", p.ReasonCode)
	}
	old.expectClosed(2 * time.Second)
}

func TestSessionPresent_MQTT_3_2_2_3(t *testing.T) {
	b := testBroker(t, nil)
	w := connectWire(t, b.Addr("tcp"), "persist", codec.V311, false)
	w.sendPacket(&codec.Packet{Type: codec.DISCONNECT})
	w.expectClosed(2 * time.Second)
	w2 := dial(t, b.Addr("tcp"))
	w2.sendPacket(&codec.Packet{Type: codec.CONNECT, ProtocolName: []byte("MQTT"), ClientID: []byte("persist"), KeepAlive: 30})
	w2.expectRaw([]byte{0x20, 0x02, 0x01, 0x00}) // session present [MQTT-3.2.2-3]
}

func TestConnectTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the CONNECT timeout")
	}
	b := testBroker(t, func(c *config.Config) { c.MQTT.ConnectTimeout = config.Duration(time.Second) })
	w := dial(t, b.Addr("tcp"))
	w.expectClosed(4 * time.Second)
}
