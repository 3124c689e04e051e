package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine"
	"github.com/tsubame-mq/tsubame/engine/auth"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// The tutorial's credentials, topic and message.
const (
	tutorialUser     = "admin"
	tutorialPassword = "password"
	tutorialTopic    = "/testtopic"
	tutorialMessage  = "This is Test Message"
)

// brokerOpts describes the broker a test needs.
type brokerOpts struct {
	listeners []config.Listener // Address defaults to 127.0.0.1:0
	users     map[string]string // written to a password file with `tsubame passwd -b`
	acl       string            // ACL file contents, "" none
	anonymous *bool             // auth.allow_anonymous
	maxPacket uint32
	// connectTimeout overrides mqtt.connect_timeout (default 10s).
	connectTimeout time.Duration
}

// startBroker writes the auth files into a temporary directory, starts the
// broker and stops it when the test ends.
func startBroker(t testing.TB, o brokerOpts) *engine.Broker {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Admin.Address = ""
	cfg.SysInterval = 0
	cfg.Listeners = nil
	for _, l := range o.listeners {
		if l.Address == "" {
			l.Address = "127.0.0.1:0"
		}
		cfg.Listeners = append(cfg.Listeners, l)
	}
	if len(o.users) > 0 {
		pw := filepath.Join(dir, "passwd")
		create := "-cb"
		for u, p := range o.users {
			var out, errOut bytes.Buffer
			// The README's step: tsubame passwd -c -b FILE USER PASS.
			if rc := auth.PasswdMain([]string{create, pw, u, p}, strings.NewReader(""), &out, &errOut); rc != 0 {
				t.Fatalf("passwd %s: exit %d: %s", u, rc, errOut.String())
			}
			create = "-b"
		}
		cfg.Auth.PasswordFile = pw
	}
	if o.acl != "" {
		f := filepath.Join(dir, "acl")
		if err := os.WriteFile(f, []byte(o.acl), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Auth.ACLFile = f
	}
	cfg.Auth.AllowAnonymous = o.anonymous
	if o.connectTimeout != 0 {
		cfg.MQTT.ConnectTimeout = config.Duration(o.connectTimeout)
	}
	if o.maxPacket != 0 {
		cfg.MQTT.MaxPacketSize = o.maxPacket
	}
	return startConfig(t, cfg)
}

// startConfig starts a broker with cfg and stops it when the test ends.
// TSUBAME_TEST_LOG=1 shows its log.
func startConfig(t testing.TB, cfg *config.Config) *engine.Broker {
	t.Helper()
	var logOut io.Writer = io.Discard
	if os.Getenv("TSUBAME_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	b, err := engine.New(cfg, slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return b
}

func boolp(v bool) *bool { return &v }

// ---- MQTT client over any byte stream ----

// mqttConn speaks MQTT over rw (TCP, TLS or the wsConn below).
type mqttConn struct {
	t    testing.TB
	rw   io.ReadWriter
	raw  net.Conn // for deadlines and Close
	ver  byte
	buf  []byte
	tmp  []byte
	name string
}

func newMQTT(t testing.TB, rw io.ReadWriter, raw net.Conn, ver byte) *mqttConn {
	t.Cleanup(func() { _ = raw.Close() })
	return &mqttConn{t: t, rw: rw, raw: raw, ver: ver, tmp: make([]byte, 64<<10)}
}

func dialTCP(t testing.TB, addr string, ver byte) *mqttConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return newMQTT(t, c, c, ver)
}

func dialWS(t testing.TB, addr, path string, ver byte) *mqttConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w, err := wsUpgrade(c, addr, path, "mqtt")
	if err != nil {
		_ = c.Close()
		t.Fatal(err)
	}
	return newMQTT(t, w, c, ver)
}

func (m *mqttConn) send(b []byte) {
	m.t.Helper()
	_ = m.raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := m.rw.Write(b); err != nil {
		m.t.Fatalf("write: %v", err)
	}
}

