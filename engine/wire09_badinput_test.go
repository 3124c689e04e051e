package engine

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// 09: bad input every broker must survive (DESIGN-NOTES "Bad input every
// broker must survive"). The table sends exact bytes and checks exactly what
// the broker answers before it closes the connection; the tests after it
// cover the classes that need timing, concurrency or a second client.

// Valid CONNECT packets the cases start from, client id "c".
var (
	connect311  = []byte{0x10, 0x0d, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x1e, 0x00, 0x01, 'c'}
	connect5raw = []byte{0x10, 0x0e, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x1e, 0x00, 0x00, 0x01, 'c'}
)

// cat joins byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// connectID returns a CONNECT at level ver whose client id bytes are id.
func connectID(ver byte, id []byte) []byte {
	body := []byte{0x00, 0x04, 'M', 'Q', 'T', 'T', ver, 0x02, 0x00, 0x1e}
	if ver == codec.V5 {
		body = append(body, 0x00)
	}
	body = append(body, 0x00, byte(len(id)))
	body = append(body, id...)
	return cat([]byte{0x10, byte(len(body))}, body)
}

var connackV5 = func(code byte) []byte { return []byte{0x20, 0x03, 0x00, code, 0x00} }

type badInput struct {
	name string // what is wrong, and the statement id
	ver  byte   // 0: the bytes open a fresh connection; 4 or 5: sent after an accepted CONNECT at that level
	in   []byte
	want []byte // exactly what the broker sends before it closes; nil: it closes without a word
}

