package interop

import (
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// paho3Versions are the protocol levels paho.mqtt.golang speaks.
var paho3Versions = []struct {
	name  string
	level uint // paho's SetProtocolVersion value
}{
	{"mqttv31", 3},
	{"mqttv311", 4},
}

// paho3Options returns options for one client; the caller adjusts them.
func paho3Options(addr, id string, level uint, clean bool) *mqtt.ClientOptions {
	return mqtt.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(id).
		SetProtocolVersion(level).
		SetCleanSession(clean).
		SetOrderMatters(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(waitShort).
		SetWriteTimeout(waitShort).
		SetKeepAlive(30 * time.Second)
}

// paho3Connect connects o and fails the test on error; the client is
// disconnected when the test ends. It returns the CONNACK session present flag.
func paho3Connect(t *testing.T, o *mqtt.ClientOptions) (mqtt.Client, bool) {
	t.Helper()
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(waitShort) {
		t.Fatalf("CONNECT %s: no CONNACK within %v", o.ClientID, waitShort)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("CONNECT %s: %v", o.ClientID, err)
	}
	t.Cleanup(func() {
		if c.IsConnected() {
			c.Disconnect(100)
		}
	})
	return c, tok.(*mqtt.ConnectToken).SessionPresent()
}

func paho3Wait(t *testing.T, what string, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(waitShort) {
		t.Fatalf("%s: timed out after %v", what, waitShort)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// paho3Subscribe subscribes at qos and records payloads, failing the test on
// a message of another topic or QoS. With showRetain each payload is recorded
// as "payload retain=true|false".
func paho3Subscribe(t *testing.T, c mqtt.Client, topic string, qos byte, showRetain bool) *collector {
	t.Helper()
	col := newCollector()
	var once sync.Once
	tok := c.Subscribe(topic, qos, func(_ mqtt.Client, m mqtt.Message) {
		if m.Qos() != qos || m.Topic() != topic {
			once.Do(func() {
				t.Errorf("got topic %q qos %d, want %q qos %d", m.Topic(), m.Qos(), topic, qos)
			})
		}
		p := string(m.Payload())
		if showRetain {
			p += " retain=" + strconv.FormatBool(m.Retained())
		}
		col.add(p)
	})
	paho3Wait(t, "SUBSCRIBE "+topic, tok)
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		if got := st.Result()[topic]; got != qos {
			t.Fatalf("SUBACK granted qos %d, want %d", got, qos)
		}
	}
	return col
}

// TestPaho3RoundTrip publishes a numbered batch at each QoS and version and
// checks the subscriber gets every message once, in order, at that QoS.
func TestPaho3RoundTrip(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	for _, v := range paho3Versions {
		for qos := byte(0); qos <= 2; qos++ {
			t.Run(v.name+"/qos="+itoa(int(qos)), func(t *testing.T) {
				topic := uniqueTopic("paho3-rt")
				sub, _ := paho3Connect(t, paho3Options(addr, uniqueID("p3s"), v.level, true))
				col := paho3Subscribe(t, sub, topic, qos, false)
				pub, _ := paho3Connect(t, paho3Options(addr, uniqueID("p3p"), v.level, true))
				want := payloads(msgCount)
				for _, p := range want {
					tok := pub.Publish(topic, qos, false, p)
					if qos > 0 {
						paho3Wait(t, "PUBLISH", tok)
					}
				}
				checkBatch(t, col.wait(len(want), waitLong), want)
			})
		}
	}
}

// TestPaho3Retained checks a retained message reaches a later subscriber with
// the retain flag set [MQTT-3.3.1-6] [MQTT-3.3.1-8], that an empty retained
// message reaches established subscribers with retain 0 [MQTT-3.3.1-9] and
// clears the retained message [MQTT-3.3.1-10].
func TestPaho3Retained(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	for _, v := range paho3Versions {
		for qos := byte(0); qos <= 2; qos++ {
			t.Run(v.name+"/qos="+itoa(int(qos)), func(t *testing.T) {
				topic := uniqueTopic("paho3-ret")
				pub, _ := paho3Connect(t, paho3Options(addr, uniqueID("p3p"), v.level, true))
				paho3Wait(t, "PUBLISH retained", pub.Publish(topic, qos, true, "kept"))

				sub, _ := paho3Connect(t, paho3Options(addr, uniqueID("p3s"), v.level, true))
				col := paho3Subscribe(t, sub, topic, qos, true)
				checkBatch(t, col.wait(1, waitShort), []string{"kept retain=true"}) // [MQTT-3.3.1-6] [MQTT-3.3.1-8]

				paho3Wait(t, "PUBLISH clear", pub.Publish(topic, qos, true, []byte{}))
				checkBatch(t, col.wait(2, waitShort), []string{"kept retain=true", " retain=false"}) // [MQTT-3.3.1-9]
				late, _ := paho3Connect(t, paho3Options(addr, uniqueID("p3l"), v.level, true))
				lateCol := paho3Subscribe(t, late, topic, qos, true)
				if got := lateCol.wait(1, 300*time.Millisecond); len(got) != 0 {
					t.Fatalf("retained message not cleared by empty payload: got %q [MQTT-3.3.1-10]", got)
				}
			})
		}
	}
}

// TestPaho3Will drops a client's socket without DISCONNECT and checks its
// will is published [MQTT-3.1.2-8]; a clean DISCONNECT must not publish it
// [MQTT-3.1.2-10].
func TestPaho3Will(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	for _, v := range paho3Versions {
		for qos := byte(0); qos <= 2; qos++ {
			t.Run(v.name+"/qos="+itoa(int(qos)), func(t *testing.T) {
				topic := uniqueTopic("paho3-will")
				sub, _ := paho3Connect(t, paho3Options(addr, uniqueID("p3s"), v.level, true))
				col := paho3Subscribe(t, sub, topic, qos, false)

				// A clean disconnect discards the will.
				polite, _ := paho3Connect(t, paho3Options(addr, uniqueID("p3w"), v.level, true).SetWill(topic, "polite", qos, false))
				polite.Disconnect(100)

				var conn net.Conn
				var mu sync.Mutex
				o := paho3Options(addr, uniqueID("p3w"), v.level, true).
					SetWill(topic, "gone", qos, false).
					SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
						c, err := net.DialTimeout("tcp", u.Host, waitShort)
						mu.Lock()
						conn = c
						mu.Unlock()
						return c, err
					})
				paho3Connect(t, o)
				mu.Lock()
				_ = conn.Close()
				mu.Unlock()
				checkBatch(t, col.wait(1, waitShort), []string{"gone"}) // [MQTT-3.1.2-8] and [MQTT-3.1.2-10]
				if got := col.wait(2, 200*time.Millisecond); len(got) != 1 {
					t.Fatalf("got %q, want only the will of the dropped client", got)
				}
			})
		}
	}
}

// TestPaho3SessionResume subscribes with CleanSession 0, goes offline while
// a batch is published, and checks that reconnecting resumes the session
// (session present [MQTT-3.2.2-2]) and delivers the whole batch in order
// without subscribing again [MQTT-3.1.2-4].
func TestPaho3SessionResume(t *testing.T) {
	t.Parallel()
	addr := startBroker(t)
	for _, v := range paho3Versions {
		for qos := byte(1); qos <= 2; qos++ {
			t.Run(v.name+"/qos="+itoa(int(qos)), func(t *testing.T) {
				topic := uniqueTopic("paho3-sess")
				id := uniqueID("p3r")
				first, present := paho3Connect(t, paho3Options(addr, id, v.level, false))
				if present {
					t.Fatalf("session present on first connect of %s", id)
				}
				paho3Subscribe(t, first, topic, qos, false)
				first.Disconnect(100)

				pub, _ := paho3Connect(t, paho3Options(addr, uniqueID("p3p"), v.level, true))
				want := payloads(msgCount)
				for _, p := range want {
					paho3Wait(t, "PUBLISH", pub.Publish(topic, qos, false, p))
				}

				col := newCollector()
				o := paho3Options(addr, id, v.level, false).SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
					if m.Topic() == topic && m.Qos() == qos {
						col.add(string(m.Payload()))
					} else {
						col.add("unexpected " + m.Topic() + " qos " + itoa(int(m.Qos())))
					}
				})
				_, present = paho3Connect(t, o)
				// MQTT 3.1 has no session present flag: its CONNACK byte 1 is reserved.
				if !present && v.level == 4 {
					t.Fatalf("session present = 0 on resume [MQTT-3.2.2-2]")
				}
				checkBatch(t, col.wait(len(want), waitLong), want) // [MQTT-3.1.2-4]
			})
		}
	}
}
