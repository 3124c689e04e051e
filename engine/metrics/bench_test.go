package metrics

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tsubame-mq/tsubame/codec"
)

// BenchmarkCounters measures the hot-path increments. "shard=own" is the
// intended use (each goroutine on its own shard, like an event loop);
// "shard=shared" shows the cost of contention the sharding avoids.
func BenchmarkCounters(b *testing.B) {
	for _, mode := range []string{"own", "shared"} {
		b.Run("op=publish/shard="+mode, func(b *testing.B) {
			b.ReportAllocs()
			m := New(Config{Shards: 64})
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				if mode == "own" {
					i = int(next.Add(1))
				}
				s := m.Shard(i)
				for pb.Next() {
					s.PacketIn(codec.PUBLISH)
					s.Received(1)
				}
			})
		})
	}
	b.Run("op=latency/shard=own", func(b *testing.B) {
		b.ReportAllocs()
		m := New(Config{Shards: 64})
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			s := m.Shard(int(next.Add(1)))
			ns := int64(1)
			for pb.Next() {
				s.ObserveLatency(ns)
				ns = ns*3 + 1&0xffffffff
			}
		})
	})
	// One delivery's counters, counted one by one or batched in a Tally
	// folded every 64 deliveries (a fan-out turn).
	b.Run("op=delivery/mode=atomic", func(b *testing.B) {
		b.ReportAllocs()
		s := New(Config{Shards: 1}).Shard(0)
		for i := 0; i < b.N; i++ {
			s.PacketOut(codec.PUBLISH)
			s.Delivered(0)
			s.ObserveLatency(0)
		}
	})
	b.Run("op=delivery/mode=tally", func(b *testing.B) {
		b.ReportAllocs()
		s := New(Config{Shards: 1}).Shard(0)
		var t Tally
		for i := 0; i < b.N; i++ {
			s.Delivery(&t, 0, 0)
			if i&63 == 63 {
				s.Fold(&t)
			}
		}
		s.Fold(&t)
	})
	b.Run("op=packet_in/serial", func(b *testing.B) {
		b.ReportAllocs()
		s := New(Config{Shards: 1}).Shard(0)
		for i := 0; i < b.N; i++ {
			s.PacketIn(codec.PUBLISH)
		}
	})
}

// BenchmarkScrape is the cost of one Prometheus gather (off the hot path).
func BenchmarkScrape(b *testing.B) {
	for _, shards := range []int{1, 16} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			b.ReportAllocs()
			m := New(Config{Shards: shards})
			m.Listener("tcp", "tcp", "", false)
			reg := prometheus.NewRegistry()
			_ = m.Register(reg)
			for i := 0; i < b.N; i++ {
				if _, err := reg.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
