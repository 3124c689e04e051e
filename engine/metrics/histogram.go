package metrics

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// Latency buckets are powers of two of nanoseconds, from 2^histMinShift ns
// (about 1 µs) to 2^(histMinShift+histBuckets-2) ns (about 17 s), plus +Inf.
// Powers of two make Observe a bit-length and one atomic add: no search, no
// float maths, no lock.
const (
	histMinShift = 10
	histBuckets  = 26 // 25 finite upper bounds + Inf
)

// Histogram is a lock-free latency histogram with fixed exponential buckets.
// Observe is safe from any goroutine.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
}

// Observe records one value in nanoseconds. Negative values (clock steps)
// count as 0.
func (h *Histogram) Observe(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.counts[bucketOf(ns)].Add(1)
	h.sum.Add(uint64(ns))
}

// bucketOf returns the first bucket whose upper bound is >= ns.
func bucketOf(ns int64) int {
	if ns <= 1<<histMinShift {
		return 0
	}
	// ns <= 2^k  <=>  bits.Len64(ns-1) <= k
	i := bits.Len64(uint64(ns-1)) - histMinShift
	if i >= histBuckets-1 {
		return histBuckets - 1
	}
	return i
}

// BucketUpperBound returns bucket i's inclusive upper bound in nanoseconds;
// the last bucket's is +Inf.
func BucketUpperBound(i int) float64 {
	if i >= histBuckets-1 {
		return math.Inf(1)
	}
	return float64(uint64(1) << (histMinShift + i))
}

// HistogramSnapshot is a histogram's state summed over shards. Counts are
// per bucket (not cumulative).
type HistogramSnapshot struct {
	Counts [histBuckets]uint64
	Sum    uint64 // nanoseconds
}

// Count is the number of observations.
func (s *HistogramSnapshot) Count() uint64 {
	var n uint64
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Quantile estimates quantile q (0..1) in nanoseconds as the upper bound of
// the bucket holding it (so it over-reports by at most 2x). It returns 0 with
// no observations and +Inf if q falls in the overflow bucket.
func (s *HistogramSnapshot) Quantile(q float64) float64 {
	n := s.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank == 0 {
		rank = 1
	}
	var cum uint64
	for i, c := range s.Counts {
		cum += c
		if cum >= rank {
			return BucketUpperBound(i)
		}
	}
	return math.Inf(1)
}

func (h *Histogram) addTo(s *HistogramSnapshot) {
	for i := range h.counts {
		s.Counts[i] += h.counts[i].Load()
	}
	s.Sum += h.sum.Load()
}
