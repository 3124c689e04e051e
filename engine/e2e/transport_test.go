package e2e

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// wsBroker is the tutorial broker with a small max_packet_size, so that
// frame size limits are cheap to hit.
func wsBroker(t *testing.T) brokerOptsResult {
	t.Helper()
	b := startBroker(t, brokerOpts{
		listeners: []config.Listener{{Type: config.TypeTCP}, {Type: config.TypeWS, Path: "/mqtt"}},
		users:     map[string]string{tutorialUser: tutorialPassword},
		maxPacket: 1024,
		// Bytes that never form an HTTP request are dropped at the connect
		// timeout; keep it short so the test does not wait 10 s.
		connectTimeout: 2 * time.Second,
	})
	return brokerOptsResult{tcp: b.Addr(config.TypeTCP), ws: b.Addr(config.TypeWS)}
}

// rawWS upgrades a connection and returns it for hand-made frames.
func rawWS(t *testing.T, addr string) (net.Conn, *wsConn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	w, err := wsUpgrade(c, addr, "/mqtt", "mqtt")
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

// expectWSClose reads frames until the server's close frame, checks its
// status code, then checks that the server closes the TCP connection.
func expectWSClose(t *testing.T, c net.Conn, w *wsConn, code int) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		op, payload, err := w.readFrame()
		if err != nil {
			t.Fatalf("want close frame %d, got %v", code, err)
		}
		if op != 8 {
			continue
		}
		if len(payload) < 2 || int(binary.BigEndian.Uint16(payload)) != code {
			t.Fatalf("close frame % x, want status %d", payload, code)
		}
		break
	}
	if _, _, err := w.readFrame(); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("after close frame: %v, want the connection closed", err)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "reset") || errors.Is(err, net.ErrClosed))
}

// connectFrame is a 3.1.1 CONNECT as admin.
func connectBytes(id string) []byte {
	return codec.Encode(nil, connectPacket(codec.V311, id, tutorialUser, tutorialPassword))
}

func TestWSNonUpgradeRequests(t *testing.T) {
	a := wsBroker(t)
	cases := []struct {
		name, req string
		status    int
	}{
		{"plain-get", "GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"post", "POST /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n", 400},
		{"wrong-path", wsUpgradeRequest("x", "/other", "mqtt"), 404},
		{"no-mqtt-subprotocol-MQTT-6.0.0-3", wsUpgradeRequest("x", "/mqtt", "chat"), 400},
		{"bad-version", strings.Replace(wsUpgradeRequest("x", "/mqtt", "mqtt"), "Version: 13", "Version: 8", 1), 426},
		{"http-1.0", strings.Replace(wsUpgradeRequest("x", "/mqtt", "mqtt"), "HTTP/1.1", "HTTP/1.0", 1), 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", a.ws, 3*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			if _, err := io.WriteString(c, tc.req); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no HTTP answer: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			if _, err := br.ReadByte(); err == nil {
				t.Fatal("connection left open after a refused upgrade")
			}
		})
	}
	t.Run("raw-mqtt-on-ws-port", func(t *testing.T) {
		c := dialTCP(t, a.ws, codec.V311)
		c.send(connectBytes("raw"))
		got := c.expectClosed(5 * time.Second)
		for _, p := range got {
			if codec.PacketType(p[0]>>4) == codec.CONNACK {
				t.Fatalf("CONNACK to a raw MQTT client on the WebSocket port")
			}
		}
	})
	// The listener still serves WebSocket clients.
	s := dialWS(t, a.ws, "/mqtt", codec.V311)
	s.mustConnect("after", tutorialUser, tutorialPassword)
}

