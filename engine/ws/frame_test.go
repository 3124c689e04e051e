package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d} // RFC 6455 §5.7

// clientFrame builds a masked client frame with header byte b0.
func clientFrame(b0 byte, payload []byte) []byte {
	return clientFrameKey(b0, payload, testKey)
}

func clientFrameKey(b0 byte, payload []byte, key [4]byte) []byte {
	f := appendHeader(nil, b0, len(payload))
	f[1] |= 0x80
	f = append(f, key[:]...)
	start := len(f)
	f = append(f, payload...)
	maskBytes(key, 0, f[start:])
	return f
}

func testConn(cfg Config) *Conn { return newConn(&cfg) }

// feeder plays the engine: it keeps unconsumed bytes and presents them
// again with the next read.
type feeder struct {
	c       *Conn
	pending []byte
	mqtt    []byte
	ctrl    []byte
	closed  bool
	err     error
}

func (f *feeder) feed(b []byte) {
	if f.err != nil || f.closed {
		return
	}
	f.pending = append(f.pending, b...)
	n, mqtt, ctrl, closed, err := f.c.ReadFrames(f.pending, f.mqtt, f.ctrl)
	if n < 0 || n > len(f.pending) {
		panic("n out of range")
	}
	f.pending = f.pending[n:]
	f.mqtt, f.ctrl, f.closed, f.err = mqtt, ctrl, closed, err
}

func closeCode(ctrl []byte) uint16 {
	// last frame in ctrl must be a close frame with a status
	for len(ctrl) >= 2 {
		l := int(ctrl[1] & 0x7f)
		if ctrl[0] == finBit|opClose && len(ctrl) == 2+l {
			if l < 2 {
				return 0
			}
			return binary.BigEndian.Uint16(ctrl[2:])
		}
		ctrl = ctrl[2+l:]
	}
	return 0xffff
}

