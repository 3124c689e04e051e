package engine

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// 06: MQTT 5 features: topic aliases, message expiry, properties passed
// through, the client's maximum packet size and receive maximum, DISCONNECT
// with will, will delay, request problem information.

// publishV5 builds a v5 PUBLISH with the given properties set.
func publishV5(topic, payload string, qos byte, id uint16, props codec.Properties) *codec.Packet {
	return &codec.Packet{Type: codec.PUBLISH, Version: codec.V5, QoS: qos, PacketID: id, Topic: []byte(topic), Payload: []byte(payload), Props: props}
}

func aliasProps(a uint16) codec.Properties {
	return codec.Properties{TopicAlias: a, Present: 1 << codec.PropTopicAlias}
}

func TestTopicAliasSetAndReused_MQTT_3_3_2_12(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "al/#", 0)
	p, _ := connect5(t, b.Addr("tcp"), "p", true, nil)
	p.sendPacket(publishV5("al/one", "1", 0, 0, aliasProps(3))) // sets alias 3
	p.sendPacket(publishV5("", "2", 0, 0, aliasProps(3)))       // uses it
	p.sendPacket(publishV5("al/two", "3", 0, 0, aliasProps(3))) // remaps it
	p.sendPacket(publishV5("", "4", 0, 0, aliasProps(3)))
	s.expectRaw([]byte{0x30, 0x09, 0x00, 0x06, 'a', 'l', '/', 'o', 'n', 'e', '1'})
	s.expectRaw([]byte{0x30, 0x09, 0x00, 0x06, 'a', 'l', '/', 'o', 'n', 'e', '2'})
	s.expectRaw([]byte{0x30, 0x09, 0x00, 0x06, 'a', 'l', '/', 't', 'w', 'o', '3'})
	s.expectRaw([]byte{0x30, 0x09, 0x00, 0x06, 'a', 'l', '/', 't', 'w', 'o', '4'})
	// A v5 subscriber sees the topic name, never the publisher's alias.
	s5, _ := connect5(t, b.Addr("tcp"), "s5", true, nil)
	subscribeOpts(t, s5, 1, 0, sub("al/#", 0))
	p.sendPacket(publishV5("", "5", 0, 0, aliasProps(3)))
	s5.expectRaw([]byte{0x30, 0x0a, 0x00, 0x06, 'a', 'l', '/', 't', 'w', 'o', 0x00, '5'})
}

func TestTopicAliasInvalid(t *testing.T) {
	b := testBroker(t, func(c *config.Config) { c.MQTT.MaxTopicAlias = 4 })
	cases := []struct {
		name  string
		topic string
		alias uint16
		want  []byte
	}{
		{"alias 0: DISCONNECT 0x94 [MQTT-3.3.2-8]", "a", 0, disconnectV5(0x94)},
		{"alias above Topic Alias Maximum: DISCONNECT 0x94 [MQTT-3.3.2-9]", "a", 5, disconnectV5(0x94)},
		{"alias far above the maximum: DISCONNECT 0x94 [MQTT-3.3.2-9]", "a", 0xffff, disconnectV5(0x94)},
		{"unknown alias without topic: DISCONNECT 0x82 [MQTT-3.3.2-12]", "", 2, disconnectV5(0x82)},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, ack := connect5(t, b.Addr("tcp"), fmt.Sprint("ta", i), true, nil)
			if ack.Props.TopicAliasMaximum != 4 {
				t.Fatalf("CONNACK Topic Alias Maximum %d, want 4", ack.Props.TopicAliasMaximum)
			}
			w.sendPacket(publishV5(tc.topic, "x", 0, 0, aliasProps(tc.alias)))
			w.expectCloseWith(tc.want)
		})
	}
}

