package e2e

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// BenchmarkThroughput sends b.N QoS 0 messages from one publisher to one
// subscriber through the broker, both on the same transport, so WebSocket
// can be read next to plain TCP from one run:
//
//	go test -run '^$' -bench Throughput -benchtime 200000x ./engine/e2e/
//
// The publisher writes batches of 64 PUBLISH packets (one WebSocket frame
// per batch on ws) and keeps at most 1 MiB of messages ahead of the
// subscriber, so the broker's max_outbound_bytes never drops anything and
// the figure is delivered messages per second. Allocations are the test
// clients' plus the broker's, all in this process.
func BenchmarkThroughput(b *testing.B) {
	for _, transport := range []string{"tcp", "ws"} {
		for _, size := range []int{64, 1024} {
			b.Run(fmt.Sprintf("transport=%s/qos=0/payload=%db", transport, size), func(b *testing.B) {
				benchThroughput(b, transport, size)
			})
		}
	}
}

func benchThroughput(b *testing.B, transport string, size int) {
	const batch = 64
	// Keep at most 1 MiB in flight: a quarter of max_outbound_bytes.
	window := int64(max(batch, (1<<20)/(size+16)))
	br := startBroker(b, brokerOpts{listeners: []config.Listener{{Type: config.TypeTCP}, {Type: config.TypeWS, Path: "/mqtt"}}})
	dial := func(id string) *mqttConn {
		var m *mqttConn
		if transport == "ws" {
			m = dialWS(b, br.Addr(config.TypeWS), "/mqtt", codec.V311)
		} else {
			m = dialTCP(b, br.Addr(config.TypeTCP), codec.V311)
		}
		m.mustConnect(id, "", "")
		return m
	}
	sub := dial("sub")
	sub.subscribe(1, 0, "bench/t")
	pub := dial("pub")

	one := codec.Encode(nil, &codec.Packet{Type: codec.PUBLISH, Version: codec.V311, Topic: []byte("bench/t"), Payload: make([]byte, size)})
	// burst returns n PUBLISH packets as written on the wire: one masked
	// binary frame on ws, bare packets on tcp.
	_, ws := pub.rw.(*wsConn)
	burst := func(n int) []byte {
		var p []byte
		for i := 0; i < n; i++ {
			p = append(p, one...)
		}
		if ws {
			p = wsFrame(true, 2, p, true)
		}
		return p
	}
	full := burst(batch)
	write := func(p []byte) {
		if _, err := pub.raw.Write(p); err != nil {
			b.Fatal(err)
		}
	}

	var received atomic.Int64
	done := make(chan error, 1)
	go func() { done <- countPublishes(sub, int64(b.N), &received) }()

	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		for int64(sent)-received.Load() > window {
			time.Sleep(20 * time.Microsecond)
			select {
			case err := <-done:
				b.Fatalf("subscriber stopped after %d of %d: %v", received.Load(), b.N, err)
			default:
			}
		}
		n := min(batch, b.N-sent)
		if n == batch {
			write(full)
		} else {
			write(burst(n))
		}
		sent += n
	}
	if err := <-done; err != nil {
		b.Fatalf("received %d of %d: %v", received.Load(), b.N, err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

// countPublishes reads PUBLISH packets from m until n have arrived.
func countPublishes(m *mqttConn, n int64, got *atomic.Int64) error {
	buf := make([]byte, 0, 256<<10)
	tmp := make([]byte, 128<<10)
	for got.Load() < n {
		_ = m.raw.SetReadDeadline(time.Now().Add(10 * time.Second))
		k, err := m.rw.Read(tmp)
		buf = append(buf, tmp[:k]...)
		off := 0
		c := int64(0)
		for len(buf)-off >= 2 {
			_, rem, hl, herr := codec.DecodeFixedHeader(buf[off:], 1<<28)
			if herr != nil {
				return herr
			}
			if hl == 0 || len(buf)-off < hl+rem {
				break
			}
			if codec.PacketType(buf[off]>>4) == codec.PUBLISH {
				c++
			}
			off += hl + rem
		}
		got.Add(c)
		buf = buf[:copy(buf, buf[off:])]
		if err != nil && k == 0 {
			return err
		}
	}
	return nil
}