func (m *mqttConn) sendPacket(p *codec.Packet) {
	m.t.Helper()
	if p.Version == 0 {
		p.Version = m.ver
	}
	m.send(codec.Encode(nil, p))
}

// read returns the next whole packet, or an error (io.EOF when the server
// closed, a timeout after d).
func (m *mqttConn) read(d time.Duration) ([]byte, error) {
	deadline := time.Now().Add(d)
	for {
		if len(m.buf) >= 2 {
			_, rem, hl, err := codec.DecodeFixedHeader(m.buf, 1<<28)
			if err != nil {
				return nil, err
			}
			if hl > 0 && len(m.buf) >= hl+rem {
				p := append([]byte(nil), m.buf[:hl+rem]...)
				m.buf = m.buf[hl+rem:]
				return p, nil
			}
		}
		_ = m.raw.SetReadDeadline(deadline)
		n, err := m.rw.Read(m.tmp)
		m.buf = append(m.buf, m.tmp[:n]...)
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

func (m *mqttConn) expect(typ codec.PacketType) []byte {
	m.t.Helper()
	p, err := m.read(3 * time.Second)
	if err != nil {
		m.t.Fatalf("want %v, got error %v", typ, err)
	}
	if codec.PacketType(p[0]>>4) != typ {
		m.t.Fatalf("want %v, got % x", typ, p)
	}
	return p
}

// expectNothing fails if any packet arrives within d.
func (m *mqttConn) expectNothing(d time.Duration) {
	m.t.Helper()
	p, err := m.read(d)
	if err == nil {
		m.t.Fatalf("unexpected packet % x", p)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		m.t.Fatalf("connection ended: %v", err)
	}
}

// expectClosed reads until the server closes the connection; packets before
// the close are returned.
func (m *mqttConn) expectClosed(d time.Duration) [][]byte {
	m.t.Helper()
	var got [][]byte
	for {
		p, err := m.read(d)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				m.t.Fatalf("connection still open after %v", d)
			}
			return got
		}
		got = append(got, p)
	}
}

func connectPacket(ver byte, id, user, pass string) *codec.Packet {
	p := &codec.Packet{Type: codec.CONNECT, Version: ver, CleanStart: true, KeepAlive: 30, ClientID: []byte(id)}
	if user != "" {
		p.UsernameFlag, p.Username = true, []byte(user)
	}
	if pass != "" {
		p.PasswordFlag, p.Password = true, []byte(pass)
	}
	return p
}

// connack sends CONNECT and returns the CONNACK return/reason code.
func (m *mqttConn) connect(p *codec.Packet) byte {
	m.t.Helper()
	p.Version = m.ver
	m.sendPacket(p)
	ack := m.expect(codec.CONNACK)
	if len(ack) < 4 {
		m.t.Fatalf("short CONNACK % x", ack)
	}
	return ack[3]
}

func (m *mqttConn) mustConnect(id, user, pass string) {
	m.t.Helper()
	if rc := m.connect(connectPacket(m.ver, id, user, pass)); rc != 0 {
		m.t.Fatalf("CONNACK code %#x, want 0", rc)
	}
}

// subscribe sends SUBSCRIBE and returns the SUBACK codes.
func (m *mqttConn) subscribe(id uint16, qos byte, filters ...string) []byte {
	m.t.Helper()
	p := &codec.Packet{Type: codec.SUBSCRIBE, PacketID: id}
	for _, f := range filters {
		p.Subscriptions = append(p.Subscriptions, codec.Subscription{Filter: []byte(f), QoS: qos})
	}
	m.sendPacket(p)
	ack := m.expect(codec.SUBACK)
	_, rem, hl, _ := codec.DecodeFixedHeader(ack, 1<<28)
	body := ack[hl : hl+rem]
	if binary.BigEndian.Uint16(body) != id {
		m.t.Fatalf("SUBACK for id %d, want %d", binary.BigEndian.Uint16(body), id)
	}
	body = body[2:]
	if m.ver == codec.V5 {
		pl, n := uvarint(body)
		body = body[n+pl:]
	}
	return body
}

