package interop

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// v5client is one paho.golang MQTT 5 client and what it received.
type v5client struct {
	c       *paho.Client
	conn    net.Conn
	connack *paho.Connack
	got     *collector
}

// v5Connect dials addr and connects with cp (ClientID and flags set by the
// caller). Every received PUBLISH is recorded by describe5; the client is
// closed when the test ends.
func v5Connect(t *testing.T, addr string, cp *paho.Connect) *v5client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, waitShort)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	vc := &v5client{conn: conn, got: newCollector()}
	vc.c = paho.NewClient(paho.ClientConfig{
		ClientID: cp.ClientID,
		Conn:     conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			vc.got.add(describe5(pr.Packet))
			return true, nil
		}},
		PacketTimeout: waitShort,
	})
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitShort)
	defer cancel()
	ca, err := vc.c.Connect(ctx, cp)
	if err != nil {
		_ = conn.Close()
		t.Fatalf("CONNECT %s: %v", cp.ClientID, err)
	}
	vc.connack = ca
	t.Cleanup(func() {
		_ = vc.c.Disconnect(&paho.Disconnect{})
		_ = conn.Close()
	})
	return vc
}

// describe5 renders what a test checks of a received message: payload,
// QoS, retain, topic, subscription identifier, user properties, and whether
// a topic alias leaked through.
func describe5(p *paho.Publish) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s qos=%d retain=%v topic=%s", p.Payload, p.QoS, p.Retain, p.Topic)
	if pp := p.Properties; pp != nil {
		if pp.SubscriptionIdentifier != nil {
			fmt.Fprintf(&b, " subid=%d", *pp.SubscriptionIdentifier)
		}
		for _, u := range pp.User {
			fmt.Fprintf(&b, " user=%s:%s", u.Key, u.Value)
		}
		if pp.TopicAlias != nil {
			fmt.Fprintf(&b, " alias=%d", *pp.TopicAlias)
		}
	}
	return b.String()
}

func (vc *v5client) subscribe(t *testing.T, topic string, qos byte, subID int) {
	t.Helper()
	s := &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: qos}}}
	if subID > 0 {
		s.Properties = &paho.SubscribeProperties{SubscriptionIdentifier: &subID}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitShort)
	defer cancel()
	sa, err := vc.c.Subscribe(ctx, s)
	if err != nil {
		t.Fatalf("SUBSCRIBE %s: %v", topic, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("SUBACK reasons %v, want [%d]", sa.Reasons, qos)
	}
}

func (vc *v5client) publish(t *testing.T, p *paho.Publish) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitShort)
	defer cancel()
	pr, err := vc.c.Publish(ctx, p)
	if err != nil {
		t.Fatalf("PUBLISH %s: %v", p.Payload, err)
	}
	if p.QoS > 0 && pr.ReasonCode >= 0x80 {
		t.Fatalf("PUBLISH %s refused: reason 0x%02x", p.Payload, pr.ReasonCode)
	}
}

func u32(v uint32) *uint32 { return &v }

// TestPaho5RoundTrip publishes a numbered batch at each QoS, each message
// with a user property, to a subscription with an identifier: the subscriber
// must get every message once, in order [MQTT-4.6.0-6], with the
// subscription identifier [MQTT-3.3.4-3] and the user property unaltered
// [MQTT-3.3.2-17].
func TestPaho5RoundTrip(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	for qos := byte(0); qos <= 2; qos++ {
		t.Run("mqttv5/qos="+itoa(int(qos)), func(t *testing.T) {
			topic := uniqueTopic("paho5-rt")
			sub := v5Connect(t, addr, &paho.Connect{ClientID: uniqueID("p5s"), CleanStart: true})
			sub.subscribe(t, topic, qos, 7)
			pub := v5Connect(t, addr, &paho.Connect{ClientID: uniqueID("p5p"), CleanStart: true})
			var want []string
			for i, p := range payloads(msgCount) {
				props := &paho.PublishProperties{}
				props.User.Add("seq", itoa(i)).Add("origin", "paho.golang")
				pub.publish(t, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte(p), Properties: props})
				want = append(want, fmt.Sprintf("%s qos=%d retain=false topic=%s subid=7 user=seq:%d user=origin:paho.golang", p, qos, topic, i))
			}
			checkBatch(t, sub.got.wait(len(want), waitLong), want)
		})
	}
}

// TestPaho5TopicAlias publishes the first message with topic and alias and
// the rest with the alias alone; subscribers must see the full topic name
// and no alias (aliases belong to one connection [MQTT-3.3.2-7]).
func TestPaho5TopicAlias(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	for qos := byte(0); qos <= 2; qos++ {
		t.Run("mqttv5/qos="+itoa(int(qos)), func(t *testing.T) {
			topic := uniqueTopic("paho5-alias")
			sub := v5Connect(t, addr, &paho.Connect{ClientID: uniqueID("p5s"), CleanStart: true})
			sub.subscribe(t, topic, qos, 0)
			pub := v5Connect(t, addr, &paho.Connect{ClientID: uniqueID("p5p"), CleanStart: true})
			if ca := pub.connack.Properties; ca == nil || ca.TopicAliasMaximum == nil || *ca.TopicAliasMaximum < 1 {
				t.Fatalf("CONNACK offers no topic aliases: %+v", ca)
			}
			alias := uint16(1)
			var want []string
			for i, p := range payloads(msgCount) {
				m := &paho.Publish{QoS: qos, Payload: []byte(p), Properties: &paho.PublishProperties{TopicAlias: &alias}}
				if i == 0 {
					m.Topic = topic // sets the alias
				}
				pub.publish(t, m)
				want = append(want, fmt.Sprintf("%s qos=%d retain=false topic=%s", p, qos, topic))
			}
			checkBatch(t, sub.got.wait(len(want), waitLong), want)
		})
	}
}