func TestMessageExpiryWhileQueued_MQTT_3_3_2_5(t *testing.T) {
	t.Parallel()
	b := testBroker(t, nil)
	persist := func(p *codec.Packet) {
		p.Props.SessionExpiry = 60
		p.Props.Present |= 1 << codec.PropSessionExpiry
	}
	s, _ := connect5(t, b.Addr("tcp"), "me", false, persist)
	subscribeOpts(t, s, 1, 0, sub("me", 1))
	s.send([]byte{0xe0, 0x00})
	s.expectClosed(2 * time.Second)
	p, _ := connect5(t, b.Addr("tcp"), "p", true, nil)
	short := codec.Properties{MessageExpiry: 1, Present: 1 << codec.PropMessageExpiry}
	long := codec.Properties{MessageExpiry: 60, Present: 1 << codec.PropMessageExpiry}
	p.sendPacket(publishV5("me", "short", 1, 1, short))
	p.recv(codec.PUBACK)
	p.sendPacket(publishV5("me", "long", 1, 2, long))
	p.recv(codec.PUBACK)
	time.Sleep(2200 * time.Millisecond)
	s2, ack := connect5(t, b.Addr("tcp"), "me", false, persist)
	if !ack.SessionPresent {
		t.Fatal("session lost")
	}
	m := s2.recv(codec.PUBLISH) // "short" expired in the queue and is not sent
	if string(m.Payload) != "long" {
		t.Fatalf("got %q, want only the unexpired message", m.Payload)
	}
	// The remaining interval is sent, lowered by the time spent queued [MQTT-3.3.2-6].
	if !m.Props.Has(codec.PropMessageExpiry) || m.Props.MessageExpiry > 58 || m.Props.MessageExpiry < 55 {
		t.Fatalf("Message Expiry Interval %d (present %v), want 55..58", m.Props.MessageExpiry, m.Props.Has(codec.PropMessageExpiry))
	}
	s2.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: m.PacketID})
	s2.sync()
}

func TestPropertiesForwardedUnaltered_MQTT_3_3_2_17(t *testing.T) {
	b := testBroker(t, nil)
	s, _ := connect5(t, b.Addr("tcp"), "s", true, nil)
	subscribeOpts(t, s, 1, 0, sub("pp", 1))
	p, _ := connect5(t, b.Addr("tcp"), "p", true, nil)
	props := codec.Properties{
		PayloadFormat:   1,
		ContentType:     []byte("application/json"),
		ResponseTopic:   []byte("reply/here"),
		CorrelationData: []byte{0x00, 0xff, 0x10},
		User: []codec.UserProperty{
			{Key: []byte("b"), Value: []byte("2")},
			{Key: []byte("a"), Value: []byte("1")},
			{Key: []byte("b"), Value: []byte("3")}, // the same key twice is allowed
		},
	}
	props.Present = 1<<codec.PropPayloadFormat | 1<<codec.PropContentType | 1<<codec.PropResponseTopic | 1<<codec.PropCorrelationData | 1<<codec.PropUser
	p.sendPacket(publishV5("pp", `{"k":1}`, 1, 1, props))
	p.recv(codec.PUBACK)
	m := s.recv(codec.PUBLISH)
	if m.Props.PayloadFormat != 1 || !m.Props.Has(codec.PropPayloadFormat) {
		t.Errorf("payload format %d [MQTT-3.3.2-4]", m.Props.PayloadFormat)
	}
	if string(m.Props.ContentType) != "application/json" {
		t.Errorf("content type %q [MQTT-3.3.2-20]", m.Props.ContentType)
	}
	if string(m.Props.ResponseTopic) != "reply/here" {
		t.Errorf("response topic %q [MQTT-3.3.2-15]", m.Props.ResponseTopic)
	}
	if !bytes.Equal(m.Props.CorrelationData, []byte{0x00, 0xff, 0x10}) {
		t.Errorf("correlation data % x [MQTT-3.3.2-16]", m.Props.CorrelationData)
	}
	var got []string
	for _, u := range m.Props.User {
		got = append(got, string(u.Key)+"="+string(u.Value))
	}
	if fmt.Sprint(got) != "[b=2 a=1 b=3]" {
		t.Errorf("user properties %v, want [b=2 a=1 b=3] in order [MQTT-3.3.2-17] [MQTT-3.3.2-18]", got)
	}
	if string(m.Payload) != `{"k":1}` {
		t.Errorf("payload %q", m.Payload)
	}
}