func (m *mqttConn) publish(topic, payload string, qos byte, retain bool, id uint16) {
	m.t.Helper()
	m.sendPacket(&codec.Packet{Type: codec.PUBLISH, Topic: []byte(topic), Payload: []byte(payload), QoS: qos, Retain: retain, PacketID: id})
}

// pubackCode returns the v5 reason code of a PUBACK (0 for 3.1.1).
func pubackCode(p []byte) byte {
	if len(p) > 4 {
		return p[4]
	}
	return 0
}

// message is a received PUBLISH.
type message struct {
	topic, payload string
	qos            byte
	retain         bool
	id             uint16
}

func (m *mqttConn) parsePublish(p []byte) message {
	m.t.Helper()
	_, rem, hl, err := codec.DecodeFixedHeader(p, 1<<28)
	if err != nil || codec.PacketType(p[0]>>4) != codec.PUBLISH {
		m.t.Fatalf("not a PUBLISH: % x", p)
	}
	msg := message{qos: (p[0] >> 1) & 3, retain: p[0]&1 != 0}
	body := p[hl : hl+rem]
	tl := int(binary.BigEndian.Uint16(body))
	msg.topic = string(body[2 : 2+tl])
	body = body[2+tl:]
	if msg.qos > 0 {
		msg.id = binary.BigEndian.Uint16(body)
		body = body[2:]
	}
	if m.ver == codec.V5 {
		pl, n := uvarint(body)
		body = body[n+pl:]
	}
	msg.payload = string(body)
	return msg
}

// receive reads the next PUBLISH, acknowledging QoS 1.
func (m *mqttConn) receive(d time.Duration) message {
	m.t.Helper()
	p, err := m.read(d)
	if err != nil {
		m.t.Fatalf("want PUBLISH: %v", err)
	}
	msg := m.parsePublish(p)
	if msg.qos == 1 {
		m.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: msg.id})
	}
	return msg
}

func uvarint(b []byte) (v, n int) {
	mult := 1
	for n < len(b) && n < 4 {
		c := b[n]
		v += int(c&0x7f) * mult
		n++
		if c&0x80 == 0 {
			break
		}
		mult <<= 7
	}
	return v, n
}

// ---- minimal WebSocket client (RFC 6455) ----

// wsConn frames writes as masked binary messages and unframes reads. It is
// deliberately small and strict so that tests can also send broken frames
// through raw.
type wsConn struct {
	raw       net.Conn
	br        *bufio.Reader
	pending   []byte
	rbuf      []byte // reused frame payload buffer
	closeCode int    // status of a received close frame, 0 none
}

// wsKey is the fixed Sec-WebSocket-Key of the RFC 6455 example.
const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="

func wsUpgradeRequest(host, path, proto string) string {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\n"
	if proto != "" {
		req += "Sec-WebSocket-Protocol: " + proto + "\r\n"
	}
	return req + "\r\n"
}