var badInputs = []badInput{
	// Before CONNECT.
	{"first packet PINGREQ [MQTT-3.1.0-1]", 0, []byte{0xc0, 0x00}, nil},
	{"first packet PUBLISH [MQTT-3.1.0-1]", 0, []byte{0x30, 0x03, 0x00, 0x01, 'a'}, nil},
	{"first packet SUBSCRIBE [MQTT-3.1.0-1]", 0, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00}, nil},
	{"first packet AUTH [MQTT-3.1.0-1]", 0, []byte{0xf0, 0x00}, nil},
	{"first packet CONNACK [MQTT-3.1.0-1]", 0, []byte{0x20, 0x02, 0x00, 0x00}, nil},
	{"huge declared length before CONNECT [MQTT-5.0 §3.2.2.3.6]", 0, []byte{0x10, 0xff, 0xff, 0xff, 0x7f}, nil},
	{"5-byte remaining length [MQTT-1.5.5-1]", 0, []byte{0x10, 0x80, 0x80, 0x80, 0x80, 0x01}, nil},
	{"non-minimal remaining length [MQTT-1.5.5-1]", 0, cat([]byte{0x10, 0x8d, 0x00}, connect311[2:]), nil},
	{"reserved type 0 [MQTT-2.1.3-1]", 0, []byte{0x00, 0x00}, nil},
	{"CONNECT fixed header flags 0001 [MQTT-2.1.3-1]", 0, cat([]byte{0x11}, connect311[1:]), nil},
	{"CONNECT reserved flag bit [MQTT-3.1.2-3]", 0, cat(connect311[:9], []byte{0x03}, connect311[10:]), nil},
	{"v5 CONNECT reserved flag bit: CONNACK 0x81 [MQTT-3.1.2-3]", 0, cat(connect5raw[:9], []byte{0x03}, connect5raw[10:]), connackV5(0x81)},
	{"protocol name MQTX [MQTT-3.1.2-1]", 0, cat(connect311[:7], []byte{'X'}, connect311[8:]), nil},
	{"protocol level 6: CONNACK 0x01 [MQTT-3.1.2-2]", 0, cat(connect311[:8], []byte{0x06}, connect311[9:]), []byte{0x20, 0x02, 0x00, 0x01}},
	{"truncated client id [MQTT-1.5.3-1]", 0, cat(connect311[:12], []byte{0x00, 0x05, 'c'}), nil},
	{"truncated protocol name [MQTT-1.5.3-1]", 0, []byte{0x10, 0x03, 0x00, 0x04, 'M'}, nil},
	{"v5 truncated properties: CONNACK 0x81 [MQTT-5.0 §2.2.2.1]", 0, cat(connect5raw[:12], []byte{0x05, 0x00, 0x01, 'c'}), connackV5(0x81)},
	{"password flag without user name in 3.1.1 [MQTT-3.1.2-22]", 0, cat(connect311[:9], []byte{0x42}, connect311[10:]), nil},
	{"will QoS 3 [MQTT-3.1.2-14]", 0, cat(connect311[:9], []byte{0x1e}, connect311[10:]), nil},
	{"will QoS without will flag [MQTT-3.1.2-13]", 0, cat(connect311[:9], []byte{0x0a}, connect311[10:]), nil},
	{"will retain without will flag [MQTT-3.1.2-15]", 0, cat(connect311[:9], []byte{0x22}, connect311[10:]), nil},
	{"client id invalid UTF-8: CONNACK 0x02 [MQTT-1.5.3-1]", 0, connectID(codec.V311, []byte{'a', 0xff}), []byte{0x20, 0x02, 0x00, 0x02}},
	{"client id with U+0000: CONNACK 0x02 [MQTT-1.5.3-2]", 0, connectID(codec.V311, []byte{'a', 0x00}), []byte{0x20, 0x02, 0x00, 0x02}},
	{"client id with surrogate U+D800: CONNACK 0x02 [MQTT-1.5.3-1]", 0, connectID(codec.V311, []byte{0xed, 0xa0, 0x80}), []byte{0x20, 0x02, 0x00, 0x02}},
	{"client id overlong '/': CONNACK 0x02 [MQTT-1.5.3-1]", 0, connectID(codec.V311, []byte{0xc0, 0xaf}), []byte{0x20, 0x02, 0x00, 0x02}},
	{"v5 client id invalid UTF-8: CONNACK 0x85 [MQTT-1.5.4-1]", 0, connectID(codec.V5, []byte{0xff}), connackV5(0x85)},
	{"v5 client id with U+0000: CONNACK 0x85 [MQTT-1.5.4-2]", 0, connectID(codec.V5, []byte{0x00}), connackV5(0x85)},
	{"v5 duplicated Session Expiry: CONNACK 0x82 [MQTT-5.0 §2.2.2.2]", 0,
		[]byte{0x10, 0x18, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x1e, 0x0a, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2, 0x00, 0x01, 'c'}, connackV5(0x82)},
	{"v5 Receive Maximum 0: CONNACK 0x82 [MQTT-5.0 §3.1.2.11.3]", 0,
		[]byte{0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x1e, 0x03, 0x21, 0x00, 0x00, 0x00, 0x01, 'c'}, connackV5(0x82)},
	{"v5 unknown property: CONNACK 0x81 [MQTT-5.0 §2.2.2.2]", 0,
		[]byte{0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x1e, 0x02, 0x7f, 0x00, 0x00, 0x01, 'c'}, connackV5(0x81)},

	// After CONNECT, 3.1.1: the connection is closed, nothing is sent.
	{"second CONNECT [MQTT-3.1.0-2]", 4, connect311, nil},
	{"5-byte remaining length [MQTT-1.5.5-1]", 4, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, nil},
	{"SUBSCRIBE flags 0000 [MQTT-3.8.1-1]", 4, []byte{0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00}, nil},
	{"PUBREL flags 0000 [MQTT-3.6.1-1]", 4, []byte{0x60, 0x02, 0x00, 0x01}, nil},
	{"PUBLISH QoS 3 [MQTT-3.3.1-4]", 4, []byte{0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01}, nil},
	{"DUP on QoS 0 [MQTT-3.3.1-2]", 4, []byte{0x38, 0x03, 0x00, 0x01, 'a'}, nil},
	{"PUBLISH packet id 0 [MQTT-2.3.1-1]", 4, []byte{0x32, 0x05, 0x00, 0x01, 'a', 0x00, 0x00}, nil},
	{"SUBSCRIBE packet id 0 [MQTT-2.3.1-1]", 4, []byte{0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 'a', 0x00}, nil},
	{"UNSUBSCRIBE packet id 0 [MQTT-2.3.1-1]", 4, []byte{0xa2, 0x05, 0x00, 0x00, 0x00, 0x01, 'a'}, nil},
	{"PUBLISH topic with '+' [MQTT-3.3.2-2]", 4, []byte{0x30, 0x05, 0x00, 0x03, 'a', '/', '+'}, nil},
	{"PUBLISH topic with '#' [MQTT-3.3.2-2]", 4, []byte{0x30, 0x05, 0x00, 0x03, 'a', '/', '#'}, nil},
	{"PUBLISH empty topic [MQTT-4.7.3-1]", 4, []byte{0x30, 0x03, 0x00, 0x00, 'x'}, nil},
	{"PUBLISH topic invalid UTF-8 [MQTT-1.5.3-1]", 4, []byte{0x30, 0x03, 0x00, 0x01, 0xff}, nil},
	{"PUBLISH topic with U+0000 [MQTT-1.5.3-2]", 4, []byte{0x30, 0x04, 0x00, 0x02, 'a', 0x00}, nil},
	{"PUBLISH topic with surrogate [MQTT-1.5.3-1]", 4, []byte{0x30, 0x05, 0x00, 0x03, 0xed, 0xbf, 0xbf}, nil},
	{"SUBSCRIBE '#' not last [MQTT-4.7.1-2]", 4, []byte{0x82, 0x0a, 0x00, 0x01, 0x00, 0x05, 'a', '/', '#', '/', 'b', 0x00}, nil},
	{"SUBSCRIBE '+' inside a level [MQTT-4.7.1-3]", 4, []byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x02, 'a', '+', 0x00}, nil},
	{"SUBSCRIBE filter invalid UTF-8 [MQTT-1.5.3-1]", 4, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0xfe, 0x00}, nil},
	{"empty SUBSCRIBE [MQTT-3.8.3-3]", 4, []byte{0x82, 0x02, 0x00, 0x01}, nil},
	{"empty UNSUBSCRIBE [MQTT-3.10.3-2]", 4, []byte{0xa2, 0x02, 0x00, 0x01}, nil},
	{"SUBSCRIBE QoS 3 [MQTT-3.8.3-4]", 4, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x03}, nil},
	{"truncated SUBSCRIBE filter [MQTT-1.5.3-1]", 4, []byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x05, 'a'}, nil},
	{"truncated PUBLISH topic [MQTT-1.5.3-1]", 4, []byte{0x30, 0x03, 0x00, 0x05, 'a'}, nil},
	{"truncated PUBACK [MQTT-2.3.1-1]", 4, []byte{0x40, 0x01, 0x00}, nil},
	{"PINGREQ with a body [MQTT-2.1.3-1]", 4, []byte{0xc0, 0x01, 0x00}, nil},
	{"AUTH in 3.1.1 (reserved type) [MQTT-2.2.1-1]", 4, []byte{0xf0, 0x00}, nil},
	{"server-only CONNACK from client [MQTT-3.1.0-2]", 4, []byte{0x20, 0x02, 0x00, 0x00}, nil},

	// After CONNECT, v5: DISCONNECT with the reason code, then close [MQTT-4.13.1-1].
	{"second CONNECT: DISCONNECT 0x82 [MQTT-3.1.0-2]", 5, connect5raw, disconnectV5(0x82)},
	{"5-byte remaining length: DISCONNECT 0x81 [MQTT-1.5.5-1]", 5, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, disconnectV5(0x81)},
	{"non-minimal remaining length: DISCONNECT 0x81 [MQTT-1.5.5-1]", 5, []byte{0x30, 0x84, 0x00, 0x00, 0x01, 'a', 0x00}, disconnectV5(0x81)},
	{"huge declared length: DISCONNECT 0x95 [MQTT-5.0 §3.2.2.3.6]", 5, []byte{0x30, 0xff, 0xff, 0xff, 0x7f}, disconnectV5(0x95)},
	{"SUBSCRIBE flags 0000: DISCONNECT 0x81 [MQTT-3.8.1-1]", 5, []byte{0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x00}, disconnectV5(0x81)},
	{"UNSUBSCRIBE flags 0000: DISCONNECT 0x81 [MQTT-3.10.1-1]", 5, []byte{0xa0, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 'a'}, disconnectV5(0x81)},
	{"PUBLISH QoS 3: DISCONNECT 0x81 [MQTT-3.3.1-4]", 5, []byte{0x36, 0x06, 0x00, 0x01, 'a', 0x00, 0x01, 0x00}, disconnectV5(0x81)},
	{"DUP on QoS 0: DISCONNECT 0x82 [MQTT-3.3.1-2]", 5, []byte{0x38, 0x04, 0x00, 0x01, 'a', 0x00}, disconnectV5(0x82)},
	{"PUBLISH packet id 0: DISCONNECT 0x82 [MQTT-2.2.1-3]", 5, []byte{0x32, 0x06, 0x00, 0x01, 'a', 0x00, 0x00, 0x00}, disconnectV5(0x82)},
	{"PUBREL packet id 0: DISCONNECT 0x82 [MQTT-2.2.1-3]", 5, []byte{0x62, 0x02, 0x00, 0x00}, disconnectV5(0x82)},
	{"PUBLISH topic with '+': DISCONNECT 0x90 [MQTT-3.3.2-2]", 5, []byte{0x30, 0x06, 0x00, 0x03, 'a', '/', '+', 0x00}, disconnectV5(0x90)},
	{"PUBLISH topic '#': DISCONNECT 0x90 [MQTT-3.3.2-2]", 5, []byte{0x30, 0x04, 0x00, 0x01, '#', 0x00}, disconnectV5(0x90)},
	{"PUBLISH empty topic, no alias: DISCONNECT 0x82 [MQTT-3.3.2-1]", 5, []byte{0x30, 0x04, 0x00, 0x00, 0x00, 'x'}, disconnectV5(0x82)},
	{"PUBLISH topic invalid UTF-8: DISCONNECT 0x81 [MQTT-1.5.4-1]", 5, []byte{0x30, 0x04, 0x00, 0x01, 0xff, 0x00}, disconnectV5(0x81)},
	{"PUBLISH topic with U+0000: DISCONNECT 0x81 [MQTT-1.5.4-2]", 5, []byte{0x30, 0x05, 0x00, 0x02, 'a', 0x00, 0x00}, disconnectV5(0x81)},
	{"PUBLISH topic with surrogate: DISCONNECT 0x81 [MQTT-1.5.4-1]", 5, []byte{0x30, 0x06, 0x00, 0x03, 0xed, 0xa0, 0x80, 0x00}, disconnectV5(0x81)},
	{"PUBLISH topic overlong encoding: DISCONNECT 0x81 [MQTT-1.5.4-1]", 5, []byte{0x30, 0x05, 0x00, 0x02, 0xc0, 0x80, 0x00}, disconnectV5(0x81)},
	{"SUBSCRIBE '#' not last: DISCONNECT 0x8F [MQTT-4.7.1-2]", 5, []byte{0x82, 0x09, 0x00, 0x01, 0x00, 0x00, 0x03, '#', '/', 'a', 0x00}, disconnectV5(0x8f)},
	{"SUBSCRIBE filter with U+0000: DISCONNECT 0x81 [MQTT-1.5.4-2]", 5, []byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00}, disconnectV5(0x81)},
	{"empty SUBSCRIBE: DISCONNECT 0x82 [MQTT-3.8.3-2]", 5, []byte{0x82, 0x03, 0x00, 0x01, 0x00}, disconnectV5(0x82)},
	{"empty UNSUBSCRIBE: DISCONNECT 0x82 [MQTT-3.10.3-2]", 5, []byte{0xa2, 0x03, 0x00, 0x01, 0x00}, disconnectV5(0x82)},
	{"truncated SUBSCRIBE filter: DISCONNECT 0x81 [MQTT-5.0 §2.1.4]", 5, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x05, 'a'}, disconnectV5(0x81)},
	{"truncated property length: DISCONNECT 0x81 [MQTT-5.0 §2.2.2.1]", 5, []byte{0x30, 0x05, 0x00, 0x01, 'a', 0x04, 0x02}, disconnectV5(0x81)},
	{"duplicated Message Expiry: DISCONNECT 0x82 [MQTT-5.0 §2.2.2.2]", 5,
		[]byte{0x30, 0x0f, 0x00, 0x01, 'a', 0x0a, 0x02, 0, 0, 0, 5, 0x02, 0, 0, 0, 5, 'x'}, disconnectV5(0x82)},
	{"duplicated Content Type: DISCONNECT 0x82 [MQTT-5.0 §2.2.2.2]", 5,
		[]byte{0x30, 0x0d, 0x00, 0x01, 'a', 0x08, 0x03, 0x00, 0x01, 't', 0x03, 0x00, 0x01, 'u', 'x'}, disconnectV5(0x82)},
	{"two Subscription Identifiers in SUBSCRIBE: DISCONNECT 0x82 [MQTT-5.0 §2.2.2.2]", 5,
		[]byte{0x82, 0x0b, 0x00, 0x01, 0x04, 0x0b, 0x01, 0x0b, 0x02, 0x00, 0x01, 'a', 0x00}, disconnectV5(0x82)},
	{"Subscription Identifier 0: DISCONNECT 0x82 [MQTT-5.0 §3.8.2.1.2]", 5,
		[]byte{0x82, 0x09, 0x00, 0x01, 0x02, 0x0b, 0x00, 0x00, 0x01, 'a', 0x00}, disconnectV5(0x82)},
	{"Subscription Identifier in a client PUBLISH: DISCONNECT 0x82 [MQTT-3.3.4-6]", 5, []byte{0x30, 0x06, 0x00, 0x01, 'a', 0x02, 0x0b, 0x01}, disconnectV5(0x82)},
	{"unknown property: DISCONNECT 0x81 [MQTT-5.0 §2.2.2.2]", 5, []byte{0x30, 0x06, 0x00, 0x01, 'a', 0x02, 0x7f, 0x00}, disconnectV5(0x81)},
	{"Response Topic with wildcard: DISCONNECT 0x82 [MQTT-3.3.2-14]", 5, []byte{0x30, 0x08, 0x00, 0x01, 'a', 0x04, 0x08, 0x00, 0x01, '#'}, disconnectV5(0x82)},
	{"topic alias 0: DISCONNECT 0x94 [MQTT-3.3.2-8]", 5, []byte{0x30, 0x07, 0x00, 0x01, 'a', 0x03, 0x23, 0x00, 0x00}, disconnectV5(0x94)},
	{"topic alias 1025 > maximum 1024: DISCONNECT 0x94 [MQTT-3.3.2-9]", 5, []byte{0x30, 0x07, 0x00, 0x01, 'a', 0x03, 0x23, 0x04, 0x01}, disconnectV5(0x94)},
	{"AUTH without authentication method: DISCONNECT 0x82 [MQTT-4.12.0-1]", 5, []byte{0xf0, 0x00}, disconnectV5(0x82)},
	{"server-only SUBACK from client: DISCONNECT 0x82 [MQTT-3.1.0-2]", 5, []byte{0x90, 0x04, 0x00, 0x01, 0x00, 0x00}, disconnectV5(0x82)},
	{"PINGREQ with a body: DISCONNECT 0x81 [MQTT-5.0 §3.12]", 5, []byte{0xc0, 0x01, 0x00}, disconnectV5(0x81)},
}

