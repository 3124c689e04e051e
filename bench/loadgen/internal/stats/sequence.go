package stats

// MaxGaps bounds the gap list of one Sequence. A stream that loses more
// separate runs of messages than this (only plausible at QoS 0) has its
// oldest gaps written off as lost; a message that later fills one is then
// counted as Late instead of Reordered.
const MaxGaps = 1024

// gap is the half-open range [lo, hi) of sequence numbers not yet seen.
type gap struct{ lo, hi uint64 }

// Sequence accounts for the messages of one publisher as seen by one
// subscriber. Publishers number their messages 0, 1, 2, ...; Observe is
// called once per received message. It keeps only the next expected number
// and a short sorted list of gaps, so memory does not grow with the number of
// messages. Not safe for concurrent use: each subscriber owns its Sequences.
//
//	seen:   0 1 2 _ _ 5 6 _ 8         next = 9
//	gaps:         [3,5)     [7,8)
type Sequence struct {
	next     uint64 // one past the highest sequence seen
	gaps     []gap  // sorted, disjoint, all below next
	written  uint64 // gap members written off because of MaxGaps
	Received uint64 // every Observe call
	Dup      uint64 // seen before
	Reorder  uint64 // arrived after a higher number, filling a gap
	Late     uint64 // filled a gap already written off (also counted in written)
}

// Observe records the arrival of sequence number seq.
func (s *Sequence) Observe(seq uint64) {
	s.Received++
	switch {
	case seq == s.next:
		s.next++
	case seq > s.next:
		s.addGap(s.next, seq)
		s.next = seq + 1
	default:
		s.fill(seq)
	}
}

func (s *Sequence) addGap(lo, hi uint64) {
	if len(s.gaps) == MaxGaps {
		old := s.gaps[0]
		s.written += old.hi - old.lo
		copy(s.gaps, s.gaps[1:])
		s.gaps = s.gaps[:len(s.gaps)-1]
	}
	if s.gaps == nil {
		s.gaps = make([]gap, 0, 16) // once per stream that ever loses or reorders
	}
	s.gaps = append(s.gaps, gap{lo, hi})
}

// fill handles seq < next: either it fills a gap (reordered) or it is a dup.
func (s *Sequence) fill(seq uint64) {
	// Gaps are sorted; the newest are at the end and most reorders are
	// shallow, so search backwards.
	for i := len(s.gaps) - 1; i >= 0; i-- {
		g := &s.gaps[i]
		if seq >= g.hi {
			break
		}
		if seq < g.lo {
			continue
		}
		s.Reorder++
		switch {
		case g.hi-g.lo == 1:
			s.gaps = append(s.gaps[:i], s.gaps[i+1:]...)
		case seq == g.lo:
			g.lo++
		case seq == g.hi-1:
			g.hi--
		default: // split [lo,hi) into [lo,seq) and [seq+1,hi)
			hi := g.hi
			g.hi = seq
			if len(s.gaps) == MaxGaps {
				s.written += hi - seq - 1
				return
			}
			s.gaps = append(s.gaps, gap{})
			copy(s.gaps[i+2:], s.gaps[i+1:])
			s.gaps[i+1] = gap{seq + 1, hi}
		}
		return
	}
	if s.Late < s.written && (len(s.gaps) == 0 || seq < s.gaps[0].lo) {
		// Below every live gap, so it may fill a written-off gap. Those
		// numbers are forgotten; while the written-off count allows it,
		// call it late rather than a duplicate.
		s.Late++
		return
	}
	s.Dup++
}

// Next is one past the highest sequence number seen (0 if none).
func (s *Sequence) Next() uint64 { return s.next }

// Lost returns how many of the first `sent` sequence numbers never arrived:
// the gaps still open plus everything from Next up to sent. Pass sent = 0 when
// the publisher's count is unknown (a passive subscriber); Next is used then.
func (s *Sequence) Lost(sent uint64) uint64 {
	var n uint64
	for _, g := range s.gaps {
		n += g.hi - g.lo
	}
	n += s.written - s.Late
	if sent > s.next {
		n += sent - s.next
	}
	return n
}