// TestPaho5Retained checks a retained message with a user property reaches a
// later subscriber with retain set [MQTT-3.3.1-6] and its properties
// [MQTT-3.3.2-17], and that an empty retained message clears it
// [MQTT-3.3.1-10].
func TestPaho5Retained(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	for qos := byte(0); qos <= 2; qos++ {
		t.Run("mqttv5/qos="+itoa(int(qos)), func(t *testing.T) {
			topic := uniqueTopic("paho5-ret")
			pub := v5Connect(t, addr, &paho.Connect{ClientID: uniqueID("p5p"), CleanStart: true})
			props := &paho.PublishProperties{}
			props.User.Add("k", "v")
			pub.publish(t, &paho.Publish{Topic: topic, QoS: qos, Retain: true, Payload: []byte("kept"), Properties: props})

			sub := v5Connect(t, addr, &paho.Connect{ClientID: uniqueID("p5s"), CleanStart: true})
			sub.subscribe(t, topic, qos, 3)
			checkBatch(t, sub.got.wait(1, waitShort), []string{fmt.Sprintf("kept qos=%d retain=true topic=%s subid=3 user=k:v", qos, topic)}) // [MQTT-3.3.1-6]

			pub.publish(t, &paho.Publish{Topic: topic, QoS: qos, Retain: true})
			// The established subscriber gets the clearing message with retain 0
			// [MQTT-3.3.1-9]; once it has, the broker has processed it even at QoS 0.
			checkBatch(t, sub.got.wait(2, waitShort), []string{
				fmt.Sprintf("kept qos=%d retain=true topic=%s subid=3 user=k:v", qos, topic),
				fmt.Sprintf(" qos=%d retain=false topic=%s subid=3", qos, topic),
			})
			late := v5Connect(t, addr, &paho.Connect{ClientID: uniqueID("p5l"), CleanStart: true})
			late.subscribe(t, topic, qos, 0)
			if got := late.got.wait(1, 300*time.Millisecond); len(got) != 0 {
				t.Fatalf("retained message not cleared by empty payload: %q [MQTT-3.3.1-10]", got)
			}
		})
	}
}

// TestPaho5Will drops a client's socket without DISCONNECT and checks its
// will, with its user property, is published [MQTT-3.1.2-8]; a normal
// DISCONNECT discards the will [MQTT-3.1.2-10].
func TestPaho5Will(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	for qos := byte(0); qos <= 2; qos++ {
		t.Run("mqttv5/qos="+itoa(int(qos)), func(t *testing.T) {
			topic := uniqueTopic("paho5-will")
			sub := v5Connect(t, addr, &paho.Connect{ClientID: uniqueID("p5s"), CleanStart: true})
			sub.subscribe(t, topic, qos, 0)

			polite := v5Connect(t, addr, &paho.Connect{ClientID: uniqueID("p5w"), CleanStart: true,
				WillMessage: &paho.WillMessage{Topic: topic, QoS: qos, Payload: []byte("polite")}})
			if err := polite.c.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
				t.Fatalf("DISCONNECT: %v", err)
			}

			wp := &paho.WillProperties{}
			wp.User.Add("why", "dropped")
			rude := v5Connect(t, addr, &paho.Connect{ClientID: uniqueID("p5w"), CleanStart: true,
				WillMessage:    &paho.WillMessage{Topic: topic, QoS: qos, Payload: []byte("gone")},
				WillProperties: wp})
			_ = rude.conn.Close()
			want := fmt.Sprintf("gone qos=%d retain=false topic=%s user=why:dropped", qos, topic)
			checkBatch(t, sub.got.wait(1, waitShort), []string{want}) // [MQTT-3.1.2-8] [MQTT-3.1.2-10]
			if got := sub.got.wait(2, 200*time.Millisecond); len(got) != 1 {
				t.Fatalf("got %q, want only the will of the dropped client", got)
			}
		})
	}
}

// TestPaho5SessionResume subscribes with a session expiry, disconnects, lets
// a batch be published, and reconnects with Clean Start 0: the session must
// be present [MQTT-3.2.2-2] and the batch delivered in order with its
// subscription identifier, without subscribing again.
func TestPaho5SessionResume(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	for qos := byte(1); qos <= 2; qos++ {
		t.Run("mqttv5/qos="+itoa(int(qos)), func(t *testing.T) {
			topic := uniqueTopic("paho5-sess")
			id := uniqueID("p5r")
			props := func() *paho.ConnectProperties { return &paho.ConnectProperties{SessionExpiryInterval: u32(60)} }
			first := v5Connect(t, addr, &paho.Connect{ClientID: id, CleanStart: true, Properties: props()})
			if first.connack.SessionPresent {
				t.Fatal("session present after Clean Start 1 [MQTT-3.2.2-2]")
			}
			first.subscribe(t, topic, qos, 9)
			if err := first.c.Disconnect(&paho.Disconnect{}); err != nil {
				t.Fatalf("DISCONNECT: %v", err)
			}

			pub := v5Connect(t, addr, &paho.Connect{ClientID: uniqueID("p5p"), CleanStart: true})
			var want []string
			for _, p := range payloads(msgCount) {
				pub.publish(t, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte(p)})
				want = append(want, fmt.Sprintf("%s qos=%d retain=false topic=%s subid=9", p, qos, topic))
			}

			again := v5Connect(t, addr, &paho.Connect{ClientID: id, CleanStart: false, Properties: props()})
			if !again.connack.SessionPresent {
				t.Fatal("session present = 0 on resume [MQTT-3.2.2-2]")
			}
			checkBatch(t, again.got.wait(len(want), waitLong), want)
		})
	}
}
