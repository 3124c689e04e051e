package metrics

import "github.com/tsubame-mq/tsubame/codec"

// Tally batches the per-packet and per-delivery counters of one worker
// between two folds.
//
// A fan-out of one PUBLISH to a thousand subscribers would otherwise cost
// four atomic adds per subscriber (delivered, PUBLISH sent, latency bucket,
// latency sum), about 16 ns each time on the machines we measure on, several
// per cent of a delivery. A Tally keeps them in plain fields that only its
// owner goroutine touches, and Shard.Fold adds them to the shard with one
// atomic add per non-zero field, once per event-loop turn:
//
//	deliver ─► Shard.Delivery(&w.tally, ...)   plain increments, owner only
//	deliver ─► Shard.Delivery(&w.tally, ...)
//	end of turn ─► Shard.Fold(&w.tally)        a few atomic adds, tally reset
//
// Inbound does the same for each packet read (type and bytes), Inflight
// and Queued for the gauges a QoS 1/2 delivery and its acknowledgement move. Readers see
// these counts at most one turn late. A Tally must not be shared
// between goroutines; its zero value is ready to use.
type Tally struct {
	n         uint64 // deliveries since the last fold = PUBLISH packets sent
	delivered [3]uint64
	latency   [histBuckets]uint64
	sum       uint64 // latency nanoseconds
	packetsIn [16]uint64
	bytesIn   uint64
	inflight  int64 // gauge deltas
	queued    int64
}

// Inflight moves the inflight gauge by d through t (see AddInflight).
func (s *Shard) Inflight(t *Tally, d int) {
	if s.off {
		return
	}
	t.inflight += int64(d)
}

// Queued moves the queued gauge by d through t (see AddQueued).
func (s *Shard) Queued(t *Tally, d int) {
	if s.off {
		return
	}
	t.queued += int64(d)
}

// Inbound counts one control packet of type pt and n bytes received into
// t; Fold moves it into s. It replaces PacketIn + BytesIn on the read path.
func (s *Shard) Inbound(t *Tally, pt codec.PacketType, n int) {
	if s.off {
		return
	}
	t.packetsIn[pt&15]++
	t.bytesIn += uint64(n)
}

// Delivery counts one message sent to a subscriber at qos, which is one
// PUBLISH packet sent, with its publish-to-deliver latency in nanoseconds,
// into t; Fold moves it into s. It replaces Delivered + PacketOut(PUBLISH) +
// ObserveLatency on the fan-out path.
func (s *Shard) Delivery(t *Tally, qos byte, latencyNs int64) {
	if s.off {
		return
	}
	if latencyNs < 0 {
		latencyNs = 0 // clock step
	}
	t.n++
	t.delivered[qos%3]++
	t.latency[bucketOf(latencyNs)]++
	t.sum += uint64(latencyNs)
}

// Fold adds t to s and resets t. The owner of t calls it once per turn,
// before anything reads the turn's counts off the loop.
func (s *Shard) Fold(t *Tally) {
	if t.bytesIn != 0 {
		for i, v := range t.packetsIn {
			if v != 0 {
				s.packetsIn[i].Add(v)
			}
		}
		s.bytesIn.Add(t.bytesIn)
		t.packetsIn, t.bytesIn = [16]uint64{}, 0
	}
	if t.inflight != 0 {
		s.inflight.Add(t.inflight)
		t.inflight = 0
	}
	if t.queued != 0 {
		s.queued.Add(t.queued)
		t.queued = 0
	}
	if t.n == 0 {
		return
	}
	s.packetsOut[codec.PUBLISH].Add(t.n)
	for q, v := range t.delivered {
		if v != 0 {
			s.delivered[q].Add(v)
		}
	}
	for i, v := range t.latency {
		if v != 0 {
			s.latency.counts[i].Add(v)
		}
	}
	if t.sum != 0 {
		s.latency.sum.Add(t.sum)
	}
	t.n, t.delivered, t.latency, t.sum = 0, [3]uint64{}, [histBuckets]uint64{}, 0
}
