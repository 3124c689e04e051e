package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
)

// TestPacketIDs_MQTT_2_2_1_3: every QoS > 0 PUBLISH gets a non-zero packet
// id that is not in flight, across wrap-around.
func TestPacketIDs_MQTT_2_2_1_3(t *testing.T) {
	var errs atomic.Uint64
	p := newPublisher(&Config{Version: 4, QoS: 1, Size: 20, Inflight: 65535}, nil, []*stream{{topic: "t"}}, &errs)
	inFlight := map[uint16]bool{}
	held := []uint16{}
	for i := 0; i < 200000; i++ {
		id := p.allocID()
		if id == 0 || inFlight[id] {
			t.Fatalf("message %d got packet id %d (in flight: %v)", i, id, inFlight[id])
		}
		inFlight[id] = true
		p.inflight.Add(1)
		if i%1000 == 0 { // a few stay unacknowledged across wrap-around
			held = append(held, id)
			continue
		}
		if !p.release(id) {
			t.Fatalf("release of %d failed", id)
		}
		delete(inFlight, id)
	}
	if len(held) != 200 || p.inflight.Load() != 200 {
		t.Fatalf("held %d inflight %d", len(held), p.inflight.Load())
	}
	if p.release(held[0]) != true || p.release(held[0]) != false {
		t.Fatal("second release of the same id must be refused")
	}
}

// countingConn swallows writes and counts PUBLISH packets, never acking.
type countingConn struct {
	mu   sync.Mutex
	pubs int
}

func (c *countingConn) Read([]byte) (int, error) { select {} }
func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for b := p; len(b) > 0; {
		_, rem, hl, err := codec.DecodeFixedHeader(b, 0)
		if err != nil || hl == 0 {
			panic("bad packet from publisher")
		}
		if b[0]>>4 == byte(codec.PUBLISH) {
			c.pubs++
		}
		b = b[hl+rem:]
	}
	return len(p), nil
}

// TestReceiveMaximum_MQTT_3_3_4_7: with a broker Receive Maximum below
// -inflight, no more than Receive Maximum publishes are unacknowledged.
func TestReceiveMaximum_MQTT_3_3_4_7(t *testing.T) {
	for _, tc := range []struct{ inflight, receiveMax, want int }{{20, 5, 5}, {3, 100, 3}} {
		cc := &countingConn{}
		c := &client{rw: cc, version: 5, receiveMax: uint16(tc.receiveMax)}
		var errs atomic.Uint64
		p := newPublisher(&Config{Version: 5, QoS: 1, Size: 20, Inflight: tc.inflight}, c, []*stream{{topic: "t"}}, &errs)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { p.run(stop); close(done) }()
		count := func() int { cc.mu.Lock(); defer cc.mu.Unlock(); return cc.pubs }
		for end := time.Now().Add(5 * time.Second); count() < tc.want && time.Now().Before(end); {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // room to overshoot, if it would
		close(stop)
		<-done
		cc.mu.Lock()
		got := cc.pubs
		cc.mu.Unlock()
		if got != tc.want {
			t.Errorf("inflight %d receive max %d: %d publishes unacknowledged, want %d", tc.inflight, tc.receiveMax, got, tc.want)
		}
	}
}

// TestMaximumQoS_MQTT_3_2_2_11: a v5 broker announcing Maximum QoS 1 makes
// a -qos 2 run fail at setup with a clear error, before any QoS 2 PUBLISH.
func TestMaximumQoS_MQTT_3_2_2_11(t *testing.T) {
	b := startFakeBroker(t, false, nil, func(b *fakeBroker) {
		b.connack = codec.Properties{Present: 1 << codec.PropMaximumQoS, MaximumQoS: 1}
	})
	cfg := testConfig(t, b.addr(), "p2p", "-v", "5", "-qos", "2", "-duration", "200ms")
	_, err := Run(context.Background(), cfg, io.Discard)
	if !errors.Is(err, errSetup) || !strings.Contains(err.Error(), "Maximum QoS") {
		t.Fatalf("got %v, want a setup error naming Maximum QoS", err)
	}
}

// TestServerKeepAlive_MQTT_3_2_2_21: the broker's Server Keep Alive
// replaces ours, and PINGREQ follows it [MQTT-3.1.2-20].
func TestServerKeepAlive_MQTT_3_2_2_21(t *testing.T) {
	b := startFakeBroker(t, false, nil, func(b *fakeBroker) {
		b.connack = codec.Properties{Present: 1 << codec.PropServerKeepAlive, ServerKeepAlive: 1}
	})
	cfg := testConfig(t, b.addr(), "conn", "-v", "5", "-conns", "3", "-keepalive", "600", "-duration", "1500ms")
	if _, err := Run(context.Background(), cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	// With our 600 s keepalive no ping would come for 300 s; Server Keep
	// Alive 1 s means a round on all 3 connections every 500 ms.
	if n := b.pings.Load(); n < 3 {
		t.Fatalf("%d PINGREQs, want >= 3 with Server Keep Alive 1 s", n)
	}
}

// TestSourceAddressFallback: when 127.0.0.1 has no ephemeral port left
// (EADDRNOTAVAIL), new connections bind to 127.0.0.2, then .3, ...
func TestSourceAddressFallback(t *testing.T) {
	b := startFakeBroker(t, false, nil)
	real := dialTCP
	defer func() { dialTCP = real; srcIP.Store(0) }()
	var mu sync.Mutex
	var tried []string
	dialTCP = func(d *net.Dialer, addr string) (net.Conn, error) {
		local := "default"
		if d.LocalAddr != nil {
			local = d.LocalAddr.(*net.TCPAddr).IP.String()
		}
		mu.Lock()
		tried = append(tried, local)
		mu.Unlock()
		if local == "default" || local == "127.0.0.2" {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}
		}
		return real(d, addr)
	}
	cfg := testConfig(t, b.addr(), "conn", "-conns", "1", "-duration", "10ms")
	c, err := dialBroker(cfg, 256)
	if err != nil {
		t.Fatal(err)
	}
	defer c.nc.Close()
	if got := c.nc.LocalAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.3" {
		t.Errorf("bound to %s, want 127.0.0.3", got)
	}
	if want := []string{"default", "127.0.0.2", "127.0.0.3"}; strings.Join(tried, " ") != strings.Join(want, " ") {
		t.Errorf("tried %v, want %v", tried, want)
	}
}

// TestMaximumPacketSize_MQTT_3_2_2_15: a payload that would make PUBLISH
// exceed the v5 broker's Maximum Packet Size is refused at setup.
func TestMaximumPacketSize_MQTT_3_2_2_15(t *testing.T) {
	b := startFakeBroker(t, false, nil, func(b *fakeBroker) {
		b.connack = codec.Properties{Present: 1 << codec.PropMaximumPacketSize, MaximumPacketSize: 100}
	})
	cfg := testConfig(t, b.addr(), "p2p", "-v", "5", "-size", "200", "-duration", "200ms")
	_, err := Run(context.Background(), cfg, io.Discard)
	if !errors.Is(err, errSetup) || !strings.Contains(err.Error(), "Maximum Packet Size 100") {
		t.Fatalf("got %v, want a setup error naming Maximum Packet Size", err)
	}
	cfg = testConfig(t, b.addr(), "p2p", "-v", "5", "-size", "64", "-duration", "300ms", "-warmup", "0")
	if _, err := Run(context.Background(), cfg, io.Discard); err != nil {
		t.Fatalf("64-byte payload under a 100-byte limit: %v", err)
	}
}