func TestBadInput(t *testing.T) {
	b := testBroker(t, nil)
	addr := b.Addr("tcp")
	for _, tc := range badInputs {
		name := tc.name
		if tc.ver != 0 {
			name = fmt.Sprintf("v%d/%s", tc.ver, tc.name)
		}
		t.Run(name, func(t *testing.T) {
			w := dial(t, addr)
			switch tc.ver {
			case codec.V311:
				w.send(connect311)
				w.expectRaw([]byte{0x20, 0x02, 0x00, 0x00})
			case codec.V5:
				w.ver = codec.V5
				w.send(connect5raw)
				w.recv(codec.CONNACK)
			}
			w.send(tc.in)
			w.expectCloseWith(tc.want)
		})
	}
	// The broker is unharmed.
	s := connectWire(t, addr, "after", codec.V311, true)
	subscribe(t, s, 1, "ok", 1)
	p := connectWire(t, addr, "after-pub", codec.V311, true)
	publish(t, p, 1, "ok", "fine", 1, false)
	if m := s.expect(codec.PUBLISH); string(m.Payload) != "fine" {
		t.Fatalf("after bad input: %+v", m)
	}
}

// A CONNECT-time error is answered by the protocol level of that CONNECT,
// never by the level of whatever packet the same event loop decoded last.
func TestBadInputBeforeConnectNoStaleVersion_MQTT_3_1_0_1(t *testing.T) {
	b := testBroker(t, nil)
	var v5s []*wire
	for i := 0; i < 4; i++ { // on every event loop
		w, _ := connect5(t, b.Addr("tcp"), fmt.Sprint("v5-", i), true, nil)
		v5s = append(v5s, w)
	}
	for i := 0; i < 8; i++ {
		for _, w := range v5s {
			w.sync() // the last packet each loop decoded is a v5 one
		}
		raw := dial(t, b.Addr("tcp"))
		raw.send([]byte{0x10, 0xff, 0xff, 0xff, 0x7f})
		raw.expectCloseWith(nil)
	}
}

