//go:build !race

package main

import (
	"sync/atomic"
	"testing"
)

// TestReceivePathDoesNotAllocate covers decode, stamp, sequence, histogram
// and ack for every version and QoS.
func TestReceivePathDoesNotAllocate(t *testing.T) {
	for _, v := range []byte{3, 4, 5} {
		for _, qos := range []byte{0, 1, 2} {
			s := newTestSubscriber(v, streamOfPublishes(v, qos, 1000))
			n := testing.AllocsPerRun(5000, func() {
				pk, err := s.c.next()
				if err != nil {
					t.Fatal(err)
				}
				s.onPublish(pk, 1000)
				if len(s.c.out) > 32<<10 {
					s.c.out = s.c.out[:0]
				}
			})
			if n != 0 {
				t.Errorf("v%d qos%d: %v allocations per received message", v, qos, n)
			}
		}
	}
}

func TestPublishPathDoesNotAllocate(t *testing.T) {
	for _, qos := range []byte{0, 1, 2} {
		cfg := &Config{Version: 5, QoS: qos, Size: 64, Inflight: 65535}
		var errs atomic.Uint64
		p := newPublisher(cfg, nil, []*stream{{topic: "bench/0"}, {id: 1, topic: "bench/1"}}, &errs)
		n := testing.AllocsPerRun(1000, func() {
			p.buf = p.buf[:0]
			p.appendMessages(100, 1, 0, 0)
			if qos > 0 {
				for id := p.nextID - 99; id != p.nextID+1; id++ {
					p.release(id)
				}
			}
		})
		if n != 0 {
			t.Errorf("qos%d: %v allocations per 100-message batch", qos, n)
		}
	}
}