// Golden frames, each byte annotated. RFC 6455 §5.7 masks "Hello" with key
// 37 fa 21 3d into 7f 9f 4d 51 58.
func TestReadFramesGolden(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		in     []byte
		mqtt   string
		ctrl   []byte // exact ctrl output when err == nil
		closed bool
		err    error
	}{
		{name: "masked binary [RFC6455-5.7]", in: []byte{
			0x82,                   // FIN | binary
			0x85,                   // MASK | len 5
			0x37, 0xfa, 0x21, 0x3d, // masking key
			0x7f, 0x9f, 0x4d, 0x51, 0x58, // "Hello" masked
		}, mqtt: "Hello"},
		{name: "empty binary", in: []byte{
			0x82, 0x80, // FIN | binary, MASK | len 0
			1, 2, 3, 4, // key
		}},
		{name: "ping gets pong [RFC6455-5.5.3]", in: []byte{
			0x89, 0x85, // FIN | ping, MASK | len 5
			0x37, 0xfa, 0x21, 0x3d, // key
			0x7f, 0x9f, 0x4d, 0x51, 0x58, // "Hello"
		}, ctrl: []byte{0x8a, 0x05, 'H', 'e', 'l', 'l', 'o'}},
		{name: "pong ignored [RFC6455-5.5.3]", in: []byte{
			0x8a, 0x80, 1, 2, 3, 4, // FIN | pong, MASK | len 0, key
		}},
		{name: "close 1000 echoed [RFC6455-5.5.1]", in: []byte{
			0x88, 0x82, // FIN | close, MASK | len 2
			0, 0, 0, 0, // zero key
			0x03, 0xe8, // 1000
		}, ctrl: []byte{0x88, 0x02, 0x03, 0xe8}, closed: true},
		{name: "close without status [RFC6455-5.5.1]", in: []byte{
			0x88, 0x80, 1, 2, 3, 4, // FIN | close, MASK | len 0, key
		}, ctrl: []byte{0x88, 0x00}, closed: true},
		{name: "close with reason", in: clientFrame(0x88, []byte{0x0f, 0xa0, 'b', 'y', 'e'}), // 4000 "bye"
			ctrl: []byte{0x88, 0x02, 0x0f, 0xa0}, closed: true},
		{name: "unmasked [RFC6455-5.1]", in: []byte{
			0x82, 0x05, // FIN | binary, NO MASK | len 5
			'H', 'e', 'l', 'l', 'o',
		}, err: ErrUnmasked},
		{name: "text frame [MQTT-6.0.0-1]", in: []byte{
			0x81, 0x85, // FIN | text, MASK | len 5
			0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
		}, err: ErrTextFrame},
		{name: "reserved opcode 3 [RFC6455-5.2]", in: []byte{0x83, 0x80, 1, 2, 3, 4}, err: ErrReservedOpcode},
		{name: "reserved control opcode B [RFC6455-5.2]", in: []byte{0x8b, 0x80, 1, 2, 3, 4}, err: ErrReservedOpcode},
		{name: "RSV2 set [RFC6455-5.2]", in: []byte{0xa2, 0x80, 1, 2, 3, 4}, err: ErrReservedBits},
		{name: "RSV3 set [RFC6455-5.2]", in: []byte{0x92, 0x80, 1, 2, 3, 4}, err: ErrReservedBits},
		{name: "RSV1 without deflate [RFC6455-5.2]", in: []byte{0xc2, 0x80, 1, 2, 3, 4}, err: ErrUnexpectedCompressed},
		{name: "control over 125 [RFC6455-5.5]", in: []byte{
			0x89, 0xfe, 0x00, 0x7e, // FIN | ping, MASK | 16-bit len 126
		}, err: ErrControlTooLong},
		{name: "fragmented ping [RFC6455-5.5]", in: []byte{0x09, 0x80, 1, 2, 3, 4}, err: ErrControlFragmented},
		{name: "continuation without start [RFC6455-5.4]", in: []byte{0x80, 0x80, 1, 2, 3, 4}, err: ErrContinuation},
		{name: "binary inside fragmented message [RFC6455-5.4]", in: append(
			clientFrame(0x02, []byte("ab")),          // binary, no FIN
			clientFrame(0x82, []byte("c"))...), mqtt: "ab", err: ErrExpectedContinue},
		{name: "non-minimal 16-bit length [RFC6455-5.2]", in: []byte{
			0x82, 0xfe, 0x00, 0x05, // len 5 in 16 bits
		}, err: ErrNonMinimalLength},
		{name: "non-minimal 64-bit length [RFC6455-5.2]", in: []byte{
			0x82, 0xff, 0, 0, 0, 0, 0, 0, 0x01, 0x00, // len 256 in 64 bits
		}, err: ErrNonMinimalLength},
		{name: "64-bit length MSB set [RFC6455-5.2]", in: []byte{
			0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0,
		}, err: ErrNonMinimalLength},
		{name: "oversize frame rejected on header", cfg: Config{MaxFrameSize: 100}, in: []byte{
			0x82, 0xfe, 0x01, 0x00, // len 256, payload not sent
		}, err: ErrFrameTooLarge},
		{name: "oversize 64-bit frame rejected on header", in: []byte{
			0x82, 0xff, 0, 0, 0, 0x01, 0, 0, 0, 0, // len 4 GiB
		}, err: ErrFrameTooLarge},
		{name: "message over MaxMessageSize", cfg: Config{MaxFrameSize: 10, MaxMessageSize: 12}, in: append(
			clientFrame(0x02, []byte("0123456789")),
			clientFrame(0x80, []byte("abc"))...), mqtt: "0123456789", err: ErrMessageTooLarge},
		{name: "close 1 byte [RFC6455-5.5.1]", in: clientFrame(0x88, []byte{0x03}), err: ErrBadClosePayload},
		{name: "close code 1005 [RFC6455-7.4.2]", in: clientFrame(0x88, []byte{0x03, 0xed}), err: ErrBadCloseCode},
		{name: "close code 999 [RFC6455-7.4.2]", in: clientFrame(0x88, []byte{0x03, 0xe7}), err: ErrBadCloseCode},
		{name: "close code 5000 [RFC6455-7.4.2]", in: clientFrame(0x88, []byte{0x13, 0x88}), err: ErrBadCloseCode},
		{name: "close reason bad UTF-8 [RFC6455-5.5.1]", in: clientFrame(0x88, []byte{0x03, 0xe8, 0xff, 0xfe}), err: ErrBadCloseReason},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testConn(tc.cfg)
			n, mqtt, ctrl, closed, err := c.ReadFrames(tc.in, nil, nil)
			if string(mqtt) != tc.mqtt {
				t.Fatalf("mqtt %q want %q", mqtt, tc.mqtt)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v want %v", err, tc.err)
				}
				var ce *CloseError
				if !errors.As(err, &ce) {
					t.Fatalf("not a CloseError")
				}
				if got := closeCode(ctrl); got != ce.Code {
					t.Fatalf("close frame code %d want %d (ctrl % x)", got, ce.Code, ctrl)
				}
				if !closed {
					t.Fatalf("closed=false on error")
				}
			} else {
				if err != nil {
					t.Fatalf("err %v", err)
				}
				if n != len(tc.in) {
					t.Fatalf("n=%d want %d", n, len(tc.in))
				}
				if !bytes.Equal(ctrl, tc.ctrl) {
					t.Fatalf("ctrl % x want % x", ctrl, tc.ctrl)
				}
				if closed != tc.closed {
					t.Fatalf("closed=%v", closed)
				}
			}
			if closed {
				m, _, _, closed2, err2 := c.ReadFrames(tc.in, nil, nil)
				if m != 0 || !closed2 || !errors.Is(err2, ErrClosed) {
					t.Fatalf("after close: n=%d err=%v", m, err2)
				}
			}
		})
	}
}