func TestHugeDeclaredLengthClosesQuickly(t *testing.T) {
	b := testBroker(t, nil)
	for _, hdr := range [][]byte{
		{0x10, 0xff, 0xff, 0xff, 0x7f}, // 256 MiB CONNECT
		{0x30, 0xff, 0xff, 0xff, 0x7f}, // 256 MiB PUBLISH before CONNECT
		{0x10, 0x80, 0x80, 0xc0, 0x00}, // 1 GiB-ish, non-minimal and oversized
	} {
		w := dial(t, b.Addr("tcp"))
		start := time.Now()
		w.send(hdr)
		w.expectCloseWith(nil)
		if el := time.Since(start); el > 500*time.Millisecond {
			t.Fatalf("% x: closed after %v; the broker waited for the declared body", hdr, el)
		}
	}
}

func TestIdleSocketsClosedByConnectTimeout(t *testing.T) {
	t.Parallel()
	b := testBroker(t, func(c *config.Config) { c.MQTT.ConnectTimeout = config.Duration(time.Second) })
	var ws []*wire
	for i := 0; i < 50; i++ {
		w := dial(t, b.Addr("tcp"))
		if i%2 == 1 {
			w.send([]byte{0x10, 0xe8, 0x07}) // a CONNECT header declaring 1000 bytes that never come
		}
		ws = append(ws, w)
	}
	start := time.Now()
	for _, w := range ws {
		if got := w.readUntilClosed(4 * time.Second); len(got) != 0 {
			t.Fatalf("idle socket got % x", got)
		}
	}
	if el := time.Since(start); el > 3500*time.Millisecond {
		t.Fatalf("idle sockets closed after %v with connect_timeout 1s", el)
	}
}

