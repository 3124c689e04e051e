package ws

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"testing"

	"github.com/klauspost/compress/flate"
)

func deflateConn(p deflateParams, cfg Config) *Conn {
	c := testConn(cfg)
	p.ok = true
	c.pmd = p
	return c
}

// RFC 7692 §7.2.3 examples, sent as binary frames by a client.
func TestInflateRFC7692Examples(t *testing.T) {
	hello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00} // §7.2.3.1 "Hello"
	t.Run("7.2.3.1 single frame", func(t *testing.T) {
		c := deflateConn(deflateParams{}, Config{})
		in := clientFrame(0xc2, hello) // FIN | RSV1 | binary
		n, mqtt, _, _, err := c.ReadFrames(in, nil, nil)
		if err != nil || n != len(in) || string(mqtt) != "Hello" {
			t.Fatalf("n=%d err=%v mqtt=%q", n, err, mqtt)
		}
	})
	t.Run("7.2.3.1 fragmented", func(t *testing.T) {
		c := deflateConn(deflateParams{}, Config{})
		in := append(clientFrame(0x42, hello[:3]), clientFrame(0x80, hello[3:])...) // RSV1 on the first frame only
		_, mqtt, _, _, err := c.ReadFrames(in, nil, nil)
		if err != nil || string(mqtt) != "Hello" {
			t.Fatalf("err=%v mqtt=%q", err, mqtt)
		}
	})
	t.Run("7.2.3.2 context takeover", func(t *testing.T) {
		c := deflateConn(deflateParams{}, Config{})
		in := append(clientFrame(0xc2, hello), clientFrame(0xc2, []byte{0xf2, 0x00, 0x11, 0x00, 0x00})...)
		_, mqtt, _, _, err := c.ReadFrames(in, nil, nil)
		if err != nil || string(mqtt) != "HelloHello" {
			t.Fatalf("err=%v mqtt=%q", err, mqtt)
		}
	})
	t.Run("7.2.3.2 client_no_context_takeover", func(t *testing.T) {
		c := deflateConn(deflateParams{clientNoCtx: true}, Config{})
		in := append(clientFrame(0xc2, hello), clientFrame(0xc2, hello)...)
		_, mqtt, _, _, err := c.ReadFrames(in, nil, nil)
		if err != nil || string(mqtt) != "HelloHello" {
			t.Fatalf("err=%v mqtt=%q", err, mqtt)
		}
	})
	t.Run("7.2.3.3 stored block", func(t *testing.T) {
		c := deflateConn(deflateParams{}, Config{})
		in := clientFrame(0xc2, []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o', 0x00})
		_, mqtt, _, _, err := c.ReadFrames(in, nil, nil)
		if err != nil || string(mqtt) != "Hello" {
			t.Fatalf("err=%v mqtt=%q", err, mqtt)
		}
	})
	t.Run("7.2.3.6 empty message", func(t *testing.T) {
		c := deflateConn(deflateParams{}, Config{})
		_, mqtt, _, _, err := c.ReadFrames(clientFrame(0xc2, []byte{0x00}), []byte("x"), nil)
		if err != nil || string(mqtt) != "x" {
			t.Fatalf("err=%v mqtt=%q", err, mqtt)
		}
	})
	t.Run("BFINAL block", func(t *testing.T) {
		c := deflateConn(deflateParams{}, Config{})
		in := clientFrame(0xc2, []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}) // same as 7.2.3.1 with BFINAL=1
		_, mqtt, _, _, err := c.ReadFrames(in, nil, nil)
		if err != nil || string(mqtt) != "Hello" {
			t.Fatalf("err=%v mqtt=%q", err, mqtt)
		}
	})
}

func TestAppendFrameCompressed(t *testing.T) {
	c := deflateConn(deflateParams{serverNoCtx: true}, Config{})
	if got := c.AppendFrame(nil, []byte("Hello")); !bytes.Equal(got, []byte{0x82, 0x05, 'H', 'e', 'l', 'l', 'o'}) { // [RFC7692-6.1]
		t.Fatalf("small payload must go uncompressed: % x", got)
	}
	if got := c.AppendFrame(nil, nil); !bytes.Equal(got, []byte{0x82, 0x00}) {
		t.Fatalf("empty message % x", got)
	}
	msg := bytes.Repeat([]byte("Hello"), 20)
	got := c.AppendFrame(nil, msg)
	if got[0] != 0xc2 || int(got[1]) != len(got)-2 || len(got) >= len(msg) { // FIN | RSV1 | binary, unmasked
		t.Fatalf("header % x len %d", got[:2], len(got))
	}
	if out := refInflate(t, [][]byte{got[2:]}); !bytes.Equal(out[0], msg) {
		t.Fatalf("inflated %q", out[0])
	}
}

