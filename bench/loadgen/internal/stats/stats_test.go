package stats

import (
	"math/rand/v2"
	"testing"
)

func TestHistogramExactBelow128(t *testing.T) {
	var h Histogram
	for v := int64(1); v <= 100; v++ {
		h.Record(v)
	}
	cases := []struct {
		q    float64
		want int64
	}{{0.5, 50}, {0.9, 90}, {0.99, 99}, {0.999, 100}, {1, 100}, {0.01, 1}}
	for _, c := range cases {
		if got := h.Quantile(c.q); got != c.want {
			t.Errorf("Quantile(%v) = %d, want %d", c.q, got, c.want)
		}
	}
	if h.Max() != 100 || h.Count() != 100 || h.Mean() != 50.5 {
		t.Errorf("max %d count %d mean %v", h.Max(), h.Count(), h.Mean())
	}
}

func TestHistogramRelativeError(t *testing.T) {
	var h Histogram
	// 1..100000 µs in ns: the q-quantile is q*1e8 ns.
	for v := int64(1); v <= 100000; v++ {
		h.Record(v * 1000)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := q * 1e8
		got := float64(h.Quantile(q))
		if d := (got - want) / want; d > 0.008 || d < -0.008 {
			t.Errorf("Quantile(%v) = %v, want %v within 0.8%% (off %.3f%%)", q, got, want, d*100)
		}
	}
	if h.Max() != 1e8 {
		t.Errorf("Max = %d", h.Max())
	}
}

func TestHistogramBucketsContiguous(t *testing.T) {
	prevHi := int64(-1)
	for i := 0; i < nBuckets; i++ {
		lo, hi := bucketRange(i)
		if hi < lo {
			break // past the largest int64 bucket
		}
		if int64(lo) != prevHi+1 && prevHi >= 0 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d [%d,%d] maps back to %d,%d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		prevHi = int64(hi)
		if hi >= 1<<62 {
			break
		}
	}
	h := Histogram{}
	h.Record(1<<63 - 1) // the largest value must not index out of range
	h.Record(-5)
	if h.Quantile(0.5) != 0 || h.Max() != 1<<63-1 {
		t.Errorf("extremes: p50 %d max %d", h.Quantile(0.5), h.Max())
	}
}

func TestHistogramMergeReset(t *testing.T) {
	var a, b Histogram
	a.Record(10)
	b.Record(30)
	b.Record(20)
	a.Merge(&b)
	if a.Count() != 3 || a.Max() != 30 || a.Quantile(0.5) != 20 {
		t.Errorf("merged: count %d max %d p50 %d", a.Count(), a.Max(), a.Quantile(0.5))
	}
	a.Reset()
	if a.Count() != 0 || a.Quantile(0.99) != 0 || a.Mean() != 0 {
		t.Errorf("after reset: %d %d", a.Count(), a.Quantile(0.99))
	}
}

func TestSequence(t *testing.T) {
	cases := []struct {
		name                     string
		in                       []uint64
		sent                     uint64
		lost, dup, reorder, next uint64
	}{
		{"in order", []uint64{0, 1, 2, 3}, 4, 0, 0, 0, 4},
		{"tail lost", []uint64{0, 1}, 4, 2, 0, 0, 2},
		{"gap never filled", []uint64{0, 1, 4, 5}, 6, 2, 0, 0, 6},
		{"gap filled", []uint64{0, 2, 1, 3}, 4, 0, 0, 1, 4},
		{"gap filled middle", []uint64{0, 5, 3, 1, 4, 2}, 6, 0, 0, 4, 6},
		{"split then partial", []uint64{0, 9, 4}, 10, 7, 0, 1, 10},
		{"duplicate in order", []uint64{0, 1, 1, 2}, 3, 0, 1, 0, 3},
		{"duplicate of filled", []uint64{0, 2, 1, 1}, 3, 0, 1, 1, 3},
		{"first missing", []uint64{1, 2}, 3, 1, 0, 0, 3},
		{"unknown sent", []uint64{0, 3}, 0, 2, 0, 0, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s Sequence
			for _, v := range c.in {
				s.Observe(v)
			}
			if got := s.Lost(c.sent); got != c.lost {
				t.Errorf("lost %d, want %d", got, c.lost)
			}
			if s.Dup != c.dup || s.Reorder != c.reorder || s.Next() != c.next {
				t.Errorf("dup %d reorder %d next %d, want %d %d %d", s.Dup, s.Reorder, s.Next(), c.dup, c.reorder, c.next)
			}
			if s.Received != uint64(len(c.in)) {
				t.Errorf("received %d", s.Received)
			}
		})
	}
}

// TestSequenceRandomAgainstModel compares against a set-based model for
// random streams with drops, dups and reorders.
func TestSequenceRandomAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		const n = 2000
		var stream []uint64
		for i := uint64(0); i < n; i++ {
			switch x := r.IntN(100); {
			case x < 5: // drop
			case x < 10:
				stream = append(stream, i, i)
			default:
				stream = append(stream, i)
			}
		}
		for k := 0; k < 50; k++ { // local swaps
			i := r.IntN(len(stream) - 5)
			j := i + 1 + r.IntN(4)
			stream[i], stream[j] = stream[j], stream[i]
		}
		seen := map[uint64]bool{}
		var max uint64
		var haveMax bool
		var dup, reorder uint64
		var s Sequence
		for _, v := range stream {
			s.Observe(v)
			switch {
			case seen[v]:
				dup++
			case haveMax && v < max:
				reorder++
			}
			seen[v] = true
			if !haveMax || v > max {
				max, haveMax = v, true
			}
		}
		lost := n - uint64(len(seen))
		if s.Lost(n) != lost || s.Dup != dup || s.Reorder != reorder {
			t.Fatalf("round %d: lost %d dup %d reorder %d, model %d %d %d", round, s.Lost(n), s.Dup, s.Reorder, lost, dup, reorder)
		}
	}
}

func TestSequenceGapCap(t *testing.T) {
	var s Sequence
	// MaxGaps+10 single-message gaps: the oldest 10 are written off.
	for i := uint64(0); i < MaxGaps+10; i++ {
		s.Observe(2*i + 1)
	}
	sent := uint64(2*(MaxGaps+10) + 0)
	if got := s.Lost(sent); got != MaxGaps+10 {
		t.Fatalf("lost %d, want %d", got, MaxGaps+10)
	}
	s.Observe(0) // fills a written-off gap: late, not a duplicate
	if s.Dup != 0 || s.Late != 1 || s.Lost(sent) != MaxGaps+9 {
		t.Fatalf("dup %d late %d lost %d", s.Dup, s.Late, s.Lost(sent))
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(int64(i&0xffff) * 1000)
	}
}

func BenchmarkSequenceObserve(b *testing.B) {
	for _, pattern := range []string{"inorder", "reorder1pct"} {
		b.Run("pattern="+pattern, func(b *testing.B) {
			var s Sequence
			b.ReportAllocs()
			for i := uint64(0); b.Loop(); i++ {
				v := i
				if pattern == "reorder1pct" && i%100 == 1 {
					v = i + 1
				} else if pattern == "reorder1pct" && i%100 == 2 {
					v = i - 1
				}
				s.Observe(v)
			}
		})
	}
}
