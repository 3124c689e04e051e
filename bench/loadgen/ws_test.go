package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
)

// pongSink is the net.Conn a wsConn answers pings on.
type pongSink struct {
	net.Conn
	out bytes.Buffer
}

func (p *pongSink) Write(b []byte) (int, error) { return p.out.Write(b) }

func wsFrame(op byte, payload []byte) []byte {
	f := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		f = append(f, byte(n))
	case n <= 0xFFFF:
		f = append(f, 126, byte(n>>8), byte(n))
	default:
		f = append(f, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(f, payload...)
}

func readAllWS(data []byte) ([]byte, *pongSink, error) {
	sink := &pongSink{}
	w := &wsConn{nc: sink, br: bufio.NewReader(bytes.NewReader(data))}
	var got []byte
	buf := make([]byte, 7) // odd size: frames split across reads
	for {
		n, err := w.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return got, sink, err
		}
	}
}

func TestWSReadReassemblesStream(t *testing.T) {
	big := bytes.Repeat([]byte{0xAB}, 70000)
	var in []byte
	in = append(in, wsFrame(wsBinary, []byte("hello "))...)
	in = append(in, wsFrame(wsPing, []byte("p"))...)
	in = append(in, wsFrame(wsContinuation, []byte("world"))...)
	in = append(in, wsFrame(wsBinary, big[:300])...)
	in = append(in, wsFrame(wsBinary, big)...)
	in = append(in, wsFrame(wsClose, nil)...)
	got, sink, err := readAllWS(in)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte("hello world"), big[:300]...), big...)
	if !bytes.Equal(got, want) {
		t.Fatalf("stream of %d bytes, want %d", len(got), len(want))
	}
	// The ping got a masked pong carrying "p".
	pong := sink.out.Bytes()
	if len(pong) != 2+4+1 || pong[0] != 0x80|wsPong || pong[1] != 0x80|1 || pong[6]^pong[2] != 'p' {
		t.Fatalf("pong % x", pong)
	}
}

func TestWSReadRejects(t *testing.T) {
	for name, in := range map[string][]byte{
		"masked server frame": {0x82, 0x81, 1, 2, 3, 4, 'x'},
		"text frame":          wsFrame(wsText, []byte("x")),
		"long control frame":  wsFrame(wsPing, make([]byte, 126)),
		"unknown opcode":      wsFrame(0x3, nil),
		"length overflow":     {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0},
	} {
		if _, _, err := readAllWS(in); !errors.Is(err, errWebSocket) {
			t.Errorf("%s: got %v, want a websocket error", name, err)
		}
	}
}

func TestWSWriteMasks(t *testing.T) {
	sink := &pongSink{}
	w := &wsConn{nc: sink, mask: 12345}
	msg := bytes.Repeat([]byte("mqtt"), 50) // 200 bytes: 16-bit length
	if _, err := w.Write(msg); err != nil {
		t.Fatal(err)
	}
	f := sink.out.Bytes()
	if f[0] != 0x82 || f[1] != 0x80|126 || int(f[2])<<8|int(f[3]) != 200 {
		t.Fatalf("header % x", f[:4])
	}
	key, body := f[4:8], f[8:]
	for i := range body {
		body[i] ^= key[i&3]
	}
	if !bytes.Equal(body, msg) {
		t.Fatal("payload does not unmask to the message")
	}
}

// FuzzWSRead feeds arbitrary server bytes to the frame reader: it must
// never panic, never return more bytes than it was given, and end with EOF
// or a clear error.
func FuzzWSRead(f *testing.F) {
	f.Add(wsFrame(wsBinary, []byte{0x30, 0x03, 0, 1, 'a'}))
	f.Add(append(wsFrame(wsPing, nil), wsFrame(wsBinary, []byte("x"))...))
	f.Add(wsFrame(wsClose, []byte{3, 232}))
	f.Add([]byte{0x82, 126, 0xFF, 0xFF, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _, _ := readAllWS(data)
		if len(got) > len(data) {
			t.Fatalf("%d bytes out of %d in", len(got), len(data))
		}
	})
}