func TestWSBadFrames(t *testing.T) {
	a := wsBroker(t)
	cases := []struct {
		name  string
		frame []byte
		code  int
	}{
		// Header of a 1 MiB binary frame; max_packet_size is 1024.
		{"oversized-frame", []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4}, 1009},
		{"unmasked-RFC6455-5.1", wsFrame(true, 2, connectBytes("u"), false), 1002},
		{"text-frame-MQTT-6.0.0-1", wsFrame(true, 1, connectBytes("t"), true), 1003},
		{"reserved-opcode", wsFrame(true, 3, []byte{1}, true), 1002},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, w := rawWS(t, a.ws)
			if _, err := c.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			expectWSClose(t, c, w, tc.code)
		})
	}
	t.Run("oversized-after-connect", func(t *testing.T) {
		c, w := rawWS(t, a.ws)
		m := newMQTT(t, w, c, codec.V311)
		m.mustConnect("big", tutorialUser, tutorialPassword)
		big := codec.Encode(nil, &codec.Packet{Type: codec.PUBLISH, Version: codec.V311, Topic: []byte("t"), Payload: make([]byte, 4096)})
		if _, err := c.Write(wsFrame(true, 2, big, true)); err != nil {
			t.Fatal(err)
		}
		expectWSClose(t, c, w, 1009)
	})
}

// TestWSPacketsAcrossFramesMQTT_6_0_0_2: MQTT packets are not aligned with
// frames. A CONNECT split over two frames, a PUBLISH split over three
// (one of them a continuation frame), and two packets in one frame all work.
func TestWSPacketsAcrossFramesMQTT_6_0_0_2(t *testing.T) {
	a := wsBroker(t)
	sub := dialTCP(t, a.tcp, codec.V311)
	sub.mustConnect("sub", tutorialUser, tutorialPassword)
	sub.subscribe(1, 1, tutorialTopic)

	c, w := rawWS(t, a.ws)
	m := newMQTT(t, w, c, codec.V311)
	conn := connectBytes("split")
	c.Write(wsFrame(true, 2, conn[:5], true))
	time.Sleep(50 * time.Millisecond) // make the broker see the first half alone
	c.Write(wsFrame(true, 2, conn[5:], true))
	m.expect(codec.CONNACK)

	pub := codec.Encode(nil, &codec.Packet{Type: codec.PUBLISH, Version: codec.V311, QoS: 1, PacketID: 3, Topic: []byte(tutorialTopic), Payload: []byte(tutorialMessage)})
	c.Write(wsFrame(false, 2, pub[:3], true)) // fragmented message: start
	c.Write(wsFrame(false, 0, pub[3:10], true))
	time.Sleep(50 * time.Millisecond)
	c.Write(wsFrame(true, 0, pub[10:], true)) // final continuation frame
	m.expect(codec.PUBACK)
	expectTutorialMessage(t, sub, 1)

	two := append(codec.Encode(nil, &codec.Packet{Type: codec.PINGREQ, Version: codec.V311}),
		codec.Encode(nil, &codec.Packet{Type: codec.PUBLISH, Version: codec.V311, Topic: []byte(tutorialTopic), Payload: []byte(tutorialMessage)})...)
	c.Write(wsFrame(true, 2, two, true))
	m.expect(codec.PINGRESP)
	expectTutorialMessage(t, sub, 0)
}

// TestWSCloseInsidePacket: a close frame in the middle of an MQTT packet
// ends the connection; the partial packet is dropped, and since there was
// no DISCONNECT the will is published [MQTT-3.1.2-8].
func TestWSCloseInsidePacket(t *testing.T) {
	a := wsBroker(t)
	sub := dialTCP(t, a.tcp, codec.V311)
	sub.mustConnect("sub", tutorialUser, tutorialPassword)
	sub.subscribe(1, 1, "#")

	c, w := rawWS(t, a.ws)
	m := newMQTT(t, w, c, codec.V311)
	p := connectPacket(codec.V311, "closer", tutorialUser, tutorialPassword)
	p.WillFlag, p.WillTopic, p.WillPayload = true, []byte("wills/closer"), []byte("gone")
	if rc := m.connect(p); rc != 0 {
		t.Fatalf("CONNACK %#x", rc)
	}
	pub := codec.Encode(nil, &codec.Packet{Type: codec.PUBLISH, Version: codec.V311, Topic: []byte(tutorialTopic), Payload: []byte("half a message")})
	c.Write(wsFrame(true, 2, pub[:8], true))
	c.Write(wsFrame(true, 8, []byte{0x03, 0xe8}, true)) // close 1000
	expectWSClose(t, c, w, 1000)
	if got := sub.receive(3 * time.Second); got.topic != "wills/closer" || got.payload != "gone" {
		t.Fatalf("got %+v, want only the will", got)
	}
	sub.expectNothing(300 * time.Millisecond)
}

