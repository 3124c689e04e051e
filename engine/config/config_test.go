package config

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testCerts writes a self-signed certificate, its key and a CA bundle (the
// same certificate) into dir.
func testCerts(t testing.TB, dir string) (cert, key, ca string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tsubame-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, ca = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key"), filepath.Join(dir, "ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	write(t, cert, string(certPEM))
	write(t, key, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	write(t, ca, string(certPEM))
	return cert, key, ca
}

func write(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func validDefault(t *testing.T) *Config {
	t.Helper()
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	return c
}

func TestDefault(t *testing.T) {
	c := validDefault(t)
	if len(c.Listeners) != 1 {
		t.Fatalf("listeners = %d, want 1", len(c.Listeners))
	}
	l := c.Listeners[0]
	if l.Type != "tcp" || l.Address != "127.0.0.1:1883" || l.Name != "tcp://127.0.0.1:1883" {
		t.Errorf("default listener = %+v", l)
	}
	m := c.MQTT
	checks := []struct {
		name      string
		got, want any
	}{
		{"max_keepalive", m.MaxKeepalive, uint16(60)},
		{"receive_maximum", m.ReceiveMaximum, uint16(20)},
		{"max_packet_size", m.MaxPacketSize, uint32(1048576)},
		{"max_queued_messages", m.MaxQueuedMessages, 1000},
		{"max_queued_bytes", m.MaxQueuedBytes, int64(0)},
		{"max_session_expiry", m.MaxSessionExpiry, uint32(86400)},
		{"max_topic_alias", m.MaxTopicAlias, uint16(1024)},
		{"max_outbound_bytes", m.MaxOutboundBytes, 4 << 20},
		{"connect_timeout", m.ConnectTimeout.Std(), 10 * time.Second},
		{"retain_available", m.Retain(), true},
		{"max_qos", m.MaxQoS, byte(2)},
		{"wildcard_subscriptions", m.Wildcards(), true},
		{"shared_subscriptions", m.Shared(), true},
		{"subscription_identifiers", m.SubIDs(), true},
		{"max_client_id_len", m.MaxClientIDLen, 65535},
		{"auth.allow_anonymous unset", c.Auth.AllowAnonymous == nil, true},
		{"auth.admin_users", c.Auth.AdminUsers, []string{"admin"}},
		{"admin.address", c.Admin.Address, "127.0.0.1:18083"},
		{"admin enabled", c.AdminEnabled(), true},
		{"admin.pprof", c.Admin.Pprof, false},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		{"sys_interval", c.SysInterval, 10},
		{"pprof", c.Pprof, ""},
		{"anonymous allowed", c.AnonymousAllowed(&c.Listeners[0]), true},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	// Each call returns a fresh value: mutating one must not change the next.
	*c.MQTT.RetainAvailable = false
	c.Auth.AdminUsers[0] = "x"
	if d := Default(); !d.MQTT.Retain() || d.Auth.AdminUsers[0] != "admin" {
		t.Error("Default shares state between calls")
	}
}

func TestParseEmptyIsDefault(t *testing.T) {
	want := validDefault(t)
	for _, in := range []string{"", "\n", "# only a comment\n", "---\n"} {
		c, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("Parse(%q) = %v", in, err)
		}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("Parse(%q) = %+v, want defaults", in, c)
		}
	}
}

func TestParseEveryKey(t *testing.T) {
	dir := t.TempDir()
	cert, key, ca := testCerts(t, dir)
	pw, acl := filepath.Join(dir, "passwd"), filepath.Join(dir, "acl")
	write(t, pw, "")
	write(t, acl, "")
	in := `
listeners:
  - name: plain
    type: tcp
    address: 127.0.0.1:11883
    allow_anonymous: false
  - type: ws
    address: "[::1]:8080"
    path: "*"
    compression: true
    allowed_origins: ["https://app.example.com", "http://localhost:3000"]
  - name: secure
    type: wss
    address: 0.0.0.0:8884
    path: /ws
    cert: ` + cert + `
    key: ` + key + `
    ca_cert: ` + ca + `
    require_certificate: true
    use_identity_as_username: true
mqtt:
  max_keepalive: 120
  receive_maximum: 50
  max_packet_size: 65536
  max_queued_messages: 10
  max_queued_bytes: 1000000
  max_session_expiry: 3600
  max_topic_alias: 16
  max_outbound_bytes: 100000
  connect_timeout: 3s
  retain_available: false
  max_qos: 1
  wildcard_subscriptions: false
  shared_subscriptions: false
  subscription_identifiers: false
  max_client_id_len: 64
auth:
  allow_anonymous: false
  password_file: ` + pw + `
  acl_file: ` + acl + `
  admin_users: [root, ops]
admin:
  address: 127.0.0.1:9000
  enabled: false
  pprof: true
log:
  level: debug
  format: json
sys_interval: 0
pprof: 127.0.0.1:6060
`
	c, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	f := false
	want := &Config{
		Listeners: []Listener{
			{Name: "plain", Type: "tcp", Address: "127.0.0.1:11883", AllowAnonymous: &f},
			{Name: "ws://[::1]:8080*", Type: "ws", Address: "[::1]:8080", Path: "*", Compression: true,
				AllowedOrigins: []string{"https://app.example.com", "http://localhost:3000"}},
			{Name: "secure", Type: "wss", Address: "0.0.0.0:8884", Path: "/ws", Cert: cert, Key: key, CACert: ca,
				RequireCertificate: true, UseIdentityAsUsername: true},
		},
		MQTT: MQTT{
			MaxKeepalive: 120, ReceiveMaximum: 50, MaxPacketSize: 65536, MaxQueuedMessages: 10,
			MaxQueuedBytes: 1000000, MaxSessionExpiry: 3600, MaxTopicAlias: 16, MaxOutboundBytes: 100000,
			ConnectTimeout: Duration(3 * time.Second), RetainAvailable: &f, MaxQoS: 1,
			WildcardSubscriptions: &f, SharedSubscriptions: &f, SubscriptionIdentifiers: &f, MaxClientIDLen: 64,
		},
		Auth:        Auth{AllowAnonymous: &f, PasswordFile: pw, ACLFile: acl, AdminUsers: []string{"root", "ops"}},
		Admin:       Admin{Address: "127.0.0.1:9000", Enabled: &f, Pprof: true},
		Log:         Log{Level: "debug", Format: "json"},
		SysInterval: 0,
		Pprof:       "127.0.0.1:6060",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if c.AdminEnabled() {
		t.Error("admin.enabled: false ignored")
	}
	if c.MQTT.Retain() || c.MQTT.Wildcards() || c.MQTT.Shared() || c.MQTT.SubIDs() {
		t.Error("feature switches set to false read as true")
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"10s", 10 * time.Second, ""},
		{"1m30s", 90 * time.Second, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"7", 7 * time.Second, ""},
		{"abc", 0, `line 2: duration "abc"`},
		{"[1]", 0, "line 2: duration must be a scalar"},
		{"99999999999999999", 0, "out of range"},
		{"-1s", 0, "mqtt.connect_timeout: -1s must be positive"},
		{"0", 0, "mqtt.connect_timeout: 0s must be positive"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			c, err := Parse([]byte("mqtt:\n  connect_timeout: " + tc.in + "\n"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.MQTT.ConnectTimeout.Std(); got != tc.want {
				t.Errorf("connect_timeout = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestValidationErrors checks one error per case: its sentinel and the
// message that tells the user which key to fix.
func TestValidationErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key, ca := testCerts(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	write(t, garbage, "not a certificate")
	missing := filepath.Join(dir, "missing.pem")
	tlsL := func(extra string) string {
		return "listeners:\n  - type: tls\n    address: 127.0.0.1:8883\n" + extra
	}
	pair := "    cert: " + cert + "\n    key: " + key + "\n"
	for _, tc := range []struct {
		name string
		in   string
		is   error
		msg  string
	}{
		{"no listeners", "listeners: []", ErrInvalid, "listeners: at least one listener is required"},
		{"unknown listener type", "listeners:\n  - type: udp\n    address: 127.0.0.1:1\n", ErrInvalid, `unknown type "udp" (want tcp, ws, tls or wss)`},
		{"missing listener type", "listeners:\n  - address: 127.0.0.1:1\n", ErrInvalid, "type is required"},
		{"missing address", "listeners:\n  - type: tcp\n", ErrInvalid, `listener "tcp://" (listeners[0]): address is required`},
		{"address without port", "listeners:\n  - type: tcp\n    address: 127.0.0.1\n", ErrInvalid, `address: "127.0.0.1" is not host:port`},
		{"port out of range", "listeners:\n  - type: tcp\n    address: 127.0.0.1:70000\n", ErrInvalid, "port must be a number 1..65535"},
		{"port not a number", "listeners:\n  - type: tcp\n    address: 127.0.0.1:mqtt\n", ErrInvalid, "port must be a number"},
		{"duplicate address", "listeners:\n  - type: tcp\n    address: 127.0.0.1:1883\n  - type: ws\n    address: 127.0.0.1:1883\n",
			ErrInvalid, `listener "ws://127.0.0.1:1883/mqtt": address 127.0.0.1:1883 is already used by listener "tcp://127.0.0.1:1883"`},
		{"duplicate address localhost", "listeners:\n  - type: tcp\n    address: 127.0.0.1:1883\n  - type: tcp\n    address: localhost:1883\n",
			ErrInvalid, "is already used by"},
		{"duplicate address wildcard", "auth:\n  allow_anonymous: true\nlisteners:\n  - type: tcp\n    address: :1883\n  - type: tcp\n    address: 127.0.0.1:1883\n",
			ErrInvalid, "is already used by"},
		{"admin address collides", "admin:\n  address: 127.0.0.1:1883\n", ErrInvalid, "admin.address: address 127.0.0.1:1883 is already used by listener"},
		{"pprof address collides", "pprof: 127.0.0.1:18083\n", ErrInvalid, "pprof: address 127.0.0.1:18083 is already used by admin.address"},
		{"duplicate name", "listeners:\n  - name: a\n    type: tcp\n    address: 127.0.0.1:1\n  - name: a\n    type: tcp\n    address: 127.0.0.1:2\n",
			ErrInvalid, "name is already used by listeners[0]"},
		{"ws path without slash", "listeners:\n  - type: ws\n    address: 127.0.0.1:80\n    path: mqtt\n", ErrInvalid, `path "mqtt" must start with / or be *`},
		{"path on tcp", "listeners:\n  - type: tcp\n    address: 127.0.0.1:1\n    path: /x\n", ErrInvalid, "path applies only to ws and wss listeners"},
		{"compression on tcp", "listeners:\n  - type: tcp\n    address: 127.0.0.1:1\n    compression: true\n", ErrInvalid, "compression applies only to ws and wss"},
		{"origins on tcp", "listeners:\n  - type: tcp\n    address: 127.0.0.1:1\n    allowed_origins: [\"*\"]\n", ErrInvalid, "allowed_origins applies only to ws and wss"},
		{"bad origin", "listeners:\n  - type: ws\n    address: 127.0.0.1:1\n    allowed_origins: [example.com]\n", ErrInvalid, `allowed_origins entry "example.com" is not * or scheme://host[:port]`},
		{"origin with path", "listeners:\n  - type: ws\n    address: 127.0.0.1:1\n    allowed_origins: [\"https://a.example/x\"]\n", ErrInvalid, "allowed_origins entry"},
		{"cert on tcp", "listeners:\n  - type: tcp\n    address: 127.0.0.1:1\n    cert: x.pem\n", ErrInvalid, "cert applies only to tls and wss listeners"},
		{"require_certificate on ws", "listeners:\n  - type: ws\n    address: 127.0.0.1:1\n    require_certificate: true\n", ErrInvalid, "require_certificate applies only to tls and wss"},
		{"tls without cert and key", tlsL(""), ErrInvalid, "a tls listener needs cert and key"},
		{"wss without cert and key", "listeners:\n  - type: wss\n    address: 127.0.0.1:1\n", ErrInvalid, "a wss listener needs cert and key"},
		{"tls without key", tlsL("    cert: " + cert + "\n"), ErrInvalid, "cert is set but key is missing"},
		{"tls without cert", tlsL("    key: " + key + "\n"), ErrInvalid, "key is set but cert is missing"},
		{"tls cert missing file", tlsL("    cert: " + missing + "\n    key: " + key + "\n"), ErrInvalid, "cannot load cert"},
		{"tls cert garbage", tlsL("    cert: " + garbage + "\n    key: " + key + "\n"), ErrInvalid, "cannot load cert"},
		{"tls key does not match", tlsL("    cert: " + cert + "\n    key: " + garbage + "\n"), ErrInvalid, "cannot load cert"},
		{"require_certificate without ca", tlsL(pair + "    require_certificate: true\n"), ErrInvalid, "require_certificate needs ca_cert"},
		{"identity without require", tlsL(pair + "    ca_cert: " + ca + "\n    use_identity_as_username: true\n"), ErrInvalid, "use_identity_as_username needs require_certificate: true"},
		{"ca_cert missing", tlsL(pair + "    ca_cert: " + missing + "\n"), ErrInvalid, "cannot read ca_cert"},
		{"ca_cert garbage", tlsL(pair + "    ca_cert: " + garbage + "\n"), ErrInvalid, "holds no PEM certificate"},
		{"max_keepalive 0", "mqtt:\n  max_keepalive: 0\n", ErrInvalid, "mqtt.max_keepalive: must be 1..65535"},
		{"receive_maximum 0", "mqtt:\n  receive_maximum: 0\n", ErrInvalid, "mqtt.receive_maximum: must be 1..65535"},
		{"max_packet_size too small", "mqtt:\n  max_packet_size: 127\n", ErrInvalid, "mqtt.max_packet_size: 127 is outside 128..268435455"},
		{"max_packet_size too large", "mqtt:\n  max_packet_size: 268435456\n", ErrInvalid, "mqtt.max_packet_size: 268435456 is outside"},
		{"max_queued_messages 0", "mqtt:\n  max_queued_messages: 0\n", ErrInvalid, "mqtt.max_queued_messages: 0 must be at least 1"},
		{"max_queued_bytes negative", "mqtt:\n  max_queued_bytes: -1\n", ErrInvalid, "mqtt.max_queued_bytes: -1 must be 0"},
		{"max_outbound_bytes 0", "mqtt:\n  max_outbound_bytes: 0\n", ErrInvalid, "mqtt.max_outbound_bytes: 0 must be positive"},
		{"max_qos 3", "mqtt:\n  max_qos: 3\n", ErrInvalid, "mqtt.max_qos: 3 must be 0, 1 or 2"},
		{"max_client_id_len below 23 [MQTT-3.1.3-5]", "mqtt:\n  max_client_id_len: 22\n", ErrInvalid, "mqtt.max_client_id_len: 22 is outside 23..65535"},
		{"max_client_id_len above 65535", "mqtt:\n  max_client_id_len: 65536\n", ErrInvalid, "mqtt.max_client_id_len: 65536 is outside"},
		{"password_file missing", "auth:\n  password_file: " + missing + "\n", ErrInvalid, "auth.password_file: stat " + missing},
		{"acl_file missing", "auth:\n  acl_file: " + missing + "\n", ErrInvalid, "auth.acl_file: stat"},
		{"password_file is a directory", "auth:\n  password_file: " + dir + "\n", ErrInvalid, "is not a regular file"},
		{"empty admin user", "auth:\n  admin_users: [\"\"]\n", ErrInvalid, "auth.admin_users[0]: empty user name"},
		{"duplicate admin user", "auth:\n  admin_users: [a, a]\n", ErrInvalid, `auth.admin_users[1]: "a" is listed twice`},
		{"admin address bad", "admin:\n  address: nowhere\n", ErrInvalid, `admin.address: "nowhere" is not host:port`},
		{"admin port 0", "admin:\n  address: 127.0.0.1:0\n", ErrInvalid, "port must be a number 1..65535"},
		{"pprof bad", "pprof: localhost\n", ErrInvalid, `pprof: "localhost" is not host:port`},
		{"sys_interval negative", "sys_interval: -1\n", ErrInvalid, "sys_interval: -1 must be 0 (off)"},
		{"log level", "log:\n  level: verbose\n", ErrInvalid, `log.level: "verbose" must be debug, info, warn or error`},
		{"log format", "log:\n  format: xml\n", ErrInvalid, `log.format: "xml" must be text or json`},
		{"nobody can connect", "auth:\n  allow_anonymous: false\n", ErrInvalid, "no client could connect"},
		{"nobody can connect on listener", "listeners:\n  - type: tcp\n    address: 127.0.0.1:1\n    allow_anonymous: false\n", ErrInvalid, "no client could connect"},
		{"admin exposed without auth", "admin:\n  address: 0.0.0.0:18083\n", ErrInsecure, "admin.address \"0.0.0.0:18083\" can be reached from other hosts but there is no auth.password_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tc.msg)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %v does not wrap %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error = %q\nwant it to contain %q", err, tc.msg)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte("mqtt:\n  receive_maximum: 0\n  max_qos: 9\nlog:\n  level: loud\n"))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"mqtt.receive_maximum", "mqtt.max_qos", "log.level"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestValidTLS(t *testing.T) {
	cert, key, ca := testCerts(t, t.TempDir())
	in := "listeners:\n  - type: tls\n    address: 127.0.0.1:8883\n    cert: " + cert + "\n    key: " + key +
		"\n    ca_cert: " + ca + "\n    require_certificate: true\n"
	c, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Listeners[0]; l.Name != "tls://127.0.0.1:8883" || !l.IsTLS() || l.IsWebSocket() || l.Path != "" {
		t.Errorf("listener = %+v", l)
	}
	in = "listeners:\n  - type: wss\n    address: 127.0.0.1:8884\n    cert: " + cert + "\n    key: " + key + "\n"
	if c, err = Parse([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if l := c.Listeners[0]; l.Path != "/mqtt" || l.Name != "wss://127.0.0.1:8884/mqtt" || !l.IsTLS() || !l.IsWebSocket() {
		t.Errorf("listener = %+v", l)
	}
}

// TestExposure covers the rule that a listener other hosts can reach
// either authenticates or says allow_anonymous: true explicitly.
func TestExposure(t *testing.T) {
	dir := t.TempDir()
	cert, key, ca := testCerts(t, dir)
	pw := filepath.Join(dir, "passwd")
	write(t, pw, "")
	listener := func(addr, extra string) string {
		return "listeners:\n  - name: edge\n    type: tcp\n    address: \"" + addr + "\"\n" + extra
	}
	refused := []struct{ name, in string }{
		{"all interfaces 0.0.0.0", listener("0.0.0.0:1883", "")},
		{"empty host", listener(":1883", "")},
		{"ipv6 any", listener("[::]:1883", "")},
		{"lan address", listener("192.168.1.10:1883", "")},
		{"host name", listener("broker.example.com:1883", "")},
		{"ws on all interfaces", "listeners:\n  - name: edge\n    type: ws\n    address: :8080\n"},
		{"tls without identity", "listeners:\n  - name: edge\n    type: tls\n    address: :8883\n    cert: " + cert + "\n    key: " + key +
			"\n    ca_cert: " + ca + "\n    require_certificate: true\n"},
	}
	for _, tc := range refused {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if !errors.Is(err, ErrInsecure) {
				t.Fatalf("err = %v, want ErrInsecure", err)
			}
			for _, want := range []string{`listener "edge" (listeners[0])`, "listeners[0].allow_anonymous: true", "auth.allow_anonymous: true", "without authentication"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
	allowed := []struct {
		name, in string
		anon     bool
	}{
		{"loopback without allow_anonymous", listener("127.0.0.1:1883", ""), true},
		{"loopback 127.0.0.2", listener("127.0.0.2:1883", ""), true},
		{"localhost", listener("localhost:1883", ""), true},
		{"ipv6 loopback", listener("[::1]:1883", ""), true},
		{"explicit on listener", listener(":1883", "    allow_anonymous: true\n"), true},
		{"explicit globally", "auth:\n  allow_anonymous: true\n" + listener("0.0.0.0:1883", ""), true},
		{"password file", "auth:\n  password_file: " + pw + "\n" + listener("0.0.0.0:1883", ""), false},
		{"password file and explicit anonymous", "auth:\n  allow_anonymous: true\n  password_file: " + pw + "\n" + listener("0.0.0.0:1883", ""), true},
		{"certificate identity", "listeners:\n  - name: edge\n    type: tls\n    address: :8883\n    cert: " + cert + "\n    key: " + key +
			"\n    ca_cert: " + ca + "\n    require_certificate: true\n    use_identity_as_username: true\n", false},
	}
	for _, tc := range allowed {
		t.Run("allowed/"+tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.AnonymousAllowed(&c.Listeners[0]); got != tc.anon {
				t.Errorf("AnonymousAllowed = %v, want %v", got, tc.anon)
			}
		})
	}
	// The override on one listener does not open another.
	in := "listeners:\n  - type: tcp\n    address: :1883\n    allow_anonymous: true\n  - name: second\n    type: ws\n    address: :8080\n"
	if _, err := Parse([]byte(in)); !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), `listener "second" (listeners[1])`) {
		t.Errorf("err = %v, want ErrInsecure naming listeners[1]", err)
	}
}

func TestAnonymousAllowed(t *testing.T) {
	tr, f := true, false
	for _, tc := range []struct {
		name     string
		global   *bool
		listener *bool
		pwFile   string
		identity bool
		want     bool
	}{
		{"nothing set, no auth files", nil, nil, "", false, true},
		{"nothing set, password file", nil, nil, "p", false, false},
		{"nothing set, certificate identity", nil, nil, "", true, false},
		{"global true", &tr, nil, "p", false, true},
		{"global false", &f, nil, "", false, false},
		{"listener true beats global false", &f, &tr, "p", false, true},
		{"listener false beats global true", &tr, &f, "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Auth.AllowAnonymous, c.Auth.PasswordFile = tc.global, tc.pwFile
			l := &Listener{AllowAnonymous: tc.listener, RequireCertificate: tc.identity, UseIdentityAsUsername: tc.identity}
			if got := c.AnonymousAllowed(l); got != tc.want {
				t.Errorf("AnonymousAllowed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnknownKeys(t *testing.T) {
	for _, tc := range []struct{ name, in, msg string }{
		{"top level", "listners: []\n", `line 1: unknown key "listners" in the top level`},
		{"mqtt", "mqtt:\n  max_keepalive: 30\n  recieve_maximum: 5\n", `line 3: unknown key "recieve_maximum" in mqtt`},
		{"listener", "listeners:\n  - type: tcp\n    address: 127.0.0.1:1\n    adress: x\n", `line 4: unknown key "adress" in a listener`},
		{"auth", "auth:\n  password: x\n", `line 2: unknown key "password" in auth`},
		{"admin", "admin:\n  port: 1\n", `line 2: unknown key "port" in admin`},
		{"log", "log:\n  lvl: debug\n", `line 2: unknown key "lvl" in log`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("err = %v, want ErrUnknownKey", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error = %q, want it to contain %q", err, tc.msg)
			}
		})
	}
	// Unknown keys and type errors in one file: both reported.
	_, err := Parse([]byte("mqtt:\n  max_qos: high\n  bogus: 1\n"))
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %v, want ErrUnknownKey and ErrSyntax", err)
	}
	if !strings.Contains(err.Error(), "line 2:") || !strings.Contains(err.Error(), `line 3: unknown key "bogus"`) {
		t.Errorf("error = %q", err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, msg string }{
		{"bad yaml", "mqtt:\n  max_qos: 1\n bad: [\n", "line"},
		{"tab indentation", "mqtt:\n\tmax_qos: 1\n", "line 2"},
		{"string for number", "mqtt:\n  max_qos: high\n", "line 2: cannot unmarshal !!str `high` into uint8"},
		{"uint16 overflow", "mqtt:\n  receive_maximum: 70000\n", "line 2: cannot unmarshal !!int `70000` into uint16"},
		{"negative into unsigned", "mqtt:\n  max_packet_size: -1\n", "line 2: cannot unmarshal !!int `-1` into uint32"},
		{"listeners not a list", "listeners: tcp\n", "line 1: cannot unmarshal !!str `tcp`"},
		{"top level not a map", "- a\n", "into the top level"},
		{"bool as string", "mqtt:\n  retain_available: maybe\n", "line 2"},
		{"two documents", "sys_interval: 1\n---\nsys_interval: 2\n", "line 3: a second YAML document"},
		{"bad second document", "sys_interval: 1\n---\n[\n", "config: syntax error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("err = %v, want ErrSyntax", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error = %q, want it to contain %q", err, tc.msg)
			}
		})
	}
	if _, err := Parse(bytes.Repeat([]byte("#"), MaxFileSize+1)); !errors.Is(err, ErrSyntax) {
		t.Errorf("oversized input: err = %v", err)
	}
}

func TestExampleFileLoads(t *testing.T) {
	c, err := Load("tsubame.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The example documents the defaults: apart from its listeners it must
	// equal Default, so the two cannot drift apart.
	d := validDefault(t)
	c.Listeners, d.Listeners = nil, nil
	if !reflect.DeepEqual(c, d) {
		t.Errorf("example differs from defaults:\n got %+v\nwant %+v", c, d)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "etc")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	testCerts(t, sub)
	write(t, filepath.Join(sub, "passwd"), "")
	write(t, filepath.Join(sub, "acl"), "")
	path := filepath.Join(sub, "tsubame.yaml")
	write(t, path, `listeners:
  - type: tls
    address: 127.0.0.1:8883
    cert: server.pem
    key: server.key
    ca_cert: ca.pem
auth:
  password_file: passwd
  acl_file: acl
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	l := c.Listeners[0]
	for got, want := range map[string]string{
		l.Cert: filepath.Join(sub, "server.pem"), l.Key: filepath.Join(sub, "server.key"), l.CACert: filepath.Join(sub, "ca.pem"),
		c.Auth.PasswordFile: filepath.Join(sub, "passwd"), c.Auth.ACLFile: filepath.Join(sub, "acl"),
	} {
		if got != want {
			t.Errorf("path %q, want %q (relative to the config file)", got, want)
		}
	}

	_, err = Load(filepath.Join(dir, "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("missing file: err = %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, "mqtt:\n  max_qos: 5\n")
	if _, err = Load(bad); !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), bad+": ") {
		t.Errorf("invalid file: err = %v, want it prefixed with the path", err)
	}
	write(t, bad, "mqtt:\n  nope: 5\n")
	if _, err = Load(bad); !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), bad+": config: unknown key: line 2") {
		t.Errorf("unknown key: err = %v", err)
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	c := Default()
	c.Log = Log{Level: "warn", Format: "json"}
	log := c.NewLogger(&buf)
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not one JSON record: %q: %v", buf.String(), err)
	}
	if rec["msg"] != "shown" || rec["level"] != "WARN" {
		t.Errorf("record = %v", rec)
	}
	buf.Reset()
	c.Log = Log{Level: "debug", Format: "text"}
	c.NewLogger(&buf).Debug("dbg")
	if !strings.Contains(buf.String(), "level=DEBUG msg=dbg") {
		t.Errorf("text output = %q", buf.String())
	}
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "": slog.LevelInfo} {
		if got := (&Log{Level: in}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "localhost": true, "LOCALHOST": true,
		"": false, "0.0.0.0": false, "::": false, "10.0.0.1": false, "example.com": false, "localhost.example.com": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
