package ws

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// rfcKey and rfcAccept are the example of RFC 6455 §1.3.
const (
	rfcKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	rfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

func httpReq(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n")
}

// pahoJS is what Eclipse Paho JavaScript sends from a browser.
var pahoJS = httpReq(
	"GET /mqtt HTTP/1.1",
	"Host: broker.example:8083",
	"Connection: Upgrade",
	"Pragma: no-cache",
	"Cache-Control: no-cache",
	"User-Agent: Mozilla/5.0",
	"Upgrade: websocket",
	"Origin: https://app.example",
	"Sec-WebSocket-Version: 13",
	"Accept-Encoding: gzip, deflate, br",
	"Sec-WebSocket-Key: "+rfcKey,
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
	"Sec-WebSocket-Protocol: mqtt",
)

// mqttJS is what MQTT.js (ws package on Node) sends.
var mqttJS = httpReq(
	"GET /mqtt HTTP/1.1",
	"Sec-WebSocket-Version: 13",
	"Sec-WebSocket-Key: "+rfcKey,
	"Connection: Upgrade",
	"Upgrade: websocket",
	"Sec-WebSocket-Protocol: mqtt",
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
	"Host: 127.0.0.1:8083",
)

func reqWith(over map[string]string, first string) []byte {
	hdr := []string{"Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol", "Origin"}
	def := map[string]string{
		"Host": "localhost", "Upgrade": "websocket", "Connection": "keep-alive, Upgrade",
		"Sec-WebSocket-Key": rfcKey, "Sec-WebSocket-Version": "13", "Sec-WebSocket-Protocol": "mqtt",
	}
	if first == "" {
		first = "GET /mqtt HTTP/1.1"
	}
	lines := []string{first}
	for _, h := range hdr {
		v, ok := over[h]
		if !ok {
			v, ok = def[h]
		}
		if ok && v != "-" {
			lines = append(lines, h+": "+v)
		}
	}
	return httpReq(lines...)
}

func TestHandshakeValid(t *testing.T) {
	cases := []struct {
		name     string
		req      []byte
		cfg      Config
		subproto string
	}{
		{"paho-js [MQTT-6.0.0-3]", pahoJS, Config{}, "mqtt"},
		{"mqtt.js [MQTT-6.0.0-4]", mqttJS, Config{}, "mqtt"},
		{"mqttv3.1 legacy", reqWith(map[string]string{"Sec-WebSocket-Protocol": "mqttv3.1"}, ""), Config{}, "mqttv3.1"},
		{"mqtt preferred over mqttv3.1", reqWith(map[string]string{"Sec-WebSocket-Protocol": "mqttv3.1, mqtt"}, ""), Config{}, "mqtt"},
		{"no protocol header", reqWith(map[string]string{"Sec-WebSocket-Protocol": "-"}, ""), Config{}, ""},
		{"wildcard path", reqWith(nil, "GET /anything/else?x=1 HTTP/1.1"), Config{Path: "*"}, "mqtt"},
		{"query ignored", reqWith(nil, "GET /mqtt?token=abc HTTP/1.1"), Config{}, "mqtt"},
		{"absolute-form target", reqWith(nil, "GET ws://h:1/ws HTTP/1.1"), Config{Path: "/ws"}, "mqtt"},
		{"origin allowed case-insensitive", reqWith(map[string]string{"Origin": "HTTPS://App.Example"}, ""), Config{AllowedOrigins: []string{"https://app.example"}}, "mqtt"},
		{"no origin with allow-list", reqWith(nil, ""), Config{AllowedOrigins: []string{"https://app.example"}}, "mqtt"},
		{"HTTP/2.0 version line", reqWith(nil, "GET /mqtt HTTP/2.0"), Config{}, "mqtt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, resp, c, err := Handshake(tc.req, &tc.cfg, nil)
			if err != nil {
				t.Fatalf("err %v resp %q", err, resp)
			}
			if n != len(tc.req) {
				t.Fatalf("n=%d want %d", n, len(tc.req))
			}
			if c.Subprotocol() != tc.subproto {
				t.Fatalf("subprotocol %q want %q", c.Subprotocol(), tc.subproto)
			}
			s := string(resp)
			if !strings.HasPrefix(s, "HTTP/1.1 101 Switching Protocols\r\n") || !strings.HasSuffix(s, "\r\n\r\n") {
				t.Fatalf("resp %q", s)
			}
			if !strings.Contains(s, "\r\nSec-WebSocket-Accept: "+rfcAccept+"\r\n") {
				t.Fatalf("accept missing: %q", s)
			}
			hasProto := strings.Contains(s, "Sec-WebSocket-Protocol: ")
			if hasProto != (tc.subproto != "") || (hasProto && !strings.Contains(s, "Sec-WebSocket-Protocol: "+tc.subproto+"\r\n")) {
				t.Fatalf("protocol header wrong: %q", s)
			}
			if strings.Contains(s, "Extensions") || c.Compressed() {
				t.Fatalf("compression negotiated while disabled: %q", s)
			}
		})
	}
}

