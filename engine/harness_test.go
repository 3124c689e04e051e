package engine

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// testBroker starts a broker on loopback port 0 with the default config,
// after mod (may be nil) has adjusted it, and stops it when the test ends.
func testBroker(t testing.TB, mod func(c *config.Config)) *Broker {
	t.Helper()
	cfg := config.Default()
	cfg.Listeners = []config.Listener{{Type: config.TypeTCP, Address: "127.0.0.1:0"}}
	cfg.Admin.Address = ""
	cfg.SysInterval = 0
	if mod != nil {
		mod(cfg)
	}
	var logOut io.Writer = io.Discard
	if os.Getenv("TSUBAME_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	b, err := New(cfg, slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	// The shutdown runs in the background when the test ends: gnet's Stop
	// polls every 500 ms, which over a hundred wire tests would be most of
	// the package's run time. Each broker listens on its own port 0, so a
	// broker still stopping disturbs no later test.
	t.Cleanup(func() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = b.Shutdown(ctx)
		}()
	})
	return b
}

// wire is a raw MQTT connection for black-box tests: it sends exact bytes
// and reads whole packets back.
type wire struct {
	t    testing.TB
	conn net.Conn
	buf  []byte
	ver  byte
}

func dial(t testing.TB, addr string) *wire {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &wire{t: t, conn: conn, ver: codec.V311}
}

func (w *wire) send(b []byte) {
	w.t.Helper()
	if _, err := w.conn.Write(b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

func (w *wire) sendPacket(p *codec.Packet) {
	w.t.Helper()
	if p.Version == 0 {
		p.Version = w.ver
	}
	w.send(codec.Encode(nil, p))
}

// read returns the next whole packet's raw bytes, or fails the test after d.
func (w *wire) readRaw(d time.Duration) ([]byte, error) {
	deadline := time.Now().Add(d)
	for {
		if len(w.buf) >= 2 {
			_, rem, hl, err := codec.DecodeFixedHeader(w.buf, 1<<28)
			if err != nil {
				return nil, err
			}
			if hl > 0 && len(w.buf) >= hl+rem {
				pkt := append([]byte(nil), w.buf[:hl+rem]...)
				w.buf = w.buf[hl+rem:]
				return pkt, nil
			}
		}
		_ = w.conn.SetReadDeadline(deadline)
		tmp := make([]byte, 64<<10)
		n, err := w.conn.Read(tmp)
		w.buf = append(w.buf, tmp[:n]...)
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

// expectRaw reads the next packet and compares its exact bytes.
func (w *wire) expectRaw(want []byte) {
	w.t.Helper()
	got, err := w.readRaw(2 * time.Second)
	if err != nil {
		w.t.Fatalf("want % x, read error: %v", want, err)
	}
	if !bytes.Equal(got, want) {
		w.t.Fatalf("got  % x\nwant % x", got, want)
	}
}

// expect reads and decodes the next packet, failing if it is not of type typ.
func (w *wire) expect(typ codec.PacketType) *codec.Packet {
	w.t.Helper()
	raw, err := w.readRaw(2 * time.Second)
	if err != nil {
		w.t.Fatalf("want %v, read error: %v", typ, err)
	}
	p := new(codec.Packet)
	n, err := codec.Decode(raw, w.ver, 1<<28, p)
	if err != nil || n != len(raw) {
		// Server packets the server-side decoder rejects (e.g. CONNACK): parse leniently.
		p = &codec.Packet{Type: codec.PacketType(raw[0] >> 4)}
	}
	if p.Type != typ {
		w.t.Fatalf("got %v (% x), want %v", p.Type, raw, typ)
	}
	return p
}

// expectClosed checks that the server closes the connection (after any
// packets listed in allow) within d.
func (w *wire) expectClosed(d time.Duration) {
	w.t.Helper()
	for {
		raw, err := w.readRaw(d)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				w.t.Fatal("connection still open")
			}
			return
		}
		_ = raw
	}
}

// expectNothing checks that no packet arrives within d.
func (w *wire) expectNothing(d time.Duration) {
	w.t.Helper()
	raw, err := w.readRaw(d)
	if err == nil {
		w.t.Fatalf("unexpected packet % x", raw)
	}
}

// connect sends CONNECT (3.1.1 unless ver says otherwise) and expects an
// accepting CONNACK.
func connectWire(t testing.TB, addr, id string, ver byte, clean bool) *wire {
	t.Helper()
	w := dial(t, addr)
	w.ver = ver
	w.sendPacket(&codec.Packet{Type: codec.CONNECT, Version: ver, ProtocolName: protoName(ver), ClientID: []byte(id), CleanStart: clean, KeepAlive: 30})
	raw, err := w.readRaw(2 * time.Second)
	if err != nil {
		t.Fatalf("CONNACK: %v", err)
	}
	if raw[0] != 0x20 || raw[3] != 0 {
		t.Fatalf("CONNACK refused: % x", raw)
	}
	return w
}

func protoName(ver byte) []byte {
	if ver == codec.V31 {
		return []byte("MQIsdp")
	}
	return []byte("MQTT")
}

func hexb(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
