package e2e

import (
	"bytes"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// TestLoginRefusedMQTT_3_1_4_5 covers refused logins over TCP and WebSocket:
// the CONNACK carries the right code, the connection is closed
// [MQTT-3.2.2-5], and a PUBLISH sent right behind the CONNECT is never
// processed [MQTT-3.1.4-5] (5.0: [MQTT-3.1.4-6]).
func TestLoginRefusedMQTT_3_1_4_5(t *testing.T) {
	cases := []struct {
		name       string
		ver        byte
		user, pass string
		want       byte
	}{
		{"wrong-password-3.1.1", codec.V311, tutorialUser, "wrong", codec.ConnRefusedBadCredentials},
		{"unknown-user-3.1.1", codec.V311, "nobody", tutorialPassword, codec.ConnRefusedBadCredentials},
		{"anonymous-3.1.1", codec.V311, "", "", codec.ConnRefusedNotAuthorized},
		{"wrong-password-5.0", codec.V5, tutorialUser, "wrong", codec.BadUsernameOrPassword},
		{"unknown-user-5.0", codec.V5, "nobody", tutorialPassword, codec.BadUsernameOrPassword},
		{"anonymous-5.0", codec.V5, "", "", codec.NotAuthorized},
	}
	for _, transport := range []string{"tcp", "ws"} {
		t.Run(transport, func(t *testing.T) {
			// A fresh broker per transport keeps the failed-login count of
			// 127.0.0.1 under the rate limiter's threshold.
			a := tutorialBroker(t)
			sub := dialTCP(t, a.tcp, codec.V311)
			sub.mustConnect("watcher", tutorialUser, tutorialPassword)
			sub.subscribe(1, 1, "#")
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					var c *mqttConn
					if transport == "ws" {
						c = dialWS(t, a.ws, "/mqtt", tc.ver)
					} else {
						c = dialTCP(t, a.tcp, tc.ver)
					}
					conn := codec.Encode(nil, connectPacket(tc.ver, "intruder", tc.user, tc.pass))
					pub := codec.Encode(nil, &codec.Packet{Type: codec.PUBLISH, Version: tc.ver, Topic: []byte(tutorialTopic), Payload: []byte("intruder")})
					c.send(append(conn, pub...)) // one write: the PUBLISH is already buffered when CONNECT is refused
					got := c.expectClosed(3 * time.Second)
					if len(got) != 1 || codec.PacketType(got[0][0]>>4) != codec.CONNACK || got[0][3] != tc.want {
						t.Fatalf("got % x, want one CONNACK with code %#x, then close", got, tc.want)
					}
					sub.expectNothing(200 * time.Millisecond)
				})
			}
		})
	}
}

// aclFile is the tutorial's ACL: admin may do anything; reader and writer
// are limited; patterns give every client and user a private subtree.
const aclFile = `user admin
topic readwrite #

user reader
topic read /testtopic
topic read news/#
topic deny news/private/#

user writer
topic write /testtopic
topic write news/#

pattern readwrite clients/%c/#
pattern readwrite users/%u/#
`

func aclBroker(t *testing.T) brokerOptsResult {
	t.Helper()
	b := startBroker(t, brokerOpts{
		listeners: []config.Listener{{Type: config.TypeTCP}, {Type: config.TypeWS, Path: "/mqtt"}},
		users:     map[string]string{"admin": "password", "reader": "r", "writer": "w", "+": "plus", "c": "c"},
		acl:       aclFile,
	})
	return brokerOptsResult{tcp: b.Addr(config.TypeTCP), ws: b.Addr(config.TypeWS)}
}

func TestACLSubscribe(t *testing.T) {
	a := aclBroker(t)
	for _, ver := range []byte{codec.V311, codec.V5} {
		deny := byte(0x80) // 3.1.1 has one failure code [MQTT-3.9.3-2]
		if ver == codec.V5 {
			deny = codec.NotAuthorized
		}
		r := dialWS(t, a.ws, "/mqtt", ver)
		r.mustConnect("reader-sub", "reader", "r")
		got := r.subscribe(1, 1, tutorialTopic, "secret/#", "#", "news/#", "news/private/+")
		want := []byte{1, deny, deny, 1, deny}
		if !bytes.Equal(got, want) {
			t.Errorf("v%d SUBACK % x, want % x", ver, got, want)
		}
	}
}

func TestACLPublish(t *testing.T) {
	a := aclBroker(t)
	r := dialWS(t, a.ws, "/mqtt", codec.V311)
	r.mustConnect("reader", "reader", "r")
	r.subscribe(1, 1, tutorialTopic)

	// writer may publish to /testtopic: delivered.
	w := dialTCP(t, a.tcp, codec.V5)
	w.mustConnect("writer", "writer", "w")
	w.publish(tutorialTopic, tutorialMessage, 1, false, 1)
	if rc := pubackCode(w.expect(codec.PUBACK)); rc != 0 {
		t.Fatalf("writer PUBACK reason %#x", rc)
	}
	expectTutorialMessage(t, r, 1)

	// reader may not: 3.1.1 acknowledges and drops, 5.0 answers 0x87; nothing delivered.
	for _, ver := range []byte{codec.V311, codec.V5} {
		p := dialTCP(t, a.tcp, ver)
		p.mustConnect("reader-pub", "reader", "r")
		p.publish(tutorialTopic, "forbidden", 1, false, 9)
		rc := pubackCode(p.expect(codec.PUBACK))
		if want := map[byte]byte{codec.V311: 0, codec.V5: codec.NotAuthorized}[ver]; rc != want {
			t.Errorf("v%d: PUBACK reason %#x, want %#x", ver, rc, want)
		}
	}
	r.expectNothing(300 * time.Millisecond)
}