func TestServerNoContextTakeover(t *testing.T) { // [RFC7692-7.1.1.1]
	msg := bytes.Repeat([]byte("sensors/building-1/floor/2/temperature "), 4)
	c := deflateConn(deflateParams{serverNoCtx: true}, Config{})
	first := c.AppendFrame(nil, msg)
	second := c.AppendFrame(nil, msg)
	if !bytes.Equal(first, second) {
		t.Fatalf("frames differ, so context was kept: % x vs % x", first, second)
	}
	// Every accepted offer tells the client we keep no context.
	for _, offer := range []string{"permessage-deflate", "permessage-deflate; client_max_window_bits"} {
		if p := parseDeflateOffer([]byte(offer)); !p.ok || !p.serverNoCtx {
			t.Fatalf("%q: %+v", offer, p)
		}
	}
}

// refInflate decodes server messages with the standard library as an
// independent reference, treating them as one deflate stream (context
// takeover): each message is followed by the stripped 00 00 ff ff.
func refInflate(t *testing.T, msgs [][]byte) [][]byte {
	t.Helper()
	var stream []byte
	var out [][]byte
	prev := 0
	for _, m := range msgs {
		stream = append(append(stream, m...), 0, 0, 0xff, 0xff)
		full := append(append([]byte{}, stream...), 1, 0, 0, 0xff, 0xff)
		all, err := io.ReadAll(stdflate.NewReader(bytes.NewReader(full)))
		if err != nil {
			t.Fatalf("reference inflate: %v", err)
		}
		out = append(out, all[prev:])
		prev = len(all)
	}
	return out
}

// refDeflate compresses messages as an RFC 7692 client would (klauspost
// flate, sync flush, tail stripped), optionally without context takeover.
func refDeflate(msgs [][]byte, noCtx bool) [][]byte { return refDeflateWindow(msgs, noCtx, 0) }

// refDeflateWindow compresses with a 2^bits window (0: 15 bits, best level).
func refDeflateWindow(msgs [][]byte, noCtx bool, bits int) [][]byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	if bits != 0 {
		w, _ = flate.NewWriterWindow(&buf, 1<<bits)
	}
	var out [][]byte
	for _, m := range msgs {
		if noCtx {
			w.Reset(&buf)
		}
		buf.Reset()
		w.Write(m)
		w.Flush()
		b := bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
		out = append(out, append([]byte{}, b...))
	}
	return out
}

func testMessages() [][]byte {
	r := rand.New(rand.NewSource(1))
	var msgs [][]byte
	for i := 0; i < 40; i++ {
		topic := fmt.Sprintf("sensors/building-%d/floor/%d/temperature", i%3, i%5)
		m := append([]byte{0x30, 0}, topic...)
		n := r.Intn(3000)
		for j := 0; j < n; j++ {
			m = append(m, "abcdefgh"[r.Intn(8)])
		}
		msgs = append(msgs, m)
	}
	msgs = append(msgs, nil, bytes.Repeat([]byte{0x55}, 100000))
	return msgs
}

func TestDeflateRoundTripServerToClient(t *testing.T) {
	for _, p := range []deflateParams{{serverNoCtx: true}, {serverBits: 9, serverNoCtx: true}, {serverBits: 15, serverNoCtx: true}} {
		t.Run(fmt.Sprintf("%+v", p), func(t *testing.T) {
			c := deflateConn(p, Config{})
			defer c.Release()
			msgs := testMessages()
			var frames, want [][]byte
			var total, compressed int
			for _, m := range msgs {
				f := c.AppendFrame(nil, m)
				if len(m) < minDeflateSize {
					if f[0] != 0x82 || !bytes.Equal(f[2:], m) {
						t.Fatalf("small message not sent plain: % x", f)
					}
					continue
				}
				if f[0] != 0xc2 {
					t.Fatalf("header % x", f[:2])
				}
				want = append(want, m)
				// reuse our own reader as a frame splitter: unmasked frames are
				// rejected, so strip the header by hand.
				hl := 2
				switch f[1] {
				case 126:
					hl = 4
				case 127:
					hl = 10
				}
				frames = append(frames, f[hl:])
				total += len(m)
				compressed += len(f)
			}
			got := refInflate(t, frames)
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("message %d differs (len %d vs %d)", i, len(got[i]), len(want[i]))
				}
			}
			if compressed >= total {
				t.Fatalf("no compression: %d >= %d", compressed, total)
			}
		})
	}
}

