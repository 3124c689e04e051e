package e2e

import (
	"bytes"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/auth"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// tutorialBroker is the tutorial's broker: MQTT on TCP for the publisher,
// WebSocket for browsers, admin/password required everywhere.
func tutorialBroker(t testing.TB, extra ...config.Listener) brokerOptsResult {
	t.Helper()
	ls := append([]config.Listener{{Type: config.TypeTCP}, {Type: config.TypeWS, Path: "/mqtt"}}, extra...)
	b := startBroker(t, brokerOpts{
		listeners: ls,
		users:     map[string]string{tutorialUser: tutorialPassword},
	})
	return brokerOptsResult{tcp: b.Addr(config.TypeTCP), ws: b.Addr(config.TypeWS), wss: b.Addr(config.TypeWSS), tls: b.Addr(config.TypeTLS)}
}

type brokerOptsResult struct{ tcp, ws, wss, tls string }

// publishTutorial is the Java program of the tutorial: connect as admin over
// TCP, publish the message with QoS 1, wait for PUBACK, disconnect.
func publishTutorial(t testing.TB, addr string) {
	t.Helper()
	pub := dialTCP(t, addr, codec.V311)
	pub.mustConnect("java-publisher", tutorialUser, tutorialPassword)
	pub.publish(tutorialTopic, tutorialMessage, 1, false, 1)
	ack := pub.expect(codec.PUBACK)
	if ack[2] != 0 || ack[3] != 1 {
		t.Fatalf("PUBACK % x for packet id 1", ack)
	}
	pub.sendPacket(&codec.Packet{Type: codec.DISCONNECT})
}

// expectTutorialMessage checks that sub gets exactly the tutorial message.
func expectTutorialMessage(t testing.TB, sub *mqttConn, wantQoS byte) {
	t.Helper()
	m := sub.receive(5 * time.Second)
	if m.topic != tutorialTopic || m.payload != tutorialMessage || m.qos != wantQoS || m.retain {
		t.Fatalf("got %+v, want %q on %q at QoS %d", m, tutorialMessage, tutorialTopic, wantQoS)
	}
	sub.expectNothing(300 * time.Millisecond)
}

// TestTutorialWebSocketSubscribers is the tutorial without a browser: two
// WebSocket subscribers (3.1.1 and 5.0, as paho-mqtt and mqtt.js speak)
// and a TCP publisher, all logged in as admin.
func TestTutorialWebSocketSubscribers(t *testing.T) {
	a := tutorialBroker(t)
	var subs []*mqttConn
	for i, ver := range []byte{codec.V311, codec.V5} {
		s := dialWS(t, a.ws, "/mqtt", ver)
		s.mustConnect("browser-"+strconv.Itoa(i), tutorialUser, tutorialPassword)
		if got := s.subscribe(1, 1, tutorialTopic); len(got) != 1 || got[0] != 1 {
			t.Fatalf("SUBACK codes % x, want 01", got)
		}
		subs = append(subs, s)
	}
	publishTutorial(t, a.tcp)
	for _, s := range subs {
		expectTutorialMessage(t, s, 1)
	}
}

// TestTutorialWSS runs the tutorial with the browsers on WebSocket over TLS
// and the publisher on MQTT over TLS, with a certificate made here.
func TestTutorialWSS(t *testing.T) {
	pki := newPKI(t)
	b := startBroker(t, brokerOpts{
		listeners: []config.Listener{
			{Type: config.TypeTLS, Cert: pki.certFile, Key: pki.keyFile},
			{Type: config.TypeWSS, Path: "/mqtt", Cert: pki.certFile, Key: pki.keyFile},
		},
		users: map[string]string{tutorialUser: tutorialPassword},
	})
	var subs []*mqttConn
	for i := 0; i < 2; i++ {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", b.Addr(config.TypeWSS), pki.clientTLS())
		if err != nil {
			t.Fatal(err)
		}
		w, err := wsUpgrade(c, "localhost", "/mqtt", "mqtt")
		if err != nil {
			t.Fatal(err)
		}
		s := newMQTT(t, w, c, codec.V311)
		s.mustConnect("wss-browser-"+strconv.Itoa(i), tutorialUser, tutorialPassword)
		s.subscribe(1, 1, tutorialTopic)
		subs = append(subs, s)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", b.Addr(config.TypeTLS), pki.clientTLS())
	if err != nil {
		t.Fatal(err)
	}
	pub := newMQTT(t, c, c, codec.V311)
	pub.mustConnect("java-publisher", tutorialUser, tutorialPassword)
	pub.publish(tutorialTopic, tutorialMessage, 1, false, 7)
	pub.expect(codec.PUBACK)
	for _, s := range subs {
		expectTutorialMessage(t, s, 1)
	}
}

// TestTutorialMosquittoPub publishes with mosquitto_pub exactly as the
// README tells users to (skipped when mosquitto-clients is not installed).
func TestTutorialMosquittoPub(t *testing.T) {
	bin, err := exec.LookPath("mosquitto_pub")
	if err != nil {
		t.Skip("mosquitto_pub not installed (apt-get install mosquitto-clients; tools/e2e-deps.sh does)")
	}
	a := tutorialBroker(t)
	sub := dialWS(t, a.ws, "/mqtt", codec.V311)
	sub.mustConnect("browser", tutorialUser, tutorialPassword)
	sub.subscribe(1, 1, tutorialTopic)
	host, port, _ := net.SplitHostPort(a.tcp)
	out, err := exec.Command(bin, "-h", host, "-p", port, "-u", tutorialUser, "-P", tutorialPassword,
		"-q", "1", "-t", tutorialTopic, "-m", tutorialMessage).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
	expectTutorialMessage(t, sub, 1)

	// Wrong password: mosquitto_pub fails and nothing is delivered.
	out, err = exec.Command(bin, "-h", host, "-p", port, "-u", tutorialUser, "-P", "wrong",
		"-q", "1", "-t", tutorialTopic, "-m", "must not arrive").CombinedOutput()
	if err == nil {
		t.Fatalf("mosquitto_pub with a wrong password succeeded: %s", out)
	}
	sub.expectNothing(300 * time.Millisecond)
}

// TestTutorialConfigFile starts the broker from the README's files
// (tools/tutorial/tsubame.yaml and acl, a password file made with
// `tsubame passwd -c -b`), on free loopback ports, and runs the tutorial.
func TestTutorialConfigFile(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"tsubame.yaml", "acl"} {
		b, err := os.ReadFile(filepath.Join("../../tools/tutorial", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	if rc := auth.PasswdMain([]string{"-c", "-b", filepath.Join(dir, "passwd"), tutorialUser, tutorialPassword}, strings.NewReader(""), &out, &errOut); rc != 0 {
		t.Fatalf("tsubame passwd: exit %d: %s", rc, errOut.String())
	}
	cfg, err := config.Load(filepath.Join(dir, "tsubame.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 2 || cfg.Listeners[0].Type != config.TypeTCP || cfg.Listeners[1].Type != config.TypeWS {
		t.Fatalf("tutorial listeners %+v, want tcp and ws", cfg.Listeners)
	}
	for i := range cfg.Listeners {
		cfg.Listeners[i].Address = "127.0.0.1:0"
	}
	cfg.Admin.Address = ""
	cfg.SysInterval = 0
	b := startConfig(t, cfg)

	anon := dialWS(t, b.Addr(config.TypeWS), "/mqtt", codec.V311)
	if rc := anon.connect(connectPacket(codec.V311, "anon", "", "")); rc != codec.ConnRefusedNotAuthorized {
		t.Fatalf("anonymous CONNACK %#x, want 5", rc)
	}
	sub := dialWS(t, b.Addr(config.TypeWS), "/mqtt", codec.V311)
	sub.mustConnect("browser", tutorialUser, tutorialPassword)
	sub.subscribe(1, 1, tutorialTopic)
	publishTutorial(t, b.Addr(config.TypeTCP))
	expectTutorialMessage(t, sub, 1)
}
