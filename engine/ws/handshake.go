package ws

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
)

// Defaults applied by Handshake when the Config field is zero.
const (
	DefaultPath         = "/mqtt"
	DefaultMaxHandshake = 8 << 10
	DefaultMaxFrameSize = 1 << 20
)

// Config is the per-listener WebSocket configuration. It is read, never
// written, by Handshake; one Config is shared by all connections.
type Config struct {
	Path           string   // "/mqtt" default; "*" accepts any path
	AllowedOrigins []string // empty: any Origin; else exact match (scheme://host[:port]), case-insensitive
	Compression    bool     // negotiate permessage-deflate when the client offers it (off by default)
	MaxFrameSize   int      // max payload of one incoming frame; larger -> close 1009. 0: 1 MiB
	MaxHandshake   int      // max bytes of the HTTP upgrade request (default 8 KiB) -> 431
	// MaxMessageSize bounds one reassembled (and inflated) message; larger ->
	// close 1009. A message may carry several MQTT packets, so this is larger
	// than MaxFrameSize by default: 0 means 4 × MaxFrameSize. It also bounds
	// the output of inflating one compressed message (deflate bombs).
	MaxMessageSize int
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Handshake parses an HTTP upgrade request from b. n==0 && err==nil: need
// more bytes (b is not retained; call again with the bytes so far plus the
// new ones). On success it returns the bytes consumed (the end of the header
// block: bytes after it are already WebSocket frames), the 101 response
// appended to dst, and a new Conn.
//
// On a bad request err is a *HandshakeError and resp holds a complete HTTP
// error response (appended to dst) that the engine writes before closing.
// A request with an Origin header is checked against AllowedOrigins; a
// request without one (non-browser clients such as MQTT.js on Node, Paho
// Java) is accepted, since Origin only protects browsers.
func Handshake(b []byte, cfg *Config, dst []byte) (n int, resp []byte, c *Conn, err error) {
	if cfg == nil {
		cfg = &Config{}
	}
	maxHS := cfg.MaxHandshake
	if maxHS <= 0 {
		maxHS = DefaultMaxHandshake
	}
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		if len(b) >= maxHS {
			return 0, appendHTTPError(dst, ErrHandshakeTooLarge), nil, ErrHandshakeTooLarge
		}
		return 0, dst, nil, nil
	}
	hdrLen := end + 4
	if hdrLen > maxHS {
		return 0, appendHTTPError(dst, ErrHandshakeTooLarge), nil, ErrHandshakeTooLarge
	}
	var req request
	if herr := req.parse(b[:end+2], cfg); herr != nil {
		return 0, appendHTTPError(dst, herr), nil, herr
	}
	c = newConn(cfg)
	c.subproto = req.subproto
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = appendAccept(dst, req.key)
	dst = append(dst, "\r\n"...)
	if req.subproto != "" {
		dst = append(dst, "Sec-WebSocket-Protocol: "...) // [MQTT-6.0.0-4]
		dst = append(dst, req.subproto...)
		dst = append(dst, "\r\n"...)
	}
	if req.deflate.ok {
		c.pmd = req.deflate
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = req.deflate.appendResponse(dst)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	return hdrLen, dst, c, nil
}

var crlfcrlf = []byte("\r\n\r\n")

// request is the part of the upgrade request Handshake needs. It lives on
// the stack; key points into the caller's buffer.
type request struct {
	key      []byte
	subproto string
	deflate  deflateParams
}

func (r *request) parse(b []byte, cfg *Config) *HandshakeError {
	// Request line: GET SP request-target SP HTTP/1.1 CRLF.
	i := bytes.Index(b, crlf)
	line := b[:i]
	b = b[i+2:]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return ErrMalformedRequest
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return ErrMalformedRequest
	}
	method, target, proto := line[:sp1], line[sp1+1:sp1+1+sp2], line[sp1+2+sp2:]
	if string(method) != "GET" {
		return ErrNotGet // [RFC6455-4.1] the method of the request MUST be GET
	}
	if !httpAtLeast11(proto) {
		return ErrHTTPVersion // [RFC6455-4.1] HTTP version MUST be at least 1.1
	}
	if !pathMatches(target, cfg.Path) {
		return ErrWrongPath
	}

	var (
		host, upgrade, connection bool
		version                   []byte
		haveVersion               bool
		origin                    []byte
		haveOrigin                bool
		offered, mqtt, mqtt31     bool
	)
	for len(b) > 0 {
		i := bytes.Index(b, crlf)
		line := b[:i]
		b = b[i+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return ErrMalformedRequest // also rejects obs-fold continuation lines
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		switch {
		case asciiEqualFold(name, "host"):
			if host {
				return ErrMalformedRequest
			}
			host = true
		case asciiEqualFold(name, "upgrade"):
			upgrade = upgrade || hasToken(value, "websocket")
		case asciiEqualFold(name, "connection"):
			connection = connection || hasToken(value, "upgrade")
		case asciiEqualFold(name, "sec-websocket-key"):
			if r.key != nil {
				return ErrBadKey
			}
			r.key = value
		case asciiEqualFold(name, "sec-websocket-version"):
			if haveVersion {
				return ErrBadVersion
			}
			version, haveVersion = value, true
		case asciiEqualFold(name, "origin"):
			origin, haveOrigin = value, true
		case asciiEqualFold(name, "sec-websocket-protocol"):
			forEachListItem(value, func(tok []byte) {
				offered = true
				switch string(tok) {
				case "mqtt":
					mqtt = true
				case "mqttv3.1":
					mqtt31 = true
				}
			})
		case asciiEqualFold(name, "sec-websocket-extensions"):
			if cfg.Compression && !r.deflate.ok {
				forEachListItem(value, func(ext []byte) {
					if !r.deflate.ok {
						r.deflate = parseDeflateOffer(ext)
					}
				})
			}
		}
	}
	if !host {
		return ErrNoHost
	}
	if !upgrade || !connection {
		return ErrNotUpgrade // [RFC6455-4.2.1] Upgrade: websocket and Connection: Upgrade
	}
	if !haveVersion {
		return ErrNoVersion
	}
	if string(version) != "13" {
		return ErrBadVersion // [RFC6455-4.4] 426 with Sec-WebSocket-Version: 13
	}
	if !validKey(r.key) {
		return ErrBadKey // [RFC6455-4.2.1] base64 of 16 bytes
	}
	if haveOrigin && len(cfg.AllowedOrigins) > 0 {
		allowed := false
		for _, o := range cfg.AllowedOrigins {
			if asciiEqualFold(origin, o) {
				allowed = true
				break
			}
		}
		if !allowed {
			return ErrOriginDenied
		}
	}
	switch {
	case mqtt:
		r.subproto = "mqtt" // [MQTT-6.0.0-4] the server selects "mqtt"; clients offer it [MQTT-6.0.0-3]
	case mqtt31:
		r.subproto = "mqttv3.1" // legacy name used by MQTT 3.1 (level 3) clients such as old Paho JS
	case offered:
		return ErrBadSubprotocol // [MQTT-6.0.0-3] a client that offers sub-protocols must offer mqtt
	}
	return nil
}

var crlf = []byte("\r\n")

func httpAtLeast11(p []byte) bool {
	if len(p) != 8 || string(p[:5]) != "HTTP/" || p[6] != '.' || p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9' {
		return false
	}
	return p[5] > '1' || (p[5] == '1' && p[7] >= '1')
}

