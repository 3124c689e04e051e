package engine

import (
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// 07: will messages: QoS and retain, keepalive timeout, takeover, protocol
// errors, and none after a normal DISCONNECT.

func connectWithWill311(t *testing.T, addr, id string, qos byte, retain bool, ka uint16) *wire {
	t.Helper()
	w := dial(t, addr)
	w.sendPacket(&codec.Packet{Type: codec.CONNECT, ProtocolName: []byte("MQTT"), ClientID: []byte(id), CleanStart: true, KeepAlive: ka,
		WillFlag: true, WillQoS: qos, WillRetain: retain, WillTopic: []byte("will/" + id), WillPayload: []byte("bye")})
	w.expectRaw([]byte{0x20, 0x02, 0x00, 0x00})
	return w
}

func TestWillQoSAndRetain_MQTT_3_1_2_17(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "will/#", 2)
	w := connectWithWill311(t, b.Addr("tcp"), "wq", 1, true, 30)
	_ = w.conn.Close()
	m := s.expect(codec.PUBLISH)
	// Will QoS 1 [MQTT-3.1.2-14]; on a live subscription RETAIN is 0 in 3.1.1 [MQTT-3.3.1-9].
	if m.QoS != 1 || m.Retain || string(m.Topic) != "will/wq" || string(m.Payload) != "bye" {
		t.Fatalf("will delivered as %+v", m)
	}
	s.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: m.PacketID})
	// Will Retain 1: published as a retained message [MQTT-3.1.2-17].
	late := connectWire(t, b.Addr("tcp"), "late", codec.V311, true)
	subscribe(t, late, 1, "will/wq", 0)
	late.expectRaw([]byte{0x31, 0x0c, 0x00, 0x07, 'w', 'i', 'l', 'l', '/', 'w', 'q', 'b', 'y', 'e'})
}

func TestWillQoSDowngradedToSubscription_MQTT_3_8_4_8(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "will/#", 0)
	w := connectWithWill311(t, b.Addr("tcp"), "w2", 2, false, 30)
	_ = w.conn.Close()
	s.expectRaw([]byte{0x30, 0x0c, 0x00, 0x07, 'w', 'i', 'l', 'l', '/', 'w', '2', 'b', 'y', 'e'})
}

func TestWillOnKeepaliveTimeout_MQTT_3_1_2_8(t *testing.T) {
	t.Parallel()
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "will/#", 0)
	w := connectWithWill311(t, b.Addr("tcp"), "ka", 0, false, 1)
	// Silent for 1.5 x keepalive: closed [MQTT-3.1.2-24], and the will goes out.
	w.expectClosed(4 * time.Second)
	s.expectRaw([]byte{0x30, 0x0c, 0x00, 0x07, 'w', 'i', 'l', 'l', '/', 'k', 'a', 'b', 'y', 'e'})
}

func TestWillOnTakeover311_MQTT_3_1_4_2(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "will/#", 0)
	old := connectWithWill311(t, b.Addr("tcp"), "to", 0, false, 30)
	_ = connectWire(t, b.Addr("tcp"), "to", codec.V311, true)
	old.expectClosed(2 * time.Second)                                                             // the existing client is disconnected [MQTT-3.1.4-2] ...
	s.expectRaw([]byte{0x30, 0x0c, 0x00, 0x07, 'w', 'i', 'l', 'l', '/', 't', 'o', 'b', 'y', 'e'}) // ... without DISCONNECT: its will is published
	s.expectNothing(200 * time.Millisecond)
}

func TestWillOnTakeoverV5(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "will/#", 0)
	t.Run("delay 0: published [MQTT-3.1.4-3]", func(t *testing.T) {
		old, _ := connect5(t, b.Addr("tcp"), "t0", false, willConnect("t0", 0, 60))
		connect5(t, b.Addr("tcp"), "t0", false, nil)
		old.expectCloseWith(disconnectV5(0x8e))
		if m := s.expect(codec.PUBLISH); string(m.Topic) != "will/t0" {
			t.Fatalf("got %+v", m)
		}
	})
	t.Run("delay > 0 and the session resumed: not published [MQTT-3.1.3-9]", func(t *testing.T) {
		old, _ := connect5(t, b.Addr("tcp"), "t5", false, willConnect("t5", 5, 60))
		connect5(t, b.Addr("tcp"), "t5", false, nil)
		old.expectCloseWith(disconnectV5(0x8e))
		s.expectNothing(300 * time.Millisecond)
	})
}

func TestWillOnProtocolError_MQTT_3_1_2_8(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "will/#", 0)
	w := connectWithWill311(t, b.Addr("tcp"), "pe", 0, false, 30)
	w.send([]byte{0x36, 0x04, 0x00, 0x01, 'x', 0x00}) // PUBLISH QoS 3
	w.expectCloseWith(nil)
	s.expectRaw([]byte{0x30, 0x0c, 0x00, 0x07, 'w', 'i', 'l', 'l', '/', 'p', 'e', 'b', 'y', 'e'})
}

func TestNoWillAfterDisconnectThenClose_MQTT_3_1_2_10(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "will/#", 0)
	w := connectWithWill311(t, b.Addr("tcp"), "nd", 0, false, 30)
	// DISCONNECT followed by garbage in the same write: the will is already discarded.
	w.send([]byte{0xe0, 0x00, 0xff, 0xff})
	w.expectCloseWith(nil)
	s.expectNothing(300 * time.Millisecond)
}

func TestWillRetainRefusedWhenUnavailable_MQTT_3_2_2_13(t *testing.T) {
	b := testBroker(t, func(c *config.Config) { f := false; c.MQTT.RetainAvailable = &f })
	w, ack := connectWith(t, b.Addr("tcp"), &codec.Packet{Version: codec.V5, ClientID: []byte("wr"), CleanStart: true,
		WillFlag: true, WillRetain: true, WillTopic: []byte("w"), WillPayload: []byte("x")})
	if ack.ReasonCode != codec.RetainNotSupported {
		t.Fatalf("CONNACK %#x, want 0x9A", ack.ReasonCode)
	}
	w.expectCloseWith(nil)
}

func TestWillPropertiesKept_MQTT_3_1_3_10(t *testing.T) {
	b := testBroker(t, nil)
	s, _ := connect5(t, b.Addr("tcp"), "s", true, nil)
	subscribeOpts(t, s, 1, 0, sub("will/#", 0))
	w, _ := connect5(t, b.Addr("tcp"), "wp", true, func(p *codec.Packet) {
		willConnect("wp", 0, 0)(p)
		p.WillProps.ContentType = []byte("text/plain")
		p.WillProps.ResponseTopic = []byte("back")
		p.WillProps.User = []codec.UserProperty{{Key: []byte("z"), Value: []byte("1")}, {Key: []byte("a"), Value: []byte("2")}}
		p.WillProps.Present |= 1<<codec.PropContentType | 1<<codec.PropResponseTopic | 1<<codec.PropUser
	})
	_ = w.conn.Close()
	m := s.recv(codec.PUBLISH)
	if string(m.Props.ContentType) != "text/plain" || string(m.Props.ResponseTopic) != "back" || len(m.Props.User) != 2 ||
		string(m.Props.User[0].Key) != "z" || string(m.Props.User[1].Key) != "a" {
		t.Fatalf("will properties %+v, want content type, response topic and user properties in order", m.Props)
	}
	if m.Props.Has(codec.PropWillDelay) {
		t.Fatal("Will Delay Interval forwarded to subscribers")
	}
}