func TestClientMaximumPacketSize_MQTT_3_1_2_24(t *testing.T) {
	b := testBroker(t, nil)
	s, _ := connect5(t, b.Addr("tcp"), "small", true, func(p *codec.Packet) {
		p.Props.MaximumPacketSize = 32
		p.Props.Present |= 1 << codec.PropMaximumPacketSize
	})
	subscribeOpts(t, s, 1, 0, sub("mp", 1))
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "mp", string(make([]byte, 100)), 1, false) // too large for the client: discarded [MQTT-3.1.2-25]
	publish(t, p, 2, "mp", "fits", 1, false)
	m := s.recv(codec.PUBLISH)
	if string(m.Payload) != "fits" {
		t.Fatalf("got %d-byte payload, want only the message that fits", len(m.Payload))
	}
	// Exactly at the limit is still sent: 2+2+2+1+25 = 32 bytes.
	s.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: m.PacketID})
	publish(t, p, 3, "mp", string(bytes.Repeat([]byte{'x'}, 23)), 1, false)
	raw, err := s.readRaw(2 * time.Second)
	if err != nil || len(raw) != 32 {
		t.Fatalf("message of exactly Maximum Packet Size: %d bytes, %v", len(raw), err)
	}
}

func TestClientReceiveMaximum_MQTT_3_3_4_9(t *testing.T) {
	b := testBroker(t, nil)
	s, _ := connect5(t, b.Addr("tcp"), "rm", true, func(p *codec.Packet) {
		p.Props.ReceiveMaximum = 2
		p.Props.Present |= 1 << codec.PropReceiveMaximum
	})
	subscribeOpts(t, s, 1, 0, sub("rm", 2))
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	for i := 0; i < 5; i++ {
		publish(t, p, uint16(i+1), "rm", fmt.Sprint(i), byte(1+i%2), false)
	}
	m0 := s.recv(codec.PUBLISH)
	m1 := s.recv(codec.PUBLISH)
	s.expectNothing(300 * time.Millisecond) // two unacknowledged: the window is full
	s.sync()                                // other packets are not held back [MQTT-3.3.4-10]
	s.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: m0.PacketID})
	m2 := s.recv(codec.PUBLISH)
	s.expectNothing(200 * time.Millisecond)
	// A PUBREC frees the QoS 2 slot only with an error reason; a success PUBREC keeps it until PUBCOMP.
	s.sendPacket(&codec.Packet{Type: codec.PUBREC, PacketID: m1.PacketID})
	s.recv(codec.PUBREL)
	s.expectNothing(200 * time.Millisecond)
	s.sendPacket(&codec.Packet{Type: codec.PUBCOMP, PacketID: m1.PacketID})
	m3 := s.recv(codec.PUBLISH)
	for i, m := range []*codec.Packet{m0, m1, m2, m3} {
		if string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Payload)
		}
	}
}

func willConnect(id string, delay uint32, expiry uint32) func(p *codec.Packet) {
	return func(p *codec.Packet) {
		p.WillFlag = true
		p.WillTopic = []byte("will/" + id)
		p.WillPayload = []byte("gone")
		if delay > 0 {
			p.WillProps.WillDelay = delay
			p.WillProps.Present |= 1 << codec.PropWillDelay
		}
		if expiry > 0 {
			p.Props.SessionExpiry = expiry
			p.Props.Present |= 1 << codec.PropSessionExpiry
		}
	}
}