func TestCloseCodeMapping(t *testing.T) {
	want := map[*CloseError]uint16{ErrUnmasked: 1002, ErrTextFrame: 1003, ErrFrameTooLarge: 1009, ErrMessageTooLarge: 1009, ErrBadCloseReason: 1007, ErrBadDeflate: 1007}
	for e, code := range want {
		if e.Code != code {
			t.Errorf("%v code %d want %d", e, e.Code, code)
		}
	}
}

// connect and pingreq are MQTT packets, to show the codec only concatenates.
var (
	mqttConnect = []byte{0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x04, 'c', 'l', 'i', 'd'}
	mqttPingreq = []byte{0xc0, 0x00}
)

func TestSeveralPacketsInOneFrame(t *testing.T) { // [MQTT-6.0.0-2]
	payload := append(append(append([]byte{}, mqttConnect...), mqttPingreq...), mqttPingreq...)
	c := testConn(Config{})
	n, mqtt, _, _, err := c.ReadFrames(clientFrame(0x82, payload), nil, nil)
	if err != nil || n != 6+len(payload) || !bytes.Equal(mqtt, payload) {
		t.Fatalf("n=%d err=%v mqtt % x", n, err, mqtt)
	}
}

func TestPacketAcrossThreeFrames(t *testing.T) { // [MQTT-6.0.0-2]
	var in []byte
	in = append(in, clientFrameKey(0x02, mqttConnect[:5], [4]byte{1, 2, 3, 4})...)   // binary, no FIN
	in = append(in, clientFrameKey(0x89, []byte("p"), [4]byte{9, 9, 9, 9})...)       // ping between fragments [RFC6455-5.4]
	in = append(in, clientFrameKey(0x00, mqttConnect[5:11], [4]byte{5, 6, 7, 8})...) // continuation, no FIN
	in = append(in, clientFrameKey(0x80, mqttConnect[11:], [4]byte{0xa, 0xb, 0xc, 0xd})...)
	in = append(in, clientFrame(0x82, mqttPingreq)...) // a new message after FIN
	c := testConn(Config{})
	n, mqtt, ctrl, closed, err := c.ReadFrames(in, []byte("keep"), nil)
	want := append(append([]byte("keep"), mqttConnect...), mqttPingreq...)
	if err != nil || closed || n != len(in) || !bytes.Equal(mqtt, want) {
		t.Fatalf("n=%d err=%v mqtt % x", n, err, mqtt)
	}
	if !bytes.Equal(ctrl, []byte{0x8a, 0x01, 'p'}) {
		t.Fatalf("ctrl % x", ctrl)
	}
}