func TestTrickleConnectClosedByConnectTimeout(t *testing.T) {
	t.Parallel()
	b := testBroker(t, func(c *config.Config) { c.MQTT.ConnectTimeout = config.Duration(time.Second) })
	w := dial(t, b.Addr("tcp"))
	done := make(chan struct{})
	go func() { // one byte every 300 ms: the CONNECT would be complete only after 4.5 s
		defer close(done)
		for _, c := range connect311 {
			if _, err := w.conn.Write([]byte{c}); err != nil {
				return
			}
			time.Sleep(300 * time.Millisecond)
		}
	}()
	if got := w.readUntilClosed(4 * time.Second); len(got) != 0 {
		t.Fatalf("trickled CONNECT answered % x", got)
	}
	_ = w.conn.Close()
	<-done
}

func TestTakeoverStorm_MQTT_3_1_4_3(t *testing.T) {
	b := testBroker(t, nil)
	addr := b.Addr("tcp")
	const workers, each = 5, 10
	var wg sync.WaitGroup
	conns := make(chan net.Conn, workers*each)
	errs := make(chan error, workers*each)
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					errs <- err
					return
				}
				conns <- c
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write(connectID(codec.V5, []byte("storm"))); err != nil {
					errs <- err
					return
				}
				ack := make([]byte, 4)
				if _, err := io.ReadFull(c, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
					errs <- fmt.Errorf("CONNACK % x: %v", ack, err)
					return
				}
				if ack[1] > 2 { // CONNACK properties follow
					if _, err := io.ReadFull(c, make([]byte, int(ack[1])-2)); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(conns)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	last, _ := connect5(t, addr, "storm", true, nil)
	// Every storm connection is taken over and closed; only the last stays.
	for c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf, err := readAll(c)
		_ = c.Close()
		if err != nil {
			t.Fatalf("storm connection not closed: %v", err)
		}
		if !bytes.HasSuffix(buf, disconnectV5(0x8e)) {
			t.Fatalf("storm connection got % x, want DISCONNECT 0x8E last", buf)
		}
	}
	subscribeOpts(t, last, 1, 0, sub("storm", 0))
	p := connectWire(t, addr, "p", codec.V311, true)
	p.sendPacket(&codec.Packet{Type: codec.PUBLISH, Topic: []byte("storm"), Payload: []byte("won")})
	if m := last.recv(codec.PUBLISH); string(m.Payload) != "won" {
		t.Fatalf("last connection got %+v", m)
	}
}

// readAll reads until EOF or a reset; a timeout is returned as an error.
func readAll(c net.Conn) ([]byte, error) {
	var out []byte
	tmp := make([]byte, 4096)
	for {
		n, err := c.Read(tmp)
		out = append(out, tmp[:n]...)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return out, err
			}
			return out, nil
		}
	}
}

