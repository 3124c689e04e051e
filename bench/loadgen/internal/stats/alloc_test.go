//go:build !race

package stats

import "testing"

func TestRecordAndObserveDoNotAllocate(t *testing.T) {
	var h Histogram
	var s Sequence
	s.Observe(0)
	s.Observe(2) // make the gap list exist
	s.Observe(1)
	seq := uint64(3)
	n := testing.AllocsPerRun(1000, func() {
		h.Record(int64(seq) * 7919)
		s.Observe(seq + 1)
		s.Observe(seq)
		seq += 2
	})
	if n != 0 {
		t.Fatalf("%v allocations per record+observe, want 0", n)
	}
}