func TestHandshakeAppendsToDst(t *testing.T) {
	dst := []byte("prefix")
	_, resp, _, err := Handshake(mqttJS, nil, dst)
	if err != nil || !bytes.HasPrefix(resp, []byte("prefixHTTP/1.1 101")) {
		t.Fatalf("err %v resp %q", err, resp)
	}
}

func TestHandshakeSplitAtEveryByte(t *testing.T) {
	for _, req := range [][]byte{pahoJS, mqttJS} {
		for i := 0; i < len(req); i++ {
			n, resp, c, err := Handshake(req[:i], &Config{}, nil)
			if n != 0 || err != nil || c != nil || len(resp) != 0 {
				t.Fatalf("prefix %d: n=%d err=%v resp=%q", i, n, err, resp)
			}
		}
		n, _, c, err := Handshake(req, &Config{}, nil)
		if err != nil || n != len(req) || c == nil {
			t.Fatalf("full: n=%d err=%v", n, err)
		}
	}
}

func TestHandshakeTrailingFrameBytes(t *testing.T) {
	frame := []byte{0x82, 0x80, 1, 2, 3, 4} // first frame in the same read
	b := append(append([]byte{}, mqttJS...), frame...)
	n, _, c, err := Handshake(b, nil, nil)
	if err != nil || n != len(mqttJS) {
		t.Fatalf("n=%d want %d err=%v", n, len(mqttJS), err)
	}
	m, _, _, _, err := c.ReadFrames(b[n:], nil, nil)
	if err != nil || m != len(frame) {
		t.Fatalf("frames after handshake: m=%d err=%v", m, err)
	}
}

