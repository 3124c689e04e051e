package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// startRelay runs a relay in-process with two loops and stops it at cleanup.
func startRelay(t *testing.T) string {
	t.Helper()
	addr, _ := startRelayWith(t)
	return addr
}

func startRelayWith(t *testing.T) (string, *Relay) {
	t.Helper()
	addr := freeAddr(t)
	r := NewRelay(2)
	done := make(chan error, 1)
	go func() { done <- r.Serve("tcp://" + addr) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay did not start: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
		<-done
	})
	return addr, r
}

func connectPacket(version byte, id string) []byte {
	name := "MQTT"
	if version == 3 {
		name = "MQIsdp"
	}
	var vh []byte
	vh = binary.BigEndian.AppendUint16(vh, uint16(len(name)))
	vh = append(vh, name...)
	vh = append(vh, version, 0x02, 0, 60)
	if version == 5 {
		vh = append(vh, 0) // no properties
	}
	vh = binary.BigEndian.AppendUint16(vh, uint16(len(id)))
	vh = append(vh, id...)
	return append([]byte{0x10, byte(len(vh))}, vh...)
}

func subscribePacket(version byte, pid uint16, filters ...string) []byte {
	body := binary.BigEndian.AppendUint16(nil, pid)
	if version == 5 {
		body = append(body, 0)
	}
	for _, f := range filters {
		body = binary.BigEndian.AppendUint16(body, uint16(len(f)))
		body = append(body, f...)
		body = append(body, 0)
	}
	return append([]byte{0x82, byte(len(body))}, body...)
}

func publishPacket(topic string, payload []byte) []byte {
	body := binary.BigEndian.AppendUint16(nil, uint16(len(topic)))
	body = append(body, topic...)
	body = append(body, payload...)
	hdr := []byte{0x30}
	n := len(body)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		hdr = append(hdr, d)
		if n == 0 {
			break
		}
	}
	return append(hdr, body...)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func expect(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading %x: %v", want, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

func TestRelayFanoutBytesUnchanged(t *testing.T) {
	addr := startRelay(t)

	subs := make([]net.Conn, 3)
	for i := range subs {
		subs[i] = dial(t, addr)
		if _, err := subs[i].Write(connectPacket(4, fmt.Sprintf("sub%d", i))); err != nil {
			t.Fatal(err)
		}
		expect(t, subs[i], []byte{0x20, 2, 0, 0})
		// One exact topic granted QoS 0, one wildcard refused.
		if _, err := subs[i].Write(subscribePacket(4, 7, "bench/t", "bench/+")); err != nil {
			t.Fatal(err)
		}
		expect(t, subs[i], []byte{0x90, 4, 0, 7, 0, 0x80})
	}

	pub := dial(t, addr)
	if _, err := pub.Write(connectPacket(4, "pub")); err != nil {
		t.Fatal(err)
	}
	expect(t, pub, []byte{0x20, 2, 0, 0})

	// Many messages of several sizes, including one whose remaining length
	// needs 3 bytes, plus one on a topic nobody subscribed to; written in
	// odd-sized chunks so packets span reads.
	var stream, want []byte
	for i := 0; i < 500; i++ {
		payload := bytes.Repeat([]byte{byte(i)}, 1+i%200)
		p := publishPacket("bench/t", payload)
		stream = append(stream, p...)
		want = append(want, p...)
		if i%100 == 0 {
			stream = append(stream, publishPacket("other", payload)...)
		}
	}
	big := publishPacket("bench/t", bytes.Repeat([]byte{0xAB}, 20000))
	stream = append(stream, big...)
	want = append(want, big...)
	stream = append(stream, 0xC0, 0) // PINGREQ after the publishes
	for off := 0; off < len(stream); {
		n := min(777, len(stream)-off)
		if _, err := pub.Write(stream[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	expect(t, pub, []byte{0xD0, 0})
	for i, s := range subs {
		got := make([]byte, len(want))
		if _, err := io.ReadFull(s, got); err != nil {
			t.Fatalf("subscriber %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("subscriber %d: bytes changed in transit", i)
		}
	}
}

func TestRelayV5ConnackAndSuback(t *testing.T) {
	addr := startRelay(t)
	c := dial(t, addr)
	if _, err := c.Write(connectPacket(5, "v5")); err != nil {
		t.Fatal(err)
	}
	expect(t, c, []byte{0x20, 3, 0, 0, 0})
	if _, err := c.Write(subscribePacket(5, 9, "a")); err != nil {
		t.Fatal(err)
	}
	expect(t, c, []byte{0x90, 4, 0, 9, 0, 0})
	// The subscriber receives its own publish.
	p := publishPacket("a", []byte("x"))
	p = append(p[:5:5], append([]byte{0}, p[5:]...)...) // v5: empty properties after the topic
	p[1]++
	if _, err := c.Write(p); err != nil {
		t.Fatal(err)
	}
	expect(t, c, p)
}

func TestRelayClosesOnBadInput(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
	}{
		{"first packet not CONNECT", []byte{0xC0, 0}},
		{"QoS 1 PUBLISH", append(connectPacket(4, "q"), 0x32, 5, 0, 1, 'a', 0, 1)},
		{"remaining length over 4 bytes", append(connectPacket(4, "r"), 0x30, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{"packet over 1 MiB", append(connectPacket(4, "s"), 0x30, 0xff, 0xff, 0x7f)},
		{"truncated PUBLISH topic", append(connectPacket(4, "t"), 0x30, 2, 0, 9)},
	}
	addr := startRelay(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			if _, err := c.Write(tc.in); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			rest, err := io.ReadAll(c) // CONNACK at most, then EOF
			if err != nil {
				t.Fatalf("expected the relay to close the connection: %v", err)
			}
			if len(rest) > 4 {
				t.Fatalf("unexpected reply %x", rest)
			}
		})
	}
}

func BenchmarkFixedHeader(b *testing.B) {
	for _, size := range []int{64, 20000} {
		p := publishPacket("bench/t", make([]byte, size))
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, hdr, err := fixedHeader(p); hdr == 0 || err != nil {
					b.Fatal("bad header")
				}
			}
		})
	}
}

// A subscriber that never reads must not make the relay queue without bound:
// past maxOutbound its runs are dropped and the relay keeps serving others.
func TestRelayDropsForStalledSubscriber(t *testing.T) {
	addr, relay := startRelayWith(t)
	sub := dial(t, addr)
	if _, err := sub.Write(append(connectPacket(4, "slow"), subscribePacket(4, 1, "s")...)); err != nil {
		t.Fatal(err)
	}
	expect(t, sub, []byte{0x20, 2, 0, 0, 0x90, 3, 0, 1, 0})
	pub := dial(t, addr)
	if _, err := pub.Write(connectPacket(4, "fast")); err != nil {
		t.Fatal(err)
	}
	expect(t, pub, []byte{0x20, 2, 0, 0})
	p := publishPacket("s", make([]byte, 60000))
	chunk := bytes.Repeat(p, 16) // about 1 MiB
	for i := 0; i < 48 && relay.Dropped() == 0; i++ {
		if _, err := pub.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pub.Write([]byte{0xC0, 0}); err != nil {
		t.Fatal(err)
	}
	expect(t, pub, []byte{0xD0, 0})
	if relay.Dropped() == 0 {
		t.Fatalf("48 MiB to a stalled subscriber and nothing dropped (cap %d bytes)", maxOutbound)
	}
}
