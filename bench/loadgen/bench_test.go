package main

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkReceive is the subscriber's per-message cost: decode, account,
// record latency, queue the ack.
func BenchmarkReceive(b *testing.B) {
	for _, v := range []byte{4, 5} {
		for _, qos := range []byte{0, 1} {
			b.Run(fmt.Sprintf("v=%d/qos=%d/size=64b", v, qos), func(b *testing.B) {
				s := newBenchSubscriber(v, qos)
				b.ReportAllocs()
				b.SetBytes(64)
				for b.Loop() {
					pk, err := s.c.next()
					if err != nil {
						b.Fatal(err)
					}
					s.onPublish(pk, 1000)
					if len(s.c.out) > 32<<10 {
						s.c.out = s.c.out[:0]
					}
				}
			})
		}
	}
}

// BenchmarkPublishBatch is the publisher's cost to build one message of a
// batch (the write itself is one syscall per ~400 of them).
func BenchmarkPublishBatch(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		b.Run(fmt.Sprintf("qos=%d/size=64b/batch=100", qos), func(b *testing.B) {
			cfg := &Config{Version: 4, QoS: qos, Size: 64, Inflight: 65535}
			var errs atomic.Uint64
			p := newPublisher(cfg, nil, []*stream{{topic: "bench/0"}}, &errs)
			b.ReportAllocs()
			b.SetBytes(64 * 100)
			for b.Loop() {
				p.buf = p.buf[:0]
				p.appendMessages(100, 1, 0, 0)
				if qos > 0 {
					for id := p.nextID - 99; id != p.nextID+1; id++ {
						p.release(id)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/msg")
		})
	}
}
