package ws

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzReadFrames feeds a frame stream whole and split in two at a point
// chosen by the input (so the "frame spans two reads" paths are fuzzed too)
// and checks both give the same result. The connection has
// permessage-deflate negotiated so the inflate path is covered.
func FuzzReadFrames(f *testing.F) {
	in, _, _ := testStream()
	f.Add(in, uint16(17))
	f.Add(clientFrame(0xc2, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), uint16(3))
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0}, uint16(5))
	f.Add(append(clientFrame(0x42, []byte{0xf2, 0x48}), clientFrame(0x80, []byte{0xcd, 0xc9, 0xc9, 0x07, 0x00})...), uint16(9))
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		cfg := Config{MaxFrameSize: 1 << 16, MaxMessageSize: 1 << 18}
		whole := &feeder{c: deflateConn(deflateParams{}, cfg)}
		whole.feed(in)
		parts := &feeder{c: deflateConn(deflateParams{}, cfg)}
		k := int(split) % (len(in) + 1)
		parts.feed(in[:k])
		parts.feed(in[k:])
		if (whole.err == nil) != (parts.err == nil) || whole.closed != parts.closed {
			t.Fatalf("whole err=%v closed=%v, split at %d err=%v closed=%v", whole.err, whole.closed, k, parts.err, parts.closed)
		}
		if !bytes.Equal(whole.mqtt, parts.mqtt) || !bytes.Equal(whole.ctrl, parts.ctrl) {
			t.Fatalf("split at %d changes output", k)
		}
		if whole.err != nil {
			var ce *CloseError
			if !errors.As(whole.err, &ce) || closeCode(whole.ctrl) != ce.Code {
				t.Fatalf("error %v without matching close frame", whole.err)
			}
		}
		if len(whole.mqtt) > len(in)*1100+cfg.MaxMessageSize {
			t.Fatalf("output %d from %d input bytes", len(whole.mqtt), len(in))
		}
		whole.c.Release()
		parts.c.Release()
	})
}

// FuzzHandshake checks Handshake never panics, answers every complete
// request with a 101 or a complete HTTP error, and gives the same answer
// when the request arrives in two reads.
func FuzzHandshake(f *testing.F) {
	f.Add(pahoJS, uint16(10))
	f.Add(mqttJS, uint16(100))
	f.Add(reqWith(map[string]string{"Sec-WebSocket-Version": "8"}, ""), uint16(0))
	f.Add(httpReq("GET /mqtt HTTP/1.1", "Host: h", "Upgrade: websocket", "Connection: Upgrade",
		"Sec-WebSocket-Key: "+rfcKey, "Sec-WebSocket-Version: 13",
		"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; client_max_window_bits"), uint16(50))
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		cfg := &Config{Compression: true, MaxHandshake: 2048, AllowedOrigins: []string{"https://app.example"}}
		n, resp, c, err := Handshake(in, cfg, nil)
		switch {
		case err != nil:
			if n != 0 || c != nil || !bytes.HasPrefix(resp, []byte("HTTP/1.1 4")) || !bytes.Contains(resp, []byte("\r\n\r\n")) {
				t.Fatalf("bad error answer n=%d resp %q", n, resp)
			}
		case n == 0:
			if c != nil || len(resp) != 0 || bytes.Contains(in, crlfcrlf) || len(in) >= cfg.MaxHandshake {
				t.Fatalf("need-more with complete input")
			}
		default:
			if n > len(in) || c == nil || !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 ")) || !bytes.HasSuffix(resp, crlfcrlf) {
				t.Fatalf("bad success n=%d resp %q", n, resp)
			}
			if !bytes.Equal(in[n-4:n], crlfcrlf) {
				t.Fatalf("n does not stop at the end of headers")
			}
		}
		k := int(split) % (len(in) + 1)
		n1, resp1, _, err1 := Handshake(in[:k], cfg, nil)
		if n1 == 0 && err1 == nil {
			n1, resp1, _, err1 = Handshake(in, cfg, nil)
		}
		// A prefix may legitimately be a complete request of its own; only
		// compare when the first read did not complete one.
		if !bytes.Contains(in[:k], crlfcrlf) && len(in[:k]) < cfg.MaxHandshake {
			if n1 != n || !bytes.Equal(resp1, resp) || (err1 == nil) != (err == nil) {
				t.Fatalf("split at %d changes the answer", k)
			}
		}
	})
}