func TestACLRetained(t *testing.T) {
	a := aclBroker(t)
	adm := dialTCP(t, a.tcp, codec.V311)
	adm.mustConnect("admin", "admin", "password")
	for i, topic := range []string{"news/public", "news/private/x", "secret/x"} {
		adm.publish(topic, "retained "+topic, 1, true, uint16(i+1))
		adm.expect(codec.PUBACK)
	}
	r := dialWS(t, a.ws, "/mqtt", codec.V311)
	r.mustConnect("reader", "reader", "r")
	if got := r.subscribe(1, 1, "news/#"); got[0] != 1 {
		t.Fatalf("news/# SUBACK %x", got)
	}
	m := r.receive(3 * time.Second)
	if m.topic != "news/public" || !m.retain {
		t.Fatalf("got %+v, want retained news/public", m)
	}
	r.expectNothing(300 * time.Millisecond) // news/private/x is denied at delivery

	// Live messages follow the same Read check.
	adm.publish("news/private/y", "live", 0, false, 0)
	adm.publish("news/ok", "live", 0, false, 0)
	if m := r.receive(3 * time.Second); m.topic != "news/ok" {
		t.Fatalf("got %+v, want news/ok", m)
	}
	r.expectNothing(300 * time.Millisecond)
}

func TestACLWill(t *testing.T) {
	a := aclBroker(t)
	watch := dialTCP(t, a.tcp, codec.V311)
	watch.mustConnect("admin-watch", "admin", "password")
	watch.subscribe(1, 1, "#")
	r := dialWS(t, a.ws, "/mqtt", codec.V311)
	r.mustConnect("reader", "reader", "r")
	r.subscribe(1, 1, "news/#")

	// A will on a topic the client may not write: refused at CONNECT.
	for _, ver := range []byte{codec.V311, codec.V5} {
		c := dialTCP(t, a.tcp, ver)
		p := connectPacket(ver, "reader-will", "reader", "r")
		p.WillFlag, p.WillTopic, p.WillPayload, p.WillQoS = true, []byte(tutorialTopic), []byte("bye"), 1
		want := map[byte]byte{codec.V311: codec.ConnRefusedNotAuthorized, codec.V5: codec.NotAuthorized}[ver]
		if rc := c.connect(p); rc != want {
			t.Errorf("v%d: CONNACK %#x for a forbidden will, want %#x", ver, rc, want)
		}
		c.expectClosed(3 * time.Second)
	}

	// Allowed wills are published when the connection drops, and delivered
	// only to subscribers who may read them.
	for _, topic := range []string{"news/private/gone", "news/gone"} {
		c := dialTCP(t, a.tcp, codec.V311)
		p := connectPacket(codec.V311, "writer-"+topic, "writer", "w")
		p.WillFlag, p.WillTopic, p.WillPayload, p.WillQoS = true, []byte(topic), []byte("bye"), 1
		if rc := c.connect(p); rc != 0 {
			t.Fatalf("writer CONNACK %#x", rc)
		}
		_ = c.raw.Close()
		if m := watch.receive(3 * time.Second); m.topic != topic || m.payload != "bye" {
			t.Fatalf("admin got %+v, want will on %s", m, topic)
		}
	}
	if m := r.receive(3 * time.Second); m.topic != "news/gone" {
		t.Fatalf("reader got %+v, want only the news/gone will", m)
	}
	r.expectNothing(300 * time.Millisecond)
}

// TestACLWideningAttack: a client id or user name made of wildcards must not
// turn a %c / %u pattern into a wildcard rule.
func TestACLWideningAttack(t *testing.T) {
	a := aclBroker(t)
	victim := dialTCP(t, a.tcp, codec.V311)
	victim.mustConnect("victim", "admin", "password")

	cases := []struct {
		name, id, user, pass string
		filters              []string
		publish              string
	}{
		{"client-id-plus", "+", "c", "c", []string{"clients/+/#", "clients/+/inbox"}, "clients/victim/inbox"},
		{"client-id-hash", "#", "c", "c", []string{"clients/#", "clients/+/inbox"}, "clients/victim/inbox"},
		{"username-plus", "plus-user", "+", "plus", []string{"users/+/#", "users/+/inbox"}, "users/admin/inbox"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialTCP(t, a.tcp, codec.V5)
			c.mustConnect(tc.id, tc.user, tc.pass)
			for i, f := range tc.filters {
				if got := c.subscribe(uint16(i+1), 1, f); got[0] != codec.NotAuthorized {
					t.Errorf("subscribe %q as id %q user %q: code %#x, want 0x87", f, tc.id, tc.user, got[0])
				}
			}
			c.publish(tc.publish, "forged", 1, false, 50)
			if rc := pubackCode(c.expect(codec.PUBACK)); rc != codec.NotAuthorized {
				t.Errorf("publish to %s: reason %#x, want 0x87", tc.publish, rc)
			}
			// The victim's own message to its subtree does not reach the attacker.
			victim.publish(tc.publish, "private", 0, false, 0)
			c.expectNothing(300 * time.Millisecond)
		})
	}

	// The pattern still works for an honest client id.
	h := dialTCP(t, a.tcp, codec.V311)
	h.mustConnect("c1", "c", "c")
	if got := h.subscribe(1, 1, "clients/c1/#"); got[0] != 1 {
		t.Fatalf("clients/c1/# for c1: %#x", got[0])
	}
	victim.publish("clients/c1/inbox", "hello", 0, false, 0)
	if m := h.receive(3 * time.Second); m.payload != "hello" {
		t.Fatalf("got %+v", m)
	}
}