func TestDeflateRoundTripClientToServer(t *testing.T) {
	for _, tc := range []struct {
		noCtx bool
		bits  uint8
	}{{false, 0}, {true, 0}, {false, 13}, {false, 9}} {
		noCtx := tc.noCtx
		t.Run(fmt.Sprintf("client_no_context_takeover=%v/client_max_window_bits=%d", noCtx, tc.bits), func(t *testing.T) {
			msgs := testMessages()
			comp := refDeflateWindow(msgs, noCtx, int(tc.bits))
			var in, want []byte
			for i, m := range comp {
				if len(m) > 50 && i%2 == 0 { // fragment some messages
					in = append(in, clientFrame(0x42, m[:50])...)
					in = append(in, clientFrame(0x89, []byte("x"))...) // ping inside
					in = append(in, clientFrame(0x80, m[50:])...)
				} else {
					in = append(in, clientFrame(0xc2, m)...)
				}
				want = append(want, msgs[i]...)
			}
			// uncompressed messages are allowed on a deflate connection [RFC7692-6]
			in = append(in, clientFrame(0x82, []byte("plain"))...)
			want = append(want, "plain"...)
			for _, step := range []int{len(in), 1000, 7} {
				c := deflateConn(deflateParams{clientNoCtx: noCtx, clientBits: tc.bits}, Config{MaxFrameSize: 1 << 18})
				f := &feeder{c: c}
				for i := 0; i < len(in); i += step {
					f.feed(in[i:min(i+step, len(in))])
				}
				if f.err != nil || !bytes.Equal(f.mqtt, want) {
					t.Fatalf("step %d: err=%v len %d want %d", step, f.err, len(f.mqtt), len(want))
				}
				if tc.bits != 0 && len(c.z.recv) > 1<<tc.bits {
					t.Fatalf("inflate history %d bytes, negotiated window %d", len(c.z.recv), 1<<tc.bits)
				}
				if noCtx && len(c.z.recv) != 0 {
					t.Fatalf("history kept without context takeover")
				}
				c.Release()
			}
		})
	}
}

func TestInflateErrors(t *testing.T) {
	t.Run("deflate bomb over MaxMessageSize [RFC7692-8.1]", func(t *testing.T) {
		comp := refDeflate([][]byte{make([]byte, 1<<20)}, false)[0]
		c := deflateConn(deflateParams{}, Config{MaxFrameSize: 4096, MaxMessageSize: 64 << 10})
		_, mqtt, ctrl, closed, err := c.ReadFrames(clientFrame(0xc2, comp), nil, nil)
		if !errors.Is(err, ErrMessageTooLarge) || !closed || closeCode(ctrl) != 1009 || len(mqtt) != 0 {
			t.Fatalf("err=%v closed=%v code=%d mqtt=%d", err, closed, closeCode(ctrl), len(mqtt))
		}
	})
	t.Run("corrupt data [RFC7692-6.2]", func(t *testing.T) {
		c := deflateConn(deflateParams{}, Config{})
		_, _, ctrl, _, err := c.ReadFrames(clientFrame(0xc2, []byte{0xff, 0xff, 0xff}), nil, nil)
		if !errors.Is(err, ErrBadDeflate) || closeCode(ctrl) != 1007 {
			t.Fatalf("err=%v code=%d", err, closeCode(ctrl))
		}
	})
	t.Run("RSV1 on continuation [RFC7692-6]", func(t *testing.T) {
		c := deflateConn(deflateParams{}, Config{})
		in := append(clientFrame(0x42, []byte{0xf2}), clientFrame(0xc0, []byte{0x48})...)
		_, _, ctrl, _, err := c.ReadFrames(in, nil, nil)
		if !errors.Is(err, ErrReservedBits) || closeCode(ctrl) != 1002 {
			t.Fatalf("err=%v", err)
		}
	})
	t.Run("RSV1 on ping [RFC7692-6]", func(t *testing.T) {
		c := deflateConn(deflateParams{}, Config{})
		_, _, _, _, err := c.ReadFrames(clientFrame(0xc9, nil), nil, nil)
		if !errors.Is(err, ErrReservedBits) {
			t.Fatalf("err=%v", err)
		}
	})
}

func TestHandshakeThenDeflate(t *testing.T) {
	_, resp, c, err := Handshake(pahoJS, &Config{Compression: true}, nil)
	if err != nil || !c.Compressed() || !bytes.Contains(resp, []byte("\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=13\r\n")) {
		t.Fatalf("err=%v resp %q", err, resp)
	}
	_, mqtt, _, _, err := c.ReadFrames(clientFrame(0xc2, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}), nil, nil)
	if err != nil || string(mqtt) != "Hello" {
		t.Fatalf("err=%v mqtt=%q", err, mqtt)
	}
	c.Release()
	c.Release() // idempotent
}

func TestAppendWindow(t *testing.T) {
	const maxWindow = 1 << 15
	var w []byte
	var all []byte
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 200; i++ {
		chunk := make([]byte, r.Intn(5000))
		r.Read(chunk)
		if i == 100 {
			chunk = make([]byte, 40000)
			r.Read(chunk)
		}
		all = append(all, chunk...)
		w = appendWindow(w, chunk, maxWindow)
		want := all
		if len(want) > maxWindow {
			want = want[len(want)-maxWindow:]
		}
		if !bytes.Equal(w, want) {
			t.Fatalf("step %d", i)
		}
	}
}
