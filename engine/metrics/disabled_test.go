package metrics

import (
	"testing"

	"github.com/tsubame-mq/tsubame/codec"
)

// TestDisabledCountsNothingOnShards checks Config.Disabled: every Shard
// method is a no-op (so the counter-cost benchmark really measures counters
// off), while listener connection counts, which are off the publish path,
// still work.
func TestDisabledCountsNothingOnShards(t *testing.T) {
	for _, disabled := range []bool{false, true} {
		m := New(Config{Shards: 2, Disabled: disabled})
		s := m.Shard(1)
		s.PacketIn(codec.PUBLISH)
		s.PacketOut(codec.PUBACK)
		s.BytesIn(10)
		s.BytesOut(20)
		s.Received(1)
		s.Delivered(1)
		s.DeliveredN(0, 3)
		s.Dropped(2, DropNoSubscribers)
		s.AddInflight(1)
		s.AddQueued(2)
		s.ConnAck(codec.Success)
		s.ObserveLatency(5000)
		l := m.Listener("tcp", "tcp", "127.0.0.1:1883", false)
		l.Opened()

		var tot Totals
		m.Read(&tot)
		var h HistogramSnapshot
		m.Latency(&h)
		hot := []uint64{tot.PacketsInTotal(), tot.PacketsOutTotal(), tot.BytesIn, tot.BytesOut,
			tot.ReceivedTotal(), tot.DeliveredTotal(), tot.DroppedTotal(),
			uint64(tot.Inflight), uint64(tot.Queued), tot.ConnAcks[codec.Success], h.Count()}
		want := []uint64{1, 1, 10, 20, 1, 4, 1, 1, 2, 1, 1}
		if disabled {
			want = make([]uint64, len(want))
		}
		for i := range want {
			if hot[i] != want[i] {
				t.Errorf("disabled=%v: counter %d = %d, want %d (all: %v)", disabled, i, hot[i], want[i], hot)
			}
		}
		if tot.ConnectionsCurrent != 1 || l.Total() != 1 {
			t.Errorf("disabled=%v: listener counts %d/%d, want 1/1", disabled, tot.ConnectionsCurrent, l.Total())
		}
	}
}