// tlsBroker has a TCP listener with the password file and a TLS listener
// on which the client certificate is the identity.
func tlsBroker(t *testing.T, pki *testPKI) brokerOptsResult {
	t.Helper()
	b := startBroker(t, brokerOpts{
		listeners: []config.Listener{
			{Type: config.TypeTCP},
			{Type: config.TypeTLS, Cert: pki.certFile, Key: pki.keyFile, CACert: pki.caFile,
				RequireCertificate: true, UseIdentityAsUsername: true},
		},
		users: map[string]string{tutorialUser: tutorialPassword},
		acl:   "user admin\ntopic readwrite #\n\nuser device1\ntopic readwrite devices/device1/#\n",
	})
	return brokerOptsResult{tcp: b.Addr(config.TypeTCP), tls: b.Addr(config.TypeTLS)}
}

func dialTLS(t *testing.T, addr string, tc *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 3 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, tc)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func TestTLSClientCertificates(t *testing.T) {
	pki := newPKI(t)
	a := tlsBroker(t, pki)
	watch := dialTCP(t, a.tcp, codec.V311)
	watch.mustConnect("admin", tutorialUser, tutorialPassword)
	watch.subscribe(1, 0, "#")

	t.Run("valid", func(t *testing.T) {
		c, err := dialTLS(t, a.tls, pki.clientTLS(pki.clientCert(t, "device1", nil, nil)))
		if err != nil {
			t.Fatal(err)
		}
		m := newMQTT(t, c, c, codec.V311)
		m.mustConnect("dev", "", "") // the certificate's CN is the user name
		m.publish("devices/device1/temp", "21", 1, false, 1)
		m.expect(codec.PUBACK)
		if got := watch.receive(3 * time.Second); got.topic != "devices/device1/temp" {
			t.Fatalf("got %+v", got)
		}
		// The ACL applies to the certificate identity, not to a claimed user name.
		m.publish("devices/other/temp", "x", 1, false, 2)
		m.expect(codec.PUBACK)
		watch.expectNothing(300 * time.Millisecond)
	})
	other, otherKey := makeCA(t, "Untrusted CA")
	bad := []struct {
		name string
		cfg  *tls.Config
	}{
		{"signed-by-unknown-ca", pki.clientTLS(pki.clientCert(t, "device1", other, otherKey))},
		{"no-certificate", pki.clientTLS()},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dialTLS(t, a.tls, tc.cfg)
			if err != nil {
				return // refused during the handshake (TLS 1.2)
			}
			// TLS 1.3 clients learn of the refusal on their first read.
			m := newMQTT(t, c, c, codec.V311)
			m.send(connectBytes("bad"))
			if p, err := m.read(3 * time.Second); err == nil {
				t.Fatalf("got % x from a connection with a bad certificate", p)
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("connection with a bad certificate still open")
			}
		})
	}
	watch.expectNothing(200 * time.Millisecond)
}

// TestTLSPlaintextClient: a plaintext MQTT client on the TLS port is closed
// at once, and TLS clients already connected do not notice.
func TestTLSPlaintextClient(t *testing.T) {
	pki := newPKI(t)
	a := tlsBroker(t, pki)
	c, err := dialTLS(t, a.tls, pki.clientTLS(pki.clientCert(t, "device1", nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	good := newMQTT(t, c, c, codec.V311)
	good.mustConnect("dev", "", "")
	good.subscribe(1, 0, "devices/device1/#")

	for i := 0; i < 3; i++ {
		p := dialTCP(t, a.tls, codec.V311)
		start := time.Now()
		p.send(connectBytes("plain"))
		if got := p.expectClosed(3 * time.Second); len(got) > 0 {
			t.Fatalf("plaintext client got % x", got)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("plaintext client closed after %v, want at once", d)
		}
	}
	good.sendPacket(&codec.Packet{Type: codec.PINGREQ})
	good.expect(codec.PINGRESP)
	adm := dialTCP(t, a.tcp, codec.V311)
	adm.mustConnect("admin", tutorialUser, tutorialPassword)
	adm.publish("devices/device1/cmd", "on", 0, false, 0)
	if m := good.receive(3 * time.Second); m.payload != "on" {
		t.Fatalf("got %+v", m)
	}
}