func TestThousandsOfUserProperties(t *testing.T) {
	userProps := func(n int) codec.Properties {
		p := codec.Properties{Present: 1 << codec.PropUser}
		for i := 0; i < n; i++ {
			p.User = append(p.User, codec.UserProperty{Key: []byte("k"), Value: []byte(fmt.Sprint(i))})
		}
		return p
	}
	t.Run("within the maximum packet size: delivered in order [MQTT-3.3.2-18]", func(t *testing.T) {
		b := testBroker(t, nil)
		s, _ := connect5(t, b.Addr("tcp"), "s", true, nil)
		subscribeOpts(t, s, 1, 0, sub("up", 1))
		p, _ := connect5(t, b.Addr("tcp"), "p", true, nil)
		p.sendPacket(publishV5("up", "x", 1, 1, userProps(5000)))
		p.recv(codec.PUBACK)
		m := s.recv(codec.PUBLISH)
		if len(m.Props.User) != 5000 {
			t.Fatalf("%d user properties delivered, want 5000", len(m.Props.User))
		}
		for i, u := range m.Props.User {
			if string(u.Value) != fmt.Sprint(i) {
				t.Fatalf("user property %d is %q", i, u.Value)
			}
		}
	})
	t.Run("above the maximum packet size: DISCONNECT 0x95 [MQTT-5.0 §3.2.2.3.6]", func(t *testing.T) {
		b := testBroker(t, func(c *config.Config) { c.MQTT.MaxPacketSize = 16 << 10 })
		p, _ := connect5(t, b.Addr("tcp"), "p", true, nil)
		p.sendPacket(publishV5("up", "x", 0, 0, userProps(5000)))
		p.expectCloseWith(disconnectV5(0x95))
	})
	t.Run("in CONNECT: accepted", func(t *testing.T) {
		b := testBroker(t, nil)
		connect5(t, b.Addr("tcp"), "c", true, func(p *codec.Packet) { p.Props = userProps(3000) })
	})
}

func TestDeepTopics65kLevels(t *testing.T) {
	b := testBroker(t, nil)
	all, _ := connect5(t, b.Addr("tcp"), "all", true, nil)
	subscribeOpts(t, all, 1, 0, sub("#", 0))
	const n = 30000
	deepFilter := strings.Repeat("+/", n-1) + "+"
	plus, _ := connect5(t, b.Addr("tcp"), "plus", true, nil)
	if ack := subscribeOpts(t, plus, 1, 0, sub(deepFilter, 0)); ack.ReasonCodes[0] != 0 {
		t.Fatalf("SUBACK %#x for a %d-level filter", ack.ReasonCodes[0], n)
	}
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	deep := strings.Repeat("a/", n-1) + "a"
	publish(t, p, 1, deep, "deep", 1, true)
	empty := strings.Repeat("/", 65534) // 65535 empty levels: the longest topic there is
	publish(t, p, 2, empty, "slashes", 1, true)
	for _, w := range []*wire{all, plus} {
		if m := w.recv(codec.PUBLISH); string(m.Topic) != deep {
			t.Fatalf("deep topic delivered as %d bytes", len(m.Topic))
		}
	}
	if m := all.recv(codec.PUBLISH); string(m.Payload) != "slashes" {
		t.Fatalf("65535-level topic: %q", m.Payload)
	}
	plus.sync() // not the same number of levels: not for the '+' filter
	// Retained lookups walk the same depth.
	late, _ := connect5(t, b.Addr("tcp"), "late", true, nil)
	subscribeOpts(t, late, 1, 0, sub(deepFilter, 0))
	if m := late.recv(codec.PUBLISH); !m.Retain || string(m.Payload) != "deep" {
		t.Fatalf("retained deep message %q", m.Payload)
	}
	late.sync()
	subscribeOpts(t, late, 2, 0, sub(strings.Repeat("/", 65533)+"#", 0))
	if m := late.recv(codec.PUBLISH); string(m.Payload) != "slashes" {
		t.Fatalf("retained 65535-level message %q", m.Payload)
	}
}

func TestHashAndPlusInClientIDNotWildcardsInACL(t *testing.T) {
	dir := t.TempDir()
	acl := filepath.Join(dir, "acl")
	if err := os.WriteFile(acl, []byte("pattern readwrite dev/%c/#\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := testBroker(t, func(c *config.Config) { c.Auth.ACLFile = acl })
	good := connectWire(t, b.Addr("tcp"), "good", codec.V311, true)
	subscribe(t, good, 1, "dev/good/#", 1)
	for _, id := range []string{"#", "+", "a/b", "+/#"} {
		t.Run(id, func(t *testing.T) {
			w := connectWire(t, b.Addr("tcp"), id, codec.V311, true) // a legal client id [MQTT-3.1.3-5]
			w.sendPacket(&codec.Packet{Type: codec.SUBSCRIBE, PacketID: 1, Subscriptions: []codec.Subscription{
				sub("dev/#", 0), sub("dev/+/x", 0), sub("dev/good/x", 0),
			}})
			if ack := w.expect(codec.SUBACK); !bytes.Equal(ack.ReasonCodes, []byte{0x80, 0x80, 0x80}) {
				t.Fatalf("client id %q: SUBACK %x, want all refused", id, ack.ReasonCodes)
			}
			publish(t, w, 1, "dev/good/x", "spoof", 1, false) // acknowledged, dropped
			good.expectNothing(100 * time.Millisecond)
		})
	}
	t.Run("v5 client id '+': PUBACK 0x87", func(t *testing.T) {
		w, _ := connect5(t, b.Addr("tcp"), "+", true, nil)
		w.send([]byte{0x32, 0x0f, 0x00, 0x0a, 'd', 'e', 'v', '/', 'g', 'o', 'o', 'd', '/', 'x', 0x00, 0x01, 0x00})
		w.expectRaw([]byte{0x40, 0x03, 0x00, 0x01, 0x87})
		good.expectNothing(100 * time.Millisecond)
	})
}

func TestPubrecForQoS1Message(t *testing.T) {
	for _, ver := range []byte{codec.V311, codec.V5} {
		t.Run(fmt.Sprintf("v%d [MQTT-4.3.2-1]", ver), func(t *testing.T) {
			b := testBroker(t, nil)
			s := connectWire(t, b.Addr("tcp"), "s", ver, true)
			subscribeOpts(t, s, 1, 0, sub("q1", 1))
			p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
			publish(t, p, 1, "q1", "m", 1, false)
			m := s.recv(codec.PUBLISH)
			s.sendPacket(&codec.Packet{Type: codec.PUBREC, PacketID: m.PacketID})
			var want []byte
			if ver == codec.V5 {
				want = disconnectV5(0x82)
			}
			s.expectCloseWith(want)
		})
	}
	t.Run("PUBACK for a QoS 2 message: DISCONNECT 0x82 [MQTT-4.3.3-1]", func(t *testing.T) {
		b := testBroker(t, nil)
		s, _ := connect5(t, b.Addr("tcp"), "s", true, nil)
		subscribeOpts(t, s, 1, 0, sub("q2", 2))
		p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
		publish(t, p, 1, "q2", "m", 2, false)
		m := s.recv(codec.PUBLISH)
		s.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: m.PacketID})
		s.expectCloseWith(disconnectV5(0x82))
	})
	t.Run("PUBACK for an unknown id is ignored", func(t *testing.T) {
		b := testBroker(t, nil)
		s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
		s.send([]byte{0x40, 0x02, 0x12, 0x34})
		s.sync()
	})
}

