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

// TestTallyFoldsIntoShard checks that deliveries and inbound packets
// batched in a Tally reach the shard's delivered, PUBLISH-sent, latency,
// packets-received and bytes-received counters only at Fold,
// exactly once, and that a Disabled shard counts none.
func TestTallyFoldsIntoShard(t *testing.T) {
	for _, disabled := range []bool{false, true} {
		m := New(Config{Shards: 1, Disabled: disabled})
		s := m.Shard(0)
		var tl Tally
		s.Delivery(&tl, 0, 0)
		s.Delivery(&tl, 1, 5000)
		s.Delivery(&tl, 2, -7) // a clock step counts as 0
		s.Delivery(&tl, 1, 3<<20)
		s.Inbound(&tl, codec.PUBLISH, 70)
		s.Inbound(&tl, codec.PUBLISH, 30)
		s.Inbound(&tl, codec.PINGREQ, 2)
		s.Inflight(&tl, 3)
		s.Inflight(&tl, -1)
		s.Queued(&tl, 5)
		var tot Totals
		m.Read(&tot)
		if tot.DeliveredTotal() != 0 || tot.BytesIn != 0 || tot.PacketsInTotal() != 0 || tot.Inflight != 0 {
			t.Fatalf("disabled=%v: deliveries visible before Fold: %d", disabled, tot.DeliveredTotal())
		}
		s.Fold(&tl)
		s.Fold(&tl) // a second fold adds nothing
		m.Read(&tot)
		var h HistogramSnapshot
		m.Latency(&h)
		got := []uint64{tot.Delivered[0], tot.Delivered[1], tot.Delivered[2], tot.PacketsOut[codec.PUBLISH], h.Count(), h.Sum, h.Counts[0], h.Counts[bucketOf(5000)], h.Counts[bucketOf(3<<20)],
			tot.PacketsIn[codec.PUBLISH], tot.PacketsIn[codec.PINGREQ], tot.BytesIn, uint64(tot.Inflight), uint64(tot.Queued)}
		want := []uint64{1, 2, 1, 4, 4, 5000 + 3<<20, 2, 1, 1, 2, 1, 102, 2, 5}
		if disabled {
			want = make([]uint64, len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("disabled=%v: %v, want %v", disabled, got, want)
				break
			}
		}
	}
}