func TestDisconnectWithWill_MQTT_3_14_2_1(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "will/#", 0)
	w, _ := connect5(t, b.Addr("tcp"), "dw", true, willConnect("dw", 0, 0))
	w.send([]byte{0xe0, 0x02, 0x04, 0x00}) // DISCONNECT, reason 0x04 Disconnect with Will Message
	w.expectCloseWith(nil)
	s.expectRaw([]byte{0x30, 0x0d, 0x00, 0x07, 'w', 'i', 'l', 'l', '/', 'd', 'w', 'g', 'o', 'n', 'e'})
}

func TestNoWillOnNormalDisconnectV5_MQTT_3_14_4_3(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "will/#", 0)
	w, _ := connect5(t, b.Addr("tcp"), "nw", true, willConnect("nw", 0, 0))
	w.send([]byte{0xe0, 0x01, 0x00})
	w.expectCloseWith(nil)
	s.expectNothing(300 * time.Millisecond)
}

func TestWillDelay_MQTT_3_1_3_9(t *testing.T) {
	t.Parallel()
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "will/#", 0)

	// Delay 1 s, session outlives it: the will comes after about a second.
	w, _ := connect5(t, b.Addr("tcp"), "wd", false, willConnect("wd", 1, 30))
	_ = w.conn.Close()
	start := time.Now()
	s.expectNothing(500 * time.Millisecond)
	m, err := s.readRaw(3 * time.Second)
	if err != nil || !bytes.Contains(m, []byte("will/wd")) {
		t.Fatalf("delayed will: % x, %v", m, err)
	}
	if el := time.Since(start); el < 700*time.Millisecond {
		t.Fatalf("will sent after %v, before its delay", el)
	}

	// Reconnecting within the delay: the will is not sent [MQTT-3.1.3-9].
	w, _ = connect5(t, b.Addr("tcp"), "wr", false, willConnect("wr", 2, 30))
	_ = w.conn.Close()
	time.Sleep(200 * time.Millisecond)
	back, ack := connect5(t, b.Addr("tcp"), "wr", false, func(p *codec.Packet) {
		p.Props.SessionExpiry = 30
		p.Props.Present |= 1 << codec.PropSessionExpiry
	})
	if !ack.SessionPresent {
		t.Fatal("session not resumed")
	}
	s.expectNothing(2500 * time.Millisecond)
	back.sync()

	// Session expiry 0 ends the session at once, and the will with it, whatever the delay.
	w, _ = connect5(t, b.Addr("tcp"), "we", true, willConnect("we", 30, 0))
	_ = w.conn.Close()
	m, err = s.readRaw(time.Second)
	if err != nil || !bytes.Contains(m, []byte("will/we")) {
		t.Fatalf("will at session end: % x, %v", m, err)
	}
}

func TestRequestProblemInfoZero_MQTT_3_1_2_29(t *testing.T) {
	b := testBroker(t, nil)
	w, _ := connect5(t, b.Addr("tcp"), "rpi", true, func(p *codec.Packet) {
		p.Props.RequestProblemInfo = 0
		p.Props.Present |= 1 << codec.PropRequestProblemInfo
	})
	// PUBACK with reason 0x10 (no subscribers) and no reason string or user property.
	w.send([]byte{0x32, 0x07, 0x00, 0x02, 'n', 's', 0x00, 0x01, 0x00})
	w.expectRaw([]byte{0x40, 0x03, 0x00, 0x01, 0x10})
	// PUBREL for an unknown id: PUBCOMP 0x92, no properties.
	w.send([]byte{0x62, 0x02, 0x00, 0x33})
	w.expectRaw([]byte{0x70, 0x03, 0x00, 0x33, 0x92})
	// UNSUBACK for a filter never subscribed: 0x11, no properties.
	w.send([]byte{0xa2, 0x06, 0x00, 0x04, 0x00, 0x00, 0x01, 'q'})
	w.expectRaw([]byte{0xb0, 0x04, 0x00, 0x04, 0x00, 0x11})
}