// pathMatches compares the path of target (origin-form or absolute-form,
// query ignored) with want.
func pathMatches(target []byte, want string) bool {
	if want == "" {
		want = DefaultPath
	}
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	if len(target) == 0 {
		return false
	}
	if target[0] != '/' {
		// absolute-form: scheme://authority/path
		i := bytes.Index(target, []byte("://"))
		if i < 0 {
			return false
		}
		rest := target[i+3:]
		j := bytes.IndexByte(rest, '/')
		if j < 0 {
			target = []byte("/")
		} else {
			target = rest[j:]
		}
	}
	return want == "*" || string(target) == want
}

func validKey(k []byte) bool {
	// 16 random bytes base64-encoded are exactly 24 characters ending in "==".
	if len(k) != 24 || k[22] != '=' || k[23] != '=' {
		return false
	}
	var out [18]byte
	n, err := base64.StdEncoding.Decode(out[:], k)
	return err == nil && n == 16
}

func appendAccept(dst, key []byte) []byte {
	var buf [24 + len(wsGUID)]byte
	copy(buf[:], key)
	copy(buf[24:], wsGUID)
	sum := sha1.Sum(buf[:])
	var enc [28]byte
	base64.StdEncoding.Encode(enc[:], sum[:])
	return append(dst, enc[:]...)
}

func appendHTTPError(dst []byte, e *HandshakeError) []byte {
	body := e.Reason
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, statusText(e.Status)...)
	dst = append(dst, "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"...)
	if e.Status == 426 {
		dst = append(dst, "Sec-WebSocket-Version: 13\r\n"...) // [RFC6455-4.4]
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)+1), 10)
	dst = append(dst, "\r\n\r\n"...)
	dst = append(dst, body...)
	return append(dst, '\n')
}

func statusText(s int) string {
	switch s {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 426:
		return "Upgrade Required"
	case 431:
		return "Request Header Fields Too Large"
	}
	return "Error"
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// forEachListItem calls f with each non-empty, trimmed element of a
// comma-separated header value.
func forEachListItem(v []byte, f func([]byte)) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var item []byte
		if i < 0 {
			item, v = v, nil
		} else {
			item, v = v[:i], v[i+1:]
		}
		if item = trimOWS(item); len(item) > 0 {
			f(item)
		}
	}
}

func hasToken(v []byte, tok string) bool {
	found := false
	forEachListItem(v, func(item []byte) {
		if asciiEqualFold(item, tok) {
			found = true
		}
	})
	return found
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// isToken reports whether b is an RFC 7230 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '"', '(', ')', ',', '/', ':', ';', '<', '=', '>', '?', '@', '[', '\\', ']', '{', '}':
			return false
		}
	}
	return true
}