func TestExtendedLengths(t *testing.T) {
	for _, size := range []int{125, 126, 300, 0xffff, 0x10000, 70000} {
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		f := clientFrame(0x82, payload)
		wantHdr := 2
		if size > 0xffff {
			wantHdr = 10 // 64-bit length
		} else if size > 125 {
			wantHdr = 4 // 16-bit length
		}
		if len(f) != wantHdr+4+size {
			t.Fatalf("size %d: frame len %d", size, len(f))
		}
		c := testConn(Config{})
		n, mqtt, _, _, err := c.ReadFrames(f, nil, nil)
		if err != nil || n != len(f) || !bytes.Equal(mqtt, payload) {
			t.Fatalf("size %d: n=%d err=%v", size, n, err)
		}
	}
}

// stream is a mix of every frame kind the reader accepts, ending in close.
func testStream() (in []byte, mqtt []byte, ctrl []byte) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 20) // 320 bytes: 16-bit length
	in = append(in, clientFrame(0x82, mqttConnect)...)
	in = append(in, clientFrameKey(0x89, []byte("hi"), [4]byte{1, 2, 3, 4})...)
	in = append(in, clientFrameKey(0x02, big[:100], [4]byte{0xde, 0xad, 0xbe, 0xef})...)
	in = append(in, clientFrameKey(0x8a, nil, [4]byte{1, 1, 1, 1})...)
	in = append(in, clientFrameKey(0x00, big[100:], [4]byte{0xca, 0xfe, 0xba, 0xbe})...)
	in = append(in, clientFrameKey(0x80, mqttPingreq, [4]byte{5, 5, 5, 5})...)
	in = append(in, clientFrame(0x82, nil)...)
	in = append(in, clientFrame(0x88, []byte{0x03, 0xe8, 'o', 'k'})...)
	mqtt = append(append(append([]byte{}, mqttConnect...), big...), mqttPingreq...)
	ctrl = []byte{0x8a, 0x02, 'h', 'i', 0x88, 0x02, 0x03, 0xe8}
	return
}

func TestEveryFrameSplitAtEveryOffset(t *testing.T) {
	in, wantMQTT, wantCtrl := testStream()
	check := func(t *testing.T, f *feeder, what string) {
		t.Helper()
		if f.err != nil || !f.closed || !bytes.Equal(f.mqtt, wantMQTT) || !bytes.Equal(f.ctrl, wantCtrl) || len(f.pending) != 0 {
			t.Fatalf("%s: err=%v closed=%v pending=%d\nmqtt % x\nctrl % x", what, f.err, f.closed, len(f.pending), f.mqtt, f.ctrl)
		}
	}
	for i := 0; i <= len(in); i++ {
		f := &feeder{c: testConn(Config{})}
		f.feed(in[:i])
		f.feed(in[i:])
		check(t, f, "split")
	}
	for i := 0; i <= len(in); i++ {
		for _, j := range []int{i + 1, i + 7, i + 130} {
			if j > len(in) {
				continue
			}
			f := &feeder{c: testConn(Config{})}
			f.feed(in[:i])
			f.feed(in[i:j])
			f.feed(in[j:])
			check(t, f, "three-way split")
		}
	}
	f := &feeder{c: testConn(Config{})}
	for i := range in {
		f.feed(in[i : i+1])
	}
	check(t, f, "byte by byte")
}