func TestConnackV5ServerLimits_Section_3_2_2_3(t *testing.T) {
	b := testBroker(t, func(c *config.Config) {
		c.MQTT.ReceiveMaximum = 7
		c.MQTT.MaxPacketSize = 4096
		c.MQTT.MaxTopicAlias = 9
		c.MQTT.MaxQoS = 1
		c.MQTT.MaxSessionExpiry = 100
	})
	_, ack := connect5(t, b.Addr("tcp"), "props", false, func(p *codec.Packet) {
		p.Props.SessionExpiry = 1000
		p.Props.Present |= 1 << codec.PropSessionExpiry
	})
	pr := &ack.Props
	if pr.ReceiveMaximum != 7 || pr.MaximumPacketSize != 4096 || pr.TopicAliasMaximum != 9 ||
		!pr.Has(codec.PropMaximumQoS) || pr.MaximumQoS != 1 {
		t.Fatalf("CONNACK properties %+v", pr)
	}
	// The server lowered the session expiry and says so (MQTT-5.0 §3.2.2.3.2).
	if !pr.Has(codec.PropSessionExpiry) || pr.SessionExpiry != 100 {
		t.Fatalf("Session Expiry Interval %d present %v, want 100", pr.SessionExpiry, pr.Has(codec.PropSessionExpiry))
	}
}

func TestPublishAboveServerMaxQoS_MQTT_3_2_2_11(t *testing.T) {
	b := testBroker(t, func(c *config.Config) { c.MQTT.MaxQoS = 1 })
	w, _ := connect5(t, b.Addr("tcp"), "q2", true, nil)
	w.send([]byte{0x34, 0x06, 0x00, 0x01, 'q', 0x00, 0x01, 0x00})
	w.expectCloseWith(disconnectV5(0x9b))
}

func TestPacketTooLargeFromClient_Section_3_2_2_3_6(t *testing.T) {
	b := testBroker(t, func(c *config.Config) { c.MQTT.MaxPacketSize = 1024 })
	w, _ := connect5(t, b.Addr("tcp"), "big", true, nil)
	w.sendPacket(publishV5("big", string(make([]byte, 2000)), 0, 0, codec.Properties{}))
	w.expectCloseWith(disconnectV5(0x95))
}

func TestInboundReceiveMaximumExceeded_MQTT_3_3_4_7(t *testing.T) {
	b := testBroker(t, func(c *config.Config) { c.MQTT.ReceiveMaximum = 2 })
	w, ack := connect5(t, b.Addr("tcp"), "rx", true, nil)
	if ack.Props.ReceiveMaximum != 2 {
		t.Fatalf("CONNACK Receive Maximum %d", ack.Props.ReceiveMaximum)
	}
	for id := byte(1); id <= 2; id++ {
		w.send([]byte{0x34, 0x06, 0x00, 0x01, 'r', 0x00, id, 0x00})
		w.expectRaw([]byte{0x50, 0x03, 0x00, id, 0x10}) // PUBREC, no matching subscribers
	}
	w.send([]byte{0x34, 0x06, 0x00, 0x01, 'r', 0x00, 0x03, 0x00}) // a third before any PUBREL
	w.expectCloseWith(disconnectV5(0x93))
}

func TestRetainUnavailable_MQTT_3_2_2_14(t *testing.T) {
	b := testBroker(t, func(c *config.Config) { f := false; c.MQTT.RetainAvailable = &f })
	w, ack := connect5(t, b.Addr("tcp"), "nr", true, nil)
	if !ack.Props.Has(codec.PropRetainAvailable) || ack.Props.RetainAvailable != 0 {
		t.Fatalf("CONNACK does not announce Retain Available 0: %+v", ack.Props)
	}
	w.send([]byte{0x31, 0x04, 0x00, 0x01, 'r', 0x00})
	w.expectCloseWith(disconnectV5(0x9a))
}