func TestReusedPacketIDs(t *testing.T) {
	b := testBroker(t, nil)
	s := connectWire(t, b.Addr("tcp"), "s", codec.V311, true)
	subscribe(t, s, 1, "id/+", 0)
	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	t.Run("QoS 2 id reused before PUBREL is the same message [MQTT-4.3.3-10]", func(t *testing.T) {
		s.t, p.t = t, t
		p.send([]byte{0x34, 0x09, 0x00, 0x04, 'i', 'd', '/', '2', 0x00, 0x05, 'A'})
		p.expectRaw([]byte{0x50, 0x02, 0x00, 0x05})
		p.send([]byte{0x34, 0x09, 0x00, 0x04, 'i', 'd', '/', '2', 0x00, 0x05, 'B'}) // different message, same id
		p.expectRaw([]byte{0x50, 0x02, 0x00, 0x05})
		p.send([]byte{0x62, 0x02, 0x00, 0x05})
		p.expectRaw([]byte{0x70, 0x02, 0x00, 0x05})
		s.expectRaw([]byte{0x30, 0x07, 0x00, 0x04, 'i', 'd', '/', '2', 'A'})
		s.expectNothing(200 * time.Millisecond)
	})
	t.Run("QoS 2 id reused after PUBCOMP is a new message [MQTT-4.3.3-10]", func(t *testing.T) {
		s.t, p.t = t, t
		publish(t, p, 5, "id/2", "C", 2, false)
		s.expectRaw([]byte{0x30, 0x07, 0x00, 0x04, 'i', 'd', '/', '2', 'C'})
	})
	t.Run("QoS 1 id reused after PUBACK is a new message [MQTT-4.3.2-5]", func(t *testing.T) {
		s.t, p.t = t, t
		p.send([]byte{0x32, 0x09, 0x00, 0x04, 'i', 'd', '/', '1', 0x00, 0x09, 'D'})
		p.send([]byte{0x3a, 0x09, 0x00, 0x04, 'i', 'd', '/', '1', 0x00, 0x09, 'E'}) // even with DUP set
		p.expectRaw([]byte{0x40, 0x02, 0x00, 0x09})
		p.expectRaw([]byte{0x40, 0x02, 0x00, 0x09})
		s.expectRaw([]byte{0x30, 0x07, 0x00, 0x04, 'i', 'd', '/', '1', 'D'})
		s.expectRaw([]byte{0x30, 0x07, 0x00, 0x04, 'i', 'd', '/', '1', 'E'})
	})
	t.Run("PUBREL for an unknown id: PUBCOMP [MQTT-4.3.3-12]", func(t *testing.T) {
		s.t, p.t = t, t
		p.send([]byte{0x62, 0x02, 0x77, 0x77})
		p.expectRaw([]byte{0x70, 0x02, 0x77, 0x77})
	})
}