func TestPartialLeftUnconsumed(t *testing.T) {
	c := testConn(Config{})
	ping := clientFrame(0x89, []byte("abc"))
	for i := 0; i < len(ping); i++ {
		if n, _, ctrl, _, err := c.ReadFrames(ping[:i], nil, nil); n != 0 || err != nil || len(ctrl) != 0 {
			t.Fatalf("partial control frame %d: n=%d err=%v", i, n, err)
		}
	}
	data := clientFrame(0x82, []byte("abcdef"))
	n, mqtt, _, _, err := c.ReadFrames(data[:9], nil, nil) // 2 header + 4 key + 3 payload
	if err != nil || n != 9 || string(mqtt) != "abc" {
		t.Fatalf("data payload must stream: n=%d mqtt=%q err=%v", n, mqtt, err)
	}
	n, mqtt, _, _, err = c.ReadFrames(data[9:], mqtt, nil)
	if err != nil || n != 3 || string(mqtt) != "abcdef" {
		t.Fatalf("rest: n=%d mqtt=%q err=%v", n, mqtt, err)
	}
}

func TestAppendFrameGolden(t *testing.T) {
	c := testConn(Config{})
	if got := c.AppendFrame(nil, []byte("Hello")); !bytes.Equal(got, []byte{
		0x82, 0x05, // FIN | binary, unmasked len 5 [RFC6455-5.1]
		'H', 'e', 'l', 'l', 'o',
	}) {
		t.Fatalf("% x", got)
	}
	p := make([]byte, 256)
	if got := c.AppendFrame(nil, p); !bytes.Equal(got[:4], []byte{0x82, 0x7e, 0x01, 0x00}) || len(got) != 260 {
		t.Fatalf("16-bit: % x", got[:4])
	}
	p = make([]byte, 65536)
	if got := c.AppendFrame(nil, p); !bytes.Equal(got[:10], []byte{0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}) || len(got) != 65546 {
		t.Fatalf("64-bit: % x", got[:10])
	}
	if got := c.AppendFrame([]byte{0xaa}, nil); !bytes.Equal(got, []byte{0xaa, 0x82, 0x00}) {
		t.Fatalf("empty: % x", got)
	}
}

func TestAppendClose(t *testing.T) {
	c := testConn(Config{})
	if got := c.AppendClose(nil, 1000, "bye"); !bytes.Equal(got, []byte{0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e'}) {
		t.Fatalf("% x", got)
	}
	if got := c.AppendClose(nil, 0, "ignored"); !bytes.Equal(got, []byte{0x88, 0x00}) {
		t.Fatalf("% x", got)
	}
	long := string(bytes.Repeat([]byte("é"), 100)) // 200 bytes, 2-byte runes
	got := c.AppendClose(nil, 1001, long)
	if len(got) > 2+125 || got[1] != byte(len(got)-2) || len(got[4:])%2 != 0 {
		t.Fatalf("truncation: len %d hdr %d", len(got), got[1])
	}
	// our own close frames parse back through a reader that accepts them
	r := testConn(Config{})
	_, _, ctrl, closed, err := r.ReadFrames(clientFrame(0x88, got[2:]), nil, nil)
	if err != nil || !closed || closeCode(ctrl) != 1001 {
		t.Fatalf("round trip err=%v code=%d", err, closeCode(ctrl))
	}
}

func TestMaskBytesMatchesNaive(t *testing.T) {
	key := [4]byte{0x11, 0x22, 0x33, 0x44}
	for pos := uint8(0); pos < 4; pos++ {
		for n := 0; n < 40; n++ {
			b := make([]byte, n)
			want := make([]byte, n)
			for i := range b {
				b[i] = byte(i * 31)
				want[i] = b[i] ^ key[(int(pos)+i)&3]
			}
			next := maskBytes(key, pos, b)
			if !bytes.Equal(b, want) || next != uint8((int(pos)+n)&3) {
				t.Fatalf("pos %d n %d", pos, n)
			}
		}
	}
}