func TestSubscriptionIDsUnavailable_MQTT_3_2_2_3_12(t *testing.T) {
	b := testBroker(t, func(c *config.Config) { f := false; c.MQTT.SubscriptionIdentifiers = &f })
	w, ack := connect5(t, b.Addr("tcp"), "ni", true, nil)
	if !ack.Props.Has(codec.PropSubIDAvailable) || ack.Props.SubIDAvailable != 0 {
		t.Fatalf("CONNACK does not announce Subscription Identifier Available 0: %+v", ack.Props)
	}
	w.send([]byte{0x82, 0x09, 0x00, 0x01, 0x02, 0x0b, 0x05, 0x00, 0x01, 'a', 0x00}) // Subscription Identifier 5
	w.expectCloseWith(disconnectV5(0xa1))
}

func TestTopicAliasScopedToConnection_MQTT_3_3_2_7(t *testing.T) {
	b := testBroker(t, nil)
	persist := func(p *codec.Packet) {
		p.Props.SessionExpiry = 60
		p.Props.Present |= 1 << codec.PropSessionExpiry
	}
	w, _ := connect5(t, b.Addr("tcp"), "tas", false, persist)
	w.sendPacket(publishV5("tas/x", "1", 0, 0, aliasProps(1)))
	w.sync()
	_ = w.conn.Close()
	time.Sleep(50 * time.Millisecond)
	w, ack := connect5(t, b.Addr("tcp"), "tas", false, persist)
	if !ack.SessionPresent {
		t.Fatal("session not resumed")
	}
	// The session is resumed, the alias mapping is not: alias 1 is unknown here.
	w.sendPacket(publishV5("", "2", 0, 0, aliasProps(1)))
	w.expectCloseWith(disconnectV5(0x82))
}

func TestRetainedCarriesRemainingExpiryAndSubID_MQTT_3_3_2_6(t *testing.T) {
	t.Parallel()
	b := testBroker(t, nil)
	p, _ := connect5(t, b.Addr("tcp"), "p", true, nil)
	p.sendPacket(publishV5("rx", "v", 0, 0, codec.Properties{MessageExpiry: 60, Present: 1 << codec.PropMessageExpiry}))
	p.sendPacket(&codec.Packet{Type: codec.PUBLISH, Retain: true, Topic: []byte("rx"), Payload: []byte("v"),
		Props: codec.Properties{MessageExpiry: 60, Present: 1 << codec.PropMessageExpiry}})
	p.sync()
	time.Sleep(1100 * time.Millisecond)
	s, _ := connect5(t, b.Addr("tcp"), "s", true, nil)
	subscribeOpts(t, s, 1, 42, sub("rx", 0))
	m := s.recv(codec.PUBLISH)
	if !m.Retain || m.Props.MessageExpiry >= 60 || m.Props.MessageExpiry < 57 {
		t.Fatalf("retained Message Expiry Interval %d, want 57..59 [MQTT-3.3.2-6]", m.Props.MessageExpiry)
	}
	if len(m.Props.SubscriptionIDs) != 1 || m.Props.SubscriptionIDs[0] != 42 {
		t.Fatalf("retained delivery subscription ids %v, want [42] [MQTT-3.3.4-3]", m.Props.SubscriptionIDs)
	}
}

func TestUnsubscribeSharedSubscription_MQTT_3_11_3_1(t *testing.T) {
	b := testBroker(t, nil)
	s, _ := connect5(t, b.Addr("tcp"), "us", true, nil)
	subscribeOpts(t, s, 1, 0, sub("$share/g/us", 0))
	s.send(cat([]byte{0xa2, 0x10, 0x00, 0x02, 0x00, 0x00, 0x0b}, []byte("$share/g/us"))) // UNSUBSCRIBE id 2
	s.expectRaw([]byte{0xb0, 0x04, 0x00, 0x02, 0x00, 0x00})
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	publish(t, p, 1, "us", "x", 0, false)
	p.sync()
	s.sync() // unsubscribed from the group: nothing delivered
}