func TestHandshakeErrors(t *testing.T) {
	long := strings.Repeat("a", 9000)
	cases := []struct {
		name   string
		req    []byte
		cfg    Config
		err    error
		status string
	}{
		{"path mismatch", reqWith(nil, "GET /other HTTP/1.1"), Config{}, ErrWrongPath, "404 Not Found"},
		{"path prefix is not a match", reqWith(nil, "GET /mqttx HTTP/1.1"), Config{}, ErrWrongPath, "404"},
		{"configured path", reqWith(nil, "GET /mqtt HTTP/1.1"), Config{Path: "/ws"}, ErrWrongPath, "404"},
		{"bad key length [RFC6455-4.2.1]", reqWith(map[string]string{"Sec-WebSocket-Key": "abc"}, ""), Config{}, ErrBadKey, "400"},
		{"bad key base64 [RFC6455-4.2.1]", reqWith(map[string]string{"Sec-WebSocket-Key": "!!!!!!!!!!!!!!!!!!!!!!=="}, ""), Config{}, ErrBadKey, "400"},
		{"missing key [RFC6455-4.2.1]", reqWith(map[string]string{"Sec-WebSocket-Key": "-"}, ""), Config{}, ErrBadKey, "400"},
		{"version 8 [RFC6455-4.4]", reqWith(map[string]string{"Sec-WebSocket-Version": "8"}, ""), Config{}, ErrBadVersion, "426 Upgrade Required"},
		{"missing version", reqWith(map[string]string{"Sec-WebSocket-Version": "-"}, ""), Config{}, ErrNoVersion, "400"},
		{"missing Upgrade [RFC6455-4.2.1]", reqWith(map[string]string{"Upgrade": "-"}, ""), Config{}, ErrNotUpgrade, "400"},
		{"Upgrade not websocket", reqWith(map[string]string{"Upgrade": "h2c"}, ""), Config{}, ErrNotUpgrade, "400"},
		{"missing Connection upgrade", reqWith(map[string]string{"Connection": "keep-alive"}, ""), Config{}, ErrNotUpgrade, "400"},
		{"not GET [RFC6455-4.1]", reqWith(nil, "POST /mqtt HTTP/1.1"), Config{}, ErrNotGet, "400"},
		{"HTTP/1.0 [RFC6455-4.1]", reqWith(nil, "GET /mqtt HTTP/1.0"), Config{}, ErrHTTPVersion, "400"},
		{"no Host [RFC6455-4.1]", reqWith(map[string]string{"Host": "-"}, ""), Config{}, ErrNoHost, "400"},
		{"origin denied [RFC6455-10.2]", reqWith(map[string]string{"Origin": "https://evil.example"}, ""), Config{AllowedOrigins: []string{"https://app.example"}}, ErrOriginDenied, "403 Forbidden"},
		{"origin port differs", reqWith(map[string]string{"Origin": "https://app.example:444"}, ""), Config{AllowedOrigins: []string{"https://app.example"}}, ErrOriginDenied, "403"},
		{"only foreign sub-protocols [MQTT-6.0.0-3]", reqWith(map[string]string{"Sec-WebSocket-Protocol": "chat, superchat"}, ""), Config{}, ErrBadSubprotocol, "400"},
		{"oversize with end", reqWith(map[string]string{"Origin": long}, ""), Config{}, ErrHandshakeTooLarge, "431"},
		{"oversize without end", []byte("GET /mqtt HTTP/1.1\r\nX: " + long), Config{}, ErrHandshakeTooLarge, "431"},
		{"small MaxHandshake", mqttJS, Config{MaxHandshake: 64}, ErrHandshakeTooLarge, "431"},
		{"header without colon", httpReq("GET /mqtt HTTP/1.1", "Host localhost"), Config{}, ErrMalformedRequest, "400"},
		{"obs-fold line", httpReq("GET /mqtt HTTP/1.1", "Host: a", " folded"), Config{}, ErrMalformedRequest, "400"},
		{"request line without version", httpReq("GET /mqtt"), Config{}, ErrMalformedRequest, "400"},
		{"empty request line", []byte("\r\n\r\n"), Config{}, ErrMalformedRequest, "400"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, resp, c, err := Handshake(tc.req, &tc.cfg, nil)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v want %v", err, tc.err)
			}
			if n != 0 || c != nil {
				t.Fatalf("n=%d c=%v on error", n, c)
			}
			var he *HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("not a HandshakeError: %T", err)
			}
			s := string(resp)
			if !strings.HasPrefix(s, "HTTP/1.1 "+tc.status) {
				t.Fatalf("resp %q want status %s", s, tc.status)
			}
			i := strings.Index(s, "\r\n\r\n")
			if i < 0 || !strings.Contains(s[:i], "Content-Length: ") || !strings.Contains(s, "Connection: close") {
				t.Fatalf("incomplete HTTP response %q", s)
			}
			if he.Status == 426 && !strings.Contains(s, "\r\nSec-WebSocket-Version: 13\r\n") {
				t.Fatalf("426 without version header: %q", s)
			}
		})
	}
}

