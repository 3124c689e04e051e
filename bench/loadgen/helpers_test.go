package main

import (
	"sync/atomic"

	"github.com/tsubame-mq/tsubame/bench/loadgen/internal/stats"
	"github.com/tsubame-mq/tsubame/codec"
)

func histOf(vs ...int64) *stats.Histogram {
	h := new(stats.Histogram)
	for _, v := range vs {
		h.Record(v)
	}
	return h
}

// loopReader serves the same bytes forever, as a broker streaming PUBLISH
// packets would.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func (l *loopReader) Write(p []byte) (int, error) { return len(p), nil }

// streamOfPublishes is n QoS qos PUBLISH packets of stream 0, seq 0..n-1.
func streamOfPublishes(v, qos byte, n int) []byte {
	var b []byte
	payload := make([]byte, 64)
	for i := 0; i < n; i++ {
		b = codec.AppendPublish(b, v, false, qos, false, "bench/0", uint16(i%65535+1), nil, payload)
		stampPayload(b[len(b)-64:], 0, uint64(i), 1)
	}
	return b
}

func newTestSubscriber(v byte, data []byte) *subscriber {
	c := &client{rw: &loopReader{data: data}, version: v, rbuf: make([]byte, 64<<10), out: make([]byte, 0, 64<<10)}
	win := new(window)
	win.end.Store(1 << 62)
	var errs atomic.Uint64
	return &subscriber{c: c, seqs: make([]stats.Sequence, 1), hist: new(stats.Histogram), win: win, errs: &errs}
}

func newBenchSubscriber(v, qos byte) *subscriber {
	return newTestSubscriber(v, streamOfPublishes(v, qos, 1000))
}