// A flood of malformed connections must not disturb a healthy subscriber:
// a steady QoS 1 stream arrives complete, in order, on a connection that
// stays up.
func TestGarbageFloodDoesNotDisturbHealthyClients(t *testing.T) {
	b := testBroker(t, nil)
	addr := b.Addr("tcp")
	s := connectWire(t, addr, "healthy-sub", codec.V311, true)
	subscribe(t, s, 1, "steady", 1)
	p := connectWire(t, addr, "healthy-pub", codec.V311, true)

	const total = 400
	recvDone := make(chan error, 1)
	go func() {
		for i := 0; i < total; i++ {
			raw, err := s.readRaw(5 * time.Second)
			if err != nil {
				recvDone <- fmt.Errorf("message %d: %v", i, err)
				return
			}
			var m codec.Packet
			if _, err := codec.DecodeFromServer(raw, codec.V311, 0, &m); err != nil || m.Type != codec.PUBLISH {
				recvDone <- fmt.Errorf("message %d: % x %v", i, raw, err)
				return
			}
			if string(m.Payload) != fmt.Sprint(i) {
				recvDone <- fmt.Errorf("message %d arrived as %q", i, m.Payload)
				return
			}
			ack := []byte{0x40, 0x02, byte(m.PacketID >> 8), byte(m.PacketID)}
			if _, err := s.conn.Write(ack); err != nil {
				recvDone <- err
				return
			}
		}
		recvDone <- nil
	}()

	flood := func(seed uint64, n int, wg *sync.WaitGroup) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b9))
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				continue
			}
			junk := make([]byte, 1+rng.IntN(512))
			for j := range junk {
				junk[j] = byte(rng.Uint32())
			}
			switch i % 3 {
			case 1: // a valid CONNECT then garbage
				junk = cat(connectID(codec.V5, []byte(fmt.Sprintf("junk-%d-%d", seed, i))), junk)
			case 2: // garbage behind a plausible fixed header
				junk = cat([]byte{0x10, 0x7f}, junk)
			}
			_, _ = c.Write(junk)
			_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			_, _ = readAll(c)
			_ = c.Close()
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go flood(uint64(g+1), 75, &wg)
	}
	pubErr := make(chan error, 1)
	go func() {
		for i := 0; i < total; i++ {
			pk := codec.Encode(nil, &codec.Packet{Type: codec.PUBLISH, Version: codec.V311, QoS: 1, PacketID: uint16(i%1000 + 1), Topic: []byte("steady"), Payload: []byte(fmt.Sprint(i))})
			if _, err := p.conn.Write(pk); err != nil {
				pubErr <- err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		pubErr <- nil
	}()
	wg.Wait()
	if err := <-pubErr; err != nil {
		t.Fatal(err)
	}
	if err := <-recvDone; err != nil {
		t.Fatal(err)
	}
	for i := 0; i < total; i++ { // every PUBACK came back: the publisher was never cut off
		p.expect(codec.PUBACK)
	}
	s.sync()
}

// Packets that span reads: a CONNECT trickled byte by byte within the
// connect timeout, and a PUBLISH far larger than the 64 KiB read buffer.
// Both were cut by Discard(0), which gnet treats as "discard everything".
func TestPacketsSpanningReads(t *testing.T) {
	b := testBroker(t, nil)
	w := dial(t, b.Addr("tcp"))
	for _, c := range connect311 {
		w.send([]byte{c})
		time.Sleep(5 * time.Millisecond)
	}
	w.expectRaw([]byte{0x20, 0x02, 0x00, 0x00})
	subscribe(t, w, 1, "big", 1)

	p := connectWire(t, b.Addr("tcp"), "p", codec.V311, true)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16)
	pk := codec.Encode(nil, &codec.Packet{Type: codec.PUBLISH, Version: codec.V311, QoS: 1, PacketID: 7, Topic: []byte("big"), Payload: payload})
	pk = append(pk, 0xc0, 0x00) // and a PINGREQ behind it
	for i := 0; i < len(pk); i += 50000 {
		p.send(pk[i:min(i+50000, len(pk))])
		time.Sleep(2 * time.Millisecond)
	}
	p.expectRaw([]byte{0x40, 0x02, 0x00, 0x07})
	p.expectRaw([]byte{0xd0, 0x00})
	m := w.expect(codec.PUBLISH)
	if !bytes.Equal(m.Payload, payload) {
		t.Fatalf("payload of %d bytes arrived as %d bytes", len(payload), len(m.Payload))
	}
}

// A subscriber that stops reading must not make the broker buffer without
// bound or stall the publisher: QoS 0 beyond max_outbound_bytes is dropped.
func TestSlowQoS0ConsumerBounded(t *testing.T) {
	b := testBroker(t, func(c *config.Config) { c.MQTT.MaxOutboundBytes = 256 << 10 })
	s := connectWire(t, b.Addr("tcp"), "slow", codec.V311, true)
	subscribe(t, s, 1, "flood", 0)
	p := connectWire(t, b.Addr("tcp"), "fast", codec.V311, true)
	payload := make([]byte, 16<<10)
	pk := codec.Encode(nil, &codec.Packet{Type: codec.PUBLISH, Version: codec.V311, Topic: []byte("flood"), Payload: payload})
	const n = 2000 // 32 MiB, far more than the socket buffers hold
	batch := bytes.Repeat(pk, 50)
	for i := 0; i < n/50; i++ {
		p.send(batch)
	}
	start := time.Now()
	p.sync() // the publisher is never held up by the slow subscriber
	if el := time.Since(start); el > time.Second {
		t.Fatalf("publisher answered after %v", el)
	}
	got := 0
	for {
		raw, err := s.readRaw(500 * time.Millisecond)
		if err != nil {
			break
		}
		if raw[0]>>4 == byte(codec.PUBLISH) {
			got++
		}
	}
	if got == 0 || got >= n {
		t.Fatalf("slow subscriber received %d of %d: want some, with the excess dropped", got, n)
	}
	s.sync() // and it is still connected
	t.Logf("slow subscriber received %d of %d", got, n)
}