func TestHandshakeDeflateNegotiation(t *testing.T) {
	cases := []struct {
		name   string
		offer  string
		want   string // extension response, "" = not negotiated
		params deflateParams
	}{
		{"plain [RFC7692-7.1.1.1]", "permessage-deflate", "permessage-deflate; server_no_context_takeover", deflateParams{ok: true, serverNoCtx: true}},
		{"client_max_window_bits hint [RFC7692-7.1.2.2]", "permessage-deflate; client_max_window_bits",
			"permessage-deflate; server_no_context_takeover; client_max_window_bits=13", deflateParams{ok: true, serverNoCtx: true, clientBits: 13}},
		{"client_max_window_bits=10 kept [RFC7692-7.1.2.2]", "permessage-deflate; client_max_window_bits=10",
			"permessage-deflate; server_no_context_takeover; client_max_window_bits=10", deflateParams{ok: true, serverNoCtx: true, clientBits: 10}},
		{"no context takeover both", "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover", deflateParams{ok: true, serverNoCtx: true, clientNoCtx: true}},
		{"server window 15 echoed [RFC7692-7.1.2.1]", "permessage-deflate; server_max_window_bits=15",
			"permessage-deflate; server_no_context_takeover; server_max_window_bits=15", deflateParams{ok: true, serverNoCtx: true, serverBits: 15}},
		{"server window 10 [RFC7692-7.1.2.1]", "permessage-deflate; server_max_window_bits=10",
			"permessage-deflate; server_no_context_takeover; server_max_window_bits=10", deflateParams{ok: true, serverNoCtx: true, serverBits: 10}},
		{"quoted value", `permessage-deflate; server_max_window_bits="12"`,
			"permessage-deflate; server_no_context_takeover; server_max_window_bits=12", deflateParams{ok: true, serverNoCtx: true, serverBits: 12}},
		{"bad first offer, good second [RFC7692-5.1]", "permessage-deflate; server_max_window_bits=7, permessage-deflate",
			"permessage-deflate; server_no_context_takeover", deflateParams{ok: true, serverNoCtx: true}},
		{"unknown param declined", "permessage-deflate; foo=1", "", deflateParams{}},
		{"duplicate param declined", "permessage-deflate; server_no_context_takeover; server_no_context_takeover", "", deflateParams{}},
		{"window without value declined", "permessage-deflate; server_max_window_bits", "", deflateParams{}},
		{"window 16 declined", "permessage-deflate; client_max_window_bits=16", "", deflateParams{}},
		{"value on flag declined", "permessage-deflate; client_no_context_takeover=1", "", deflateParams{}},
		{"other extension", "x-webkit-deflate-frame", "", deflateParams{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httpReq("GET /mqtt HTTP/1.1", "Host: h", "Upgrade: websocket", "Connection: Upgrade",
				"Sec-WebSocket-Key: "+rfcKey, "Sec-WebSocket-Version: 13", "Sec-WebSocket-Extensions: "+tc.offer)
			_, resp, c, err := Handshake(req, &Config{Compression: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := string(resp)
			if tc.want == "" {
				if strings.Contains(s, "Extensions") || c.Compressed() {
					t.Fatalf("negotiated: %q", s)
				}
				return
			}
			if !strings.Contains(s, "\r\nSec-WebSocket-Extensions: "+tc.want+"\r\n") || !c.Compressed() {
				t.Fatalf("resp %q want %q", s, tc.want)
			}
			if c.pmd != tc.params {
				t.Fatalf("params %+v want %+v", c.pmd, tc.params)
			}
		})
	}
	// Compression off in the config: the offer is ignored.
	_, resp, c, _ := Handshake(pahoJS, &Config{}, nil)
	if c.Compressed() || bytes.Contains(resp, []byte("Extensions")) {
		t.Fatalf("compression negotiated while disabled")
	}
}
