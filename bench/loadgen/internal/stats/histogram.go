package stats

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// Histogram layout: values below 2*subCount are counted exactly, one bucket
// per value. Above that, each power-of-two range [2^k, 2^(k+1)) is split into
// subCount linear sub-buckets, so any recorded value is known to within
// 1/subCount (0.8 %) of itself, like HdrHistogram with two significant digits.
//
//	index:  0 .. 127        | 128 .. 191      | 192 .. 255      | ...
//	value:  exact 0 .. 127  | 128..255 step 2 | 256..511 step 4 | ...
const (
	subBits  = 6
	subCount = 1 << subBits // sub-buckets per power of two
	exactTop = 2 * subCount // values below are exact
	maxShift = 64 - subBits - 1
	nBuckets = (maxShift+1)*subCount + subCount
)

// Histogram counts non-negative int64 values (the load generator records
// nanoseconds). Record is safe from any number of goroutines at once and
// allocates nothing: every counter is an atomic word, so a progress reporter
// may read percentiles while subscribers record. The zero value is ready.
// A Histogram is about 30 KiB; keep one per run, not one per connection.
//
// Record touches one bucket counter and the sum (max is usually only read):
// there is no separate total, which would be one more cache line that every
// recording core fights over; Count sums the buckets instead.
type Histogram struct {
	counts [nBuckets]atomic.Uint64
	sum    atomic.Uint64 // wraps only after ~584 years of summed ns
	max    atomic.Int64
}

func bucketOf(v uint64) int {
	if v < exactTop {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // >= 1 here
	return shift*subCount + int(v>>uint(shift))
}

// bucketRange returns the smallest and largest value that land in bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < exactTop {
		return uint64(i), uint64(i)
	}
	shift := uint(i/subCount - 1)
	m := uint64(i%subCount + subCount)
	return m << shift, (m+1)<<shift - 1
}

// Record adds one value; negative values count as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(uint64(v))].Add(1)
	h.sum.Add(uint64(v))
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count is the number of recorded values (a scan of the buckets).
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Max is the largest recorded value, exact.
func (h *Histogram) Max() int64 { return h.max.Load() }

// Mean is the exact arithmetic mean of the recorded values, 0 when empty.
func (h *Histogram) Mean() float64 {
	n := h.Count()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// Quantile returns the value at quantile q (0 < q <= 1): the midpoint of the
// bucket holding the ceil(q*n)-th smallest value, clamped to Max. It is
// exact below 128 and within 0.8 % above. Empty histograms return 0.
func (h *Histogram) Quantile(q float64) int64 {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := int64(lo + (hi-lo)/2)
			if m := h.max.Load(); v > m {
				v = m
			}
			return v
		}
	}
	return h.max.Load() // buckets changed under the scan; the max is the honest answer
}

// Merge adds every count of o into h. Neither may be recorded into meanwhile
// if the result must be exact.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.sum.Add(o.sum.Load())
	for {
		m, v := h.max.Load(), o.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Reset clears the histogram; it must not race with Record.
func (h *Histogram) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.sum.Store(0)
	h.max.Store(0)
}
