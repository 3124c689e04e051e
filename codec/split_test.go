package codec

import (
	"bytes"
	"errors"
	"testing"
)

// TestSplitNeedsMore: every valid golden packet cut at every offset is "need
// more bytes" (n==0, err==nil) until it is complete, as when it spans reads.
func TestSplitNeedsMore(t *testing.T) {
	for _, g := range goldens {
		if g.err != nil {
			continue
		}
		t.Run(g.testName(), func(t *testing.T) {
			var p Packet
			for cut := 0; cut < len(g.in); cut++ {
				n, err := decodeDir(g.server, g.in[:cut], g.version, g.maxSize, &p)
				if n != 0 || err != nil {
					t.Fatalf("prefix %d/%d: n=%d err=%v, want need-more", cut, len(g.in), n, err)
				}
			}
		})
	}
}

// TestStream decodes all valid v3.1.1 golden packets back to back from one
// buffer, as the engine does with one read holding many packets.
func TestStream(t *testing.T) {
	var buf []byte
	var want []golden
	for _, g := range goldens {
		if g.err == nil && g.version == V311 && !g.server {
			buf = append(buf, g.in...)
			want = append(want, g)
		}
	}
	var p Packet
	for i, g := range want {
		n, err := Decode(buf, V311, 0, &p)
		if err != nil || n != len(g.in) {
			t.Fatalf("packet %d (%s): n=%d err=%v", i, g.name, n, err)
		}
		if !bytes.Equal(buf[:n], g.in) {
			t.Fatalf("packet %d consumed wrong bytes", i)
		}
		buf = buf[n:]
	}
	if len(buf) != 0 {
		t.Fatalf("%d bytes left", len(buf))
	}
}

func TestDecodeFixedHeader(t *testing.T) {
	cases := []struct {
		name    string
		in      []byte
		max     int
		rem, hl int
		err     error
	}{
		{"empty needs more", nil, 0, 0, 0, nil},
		{"one byte needs more", []byte{0x30}, 0, 0, 0, nil},
		{"length continues needs more", []byte{0x30, 0x80}, 0, 0, 0, nil},
		{"zero", []byte{0xC0, 0x00}, 0, 0, 2, nil},
		{"127", []byte{0x30, 0x7F}, 0, 127, 2, nil},
		{"128", []byte{0x30, 0x80, 0x01}, 0, 128, 3, nil},
		{"16383", []byte{0x30, 0xFF, 0x7F}, 0, 16383, 3, nil},
		{"2097152", []byte{0x30, 0x80, 0x80, 0x80, 0x01}, 0, 2097152, 5, nil},
		{"max 268435455", []byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, 0, 268435455, 5, nil},
		{"fifth byte [MQTT-1.5.5-1]", []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}, 0, 0, 0, ErrMalformedLength},
		{"non-minimal 2 bytes [MQTT-1.5.5-1]", []byte{0x30, 0x80, 0x00}, 0, 0, 0, ErrMalformedLength},
		{"non-minimal 4 bytes [MQTT-1.5.5-1]", []byte{0x30, 0xFF, 0x80, 0x80, 0x00}, 0, 0, 0, ErrMalformedLength},
		{"exactly max size", []byte{0x30, 0x08}, 10, 8, 2, nil},
		{"one over max size [MQTT-5.0 §3.2.2.3.6]", []byte{0x30, 0x09}, 10, 0, 0, ErrPacketTooLarge},
		{"too large without body", []byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, 1 << 20, 0, 0, ErrPacketTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tf, rem, hl, err := DecodeFixedHeader(c.in, c.max)
			if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if rem != c.rem || hl != c.hl {
				t.Fatalf("rem, hl = %d, %d; want %d, %d", rem, hl, c.rem, c.hl)
			}
			if hl > 0 && tf != c.in[0] {
				t.Fatalf("typeAndFlags = %#x", tf)
			}
		})
	}
}

func TestVarint(t *testing.T) {
	for _, v := range []int{0, 1, 127, 128, 16383, 16384, 2097151, 2097152, MaxVarint} {
		b := AppendVarint(nil, v)
		if len(b) != VarintSize(v) {
			t.Errorf("%d: len %d, VarintSize %d", v, len(b), VarintSize(v))
		}
		got, n, err := readVarint(b)
		if err != nil || n != len(b) || got != v {
			t.Errorf("%d: read %d n=%d err=%v", v, got, n, err)
		}
	}
}

func TestPacketTypeString(t *testing.T) {
	if CONNECT.String() != "CONNECT" || AUTH.String() != "AUTH" || PUBREL.String() != "PUBREL" || PacketType(0).String() != "RESERVED" {
		t.Fatal("bad names")
	}
	if PacketType(16).String() != "INVALID" {
		t.Fatal("out of range type")
	}
}

// TestDecodeReusesPacket: decoding into a used Packet leaves nothing behind.
func TestDecodeReusesPacket(t *testing.T) {
	var p Packet
	for _, g := range goldens {
		if g.err != nil {
			continue
		}
		if _, err := decodeDir(g.server, g.in, g.version, 0, &p); err != nil {
			t.Fatal(err)
		}
		var fresh Packet
		decodeDir(g.server, g.in, g.version, 0, &fresh)
		if !packetsEqual(&p, &fresh) {
			t.Fatalf("%s: reused packet differs from fresh", g.name)
		}
	}
}