// wsUpgrade runs the client side of the opening handshake on c.
func wsUpgrade(c net.Conn, host, path, proto string) (*wsConn, error) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, wsUpgradeRequest(host, path, proto)); err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("upgrade response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("upgrade refused: %s", resp.Status)
	}
	sum := sha1.Sum([]byte(wsKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != base64.StdEncoding.EncodeToString(sum[:]) {
		return nil, fmt.Errorf("bad Sec-WebSocket-Accept %q", got)
	}
	if proto != "" && resp.Header.Get("Sec-WebSocket-Protocol") != proto {
		return nil, fmt.Errorf("sub-protocol %q, want %q", resp.Header.Get("Sec-WebSocket-Protocol"), proto)
	}
	return &wsConn{raw: c, br: br}, nil
}

// wsFrame encodes one client frame; mask false produces an (illegal)
// unmasked frame.
func wsFrame(fin bool, op byte, payload []byte, mask bool) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	mbit := byte(0)
	if mask {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		f = append(f, mbit|byte(n))
	case n < 65536:
		f = append(f, mbit|126, byte(n>>8), byte(n))
	default:
		f = append(f, mbit|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	if !mask {
		return append(f, payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	f = append(f, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i&3])
	}
	return f
}

func (w *wsConn) Write(p []byte) (int, error) {
	if _, err := w.raw.Write(wsFrame(true, 2, p, true)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Read returns payload bytes of binary/continuation frames; a close frame
// ends the stream with io.EOF after recording its status.
func (w *wsConn) Read(p []byte) (int, error) {
	for len(w.pending) == 0 {
		op, payload, err := w.readFrame()
		if err != nil {
			return 0, err
		}
		switch op {
		case 0, 2:
			w.pending = payload
		case 8:
			w.closeCode = 1005
			if len(payload) >= 2 {
				w.closeCode = int(binary.BigEndian.Uint16(payload))
			}
			return 0, io.EOF
		case 9: // ping: answer
			_, _ = w.raw.Write(wsFrame(true, 10, payload, true))
		case 10:
		default:
			return 0, fmt.Errorf("server sent opcode %d", op)
		}
	}
	n := copy(p, w.pending)
	w.pending = w.pending[n:]
	return n, nil
}

func (w *wsConn) readFrame() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(w.br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("server frame is masked") // [RFC6455-5.1]
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err = io.ReadFull(w.br, e[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err = io.ReadFull(w.br, e[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	if n > 1<<26 {
		return 0, nil, fmt.Errorf("server frame of %d bytes", n)
	}
	if uint64(cap(w.rbuf)) < n {
		w.rbuf = make([]byte, n)
	}
	payload = w.rbuf[:n] // valid until the next readFrame
	if _, err = io.ReadFull(w.br, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, payload, nil
}

// ---- test certificates ----

// testPKI is a CA with a server certificate for 127.0.0.1/localhost and
// client certificates, written as PEM files into a temporary directory.
type testPKI struct {
	dir                       string
	caFile, certFile, keyFile string
	caPool                    *x509.CertPool
	serverCert                *x509.Certificate
	ca                        *x509.Certificate
	caKey                     *ecdsa.PrivateKey
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	p.ca, p.caKey = makeCA(t, "Tsubame test CA")
	p.caFile = filepath.Join(p.dir, "ca.pem")
	writePEM(t, p.caFile, "CERTIFICATE", p.ca.Raw)
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(p.ca)
	der, key := p.sign(t, p.ca, p.caKey, "localhost", x509.ExtKeyUsageServerAuth)
	p.serverCert, _ = x509.ParseCertificate(der)
	p.certFile = filepath.Join(p.dir, "server.pem")
	p.keyFile = filepath.Join(p.dir, "server.key")
	writePEM(t, p.certFile, "CERTIFICATE", der)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.keyFile, "EC PRIVATE KEY", kb)
	return p
}

func makeCA(t testing.TB, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

// sign issues a leaf certificate for cn signed by ca.
func (p *testPKI) sign(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

// clientCert returns a client certificate for cn signed by ca (the test CA
// when ca is nil).
func (p *testPKI) clientCert(t testing.TB, cn string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	if ca == nil {
		ca, caKey = p.ca, p.caKey
	}
	der, key := p.sign(t, ca, caKey, cn, x509.ExtKeyUsageClientAuth)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (p *testPKI) clientTLS(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: p.caPool, ServerName: "localhost", Certificates: certs, MinVersion: tls.VersionTLS12}
}

// spki is the base64 SHA-256 of the server key, as Chromium's
// --ignore-certificate-errors-spki-list wants it.
func (p *testPKI) spki() string {
	sum := sha256.Sum256(p.serverCert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func writePEM(t testing.TB, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
