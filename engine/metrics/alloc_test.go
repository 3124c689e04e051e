//go:build !race

package metrics

import (
	"testing"

	"github.com/tsubame-mq/tsubame/codec"
)

func TestHotPathDoesNotAllocate(t *testing.T) {
	m := New(Config{Shards: 1})
	s := m.Shard(0)
	l := m.Listener("tcp", "tcp", "", false)
	n := testing.AllocsPerRun(1000, func() {
		s.PacketIn(codec.PUBLISH)
		s.PacketOut(codec.PUBLISH)
		s.BytesIn(64)
		s.BytesOut(64)
		s.Received(1)
		s.Delivered(1)
		s.DeliveredN(0, 3)
		s.Dropped(0, DropQueueFull)
		s.AddInflight(1)
		s.AddQueued(-1)
		s.ConnAck(codec.Success)
		s.ObserveLatency(12345)
		l.Opened()
		l.Closed(CloseNormal)
	})
	if n != 0 {
		t.Fatalf("hot path allocates %v per run", n)
	}
}

func TestReadDoesNotAllocate(t *testing.T) {
	m := New(Config{Shards: 4})
	var tot Totals
	var h HistogramSnapshot
	if n := testing.AllocsPerRun(100, func() { m.Read(&tot); m.Latency(&h) }); n != 0 {
		t.Fatalf("Read allocates %v per run", n)
	}
}

func TestTallyDoesNotAllocate(t *testing.T) {
	s := New(Config{Shards: 1}).Shard(0)
	var tl Tally
	if n := testing.AllocsPerRun(1000, func() { s.Delivery(&tl, 1, 4096); s.Inbound(&tl, codec.PUBLISH, 64); s.Fold(&tl) }); n != 0 {
		t.Fatalf("Delivery+Inbound+Fold allocates %v per run", n)
	}
}
