package metrics

import (
	"sync"
	"time"
)

// Series indexes the counters whose rates are tracked.
type series int

const (
	seriesPacketsIn series = iota
	seriesPacketsOut
	seriesPublishIn  // application messages received
	seriesPublishOut // messages delivered
	seriesBytesIn
	seriesBytesOut
	numSeries
)

// ringSize keeps 15 minutes of one-second samples, the longest $SYS load
// window.
const ringSize = 15*60 + 1

type sample struct {
	t time.Time
	v [numSeries]uint64
}

// rateWindow is a ring of counter samples taken by Sample. Its mutex is held
// only by the sampler and by readers of rates, never by the hot path.
type rateWindow struct {
	mu      sync.Mutex
	ring    [ringSize]sample
	next    int // index the next sample goes to
	n       int // samples stored, <= ringSize
	scratch Totals
}

// at returns the sample k steps before the newest (k = 0 is the newest).
// Lock should be held; k < n.
func (w *rateWindow) at(k int) *sample {
	return &w.ring[(w.next-1-k+2*ringSize)%ringSize]
}

// rate is the per-second increase of s over the last k samples, or over all
// stored samples if fewer. Lock should be held.
func (w *rateWindow) rate(s series, k int) float64 {
	if w.n < 2 {
		return 0
	}
	if k > w.n-1 {
		k = w.n - 1
	}
	newest, old := w.at(0), w.at(k)
	dt := newest.t.Sub(old.t).Seconds()
	if dt <= 0 || newest.v[s] < old.v[s] {
		return 0
	}
	return float64(newest.v[s]-old.v[s]) / dt
}

// Sample records the counters at time now. Start calls it once a second;
// tests call it with a fake clock. Rates assume samples about one second
// apart but divide by the real elapsed time between the samples they use.
func (m *Metrics) Sample(now time.Time) {
	w := &m.rates
	w.mu.Lock()
	defer w.mu.Unlock()
	t := &w.scratch
	m.Read(t)
	s := &w.ring[w.next]
	s.t = now
	s.v[seriesPacketsIn] = t.PacketsInTotal()
	s.v[seriesPacketsOut] = t.PacketsOutTotal()
	s.v[seriesPublishIn] = t.ReceivedTotal()
	s.v[seriesPublishOut] = t.DeliveredTotal()
	s.v[seriesBytesIn] = t.BytesIn
	s.v[seriesBytesOut] = t.BytesOut
	w.next = (w.next + 1) % ringSize
	if w.n < ringSize {
		w.n++
	}
}

// Rates are per-second rates over the last second and the last minute.
// "In" counts application messages received from publishers, "Out" messages
// delivered to subscribers.
type Rates struct {
	In1s       float64 `json:"in_1s"`
	Out1s      float64 `json:"out_1s"`
	In1m       float64 `json:"in_1m"`
	Out1m      float64 `json:"out_1m"`
	BytesIn1s  float64 `json:"bytes_in_1s"`
	BytesOut1s float64 `json:"bytes_out_1s"`
	BytesIn1m  float64 `json:"bytes_in_1m"`
	BytesOut1m float64 `json:"bytes_out_1m"`
}

// Rates returns the current rates from the samples taken so far (zeros
// before the second sample).
func (m *Metrics) Rates() Rates {
	w := &m.rates
	w.mu.Lock()
	defer w.mu.Unlock()
	return Rates{
		In1s:       w.rate(seriesPublishIn, 1),
		Out1s:      w.rate(seriesPublishOut, 1),
		In1m:       w.rate(seriesPublishIn, 60),
		Out1m:      w.rate(seriesPublishOut, 60),
		BytesIn1s:  w.rate(seriesBytesIn, 1),
		BytesOut1s: w.rate(seriesBytesOut, 1),
		BytesIn1m:  w.rate(seriesBytesIn, 60),
		BytesOut1m: w.rate(seriesBytesOut, 60),
	}
}

// RatePoint is the message rate between two consecutive samples, stamped
// with the later sample's time in unix milliseconds.
type RatePoint struct {
	T   int64   `json:"t"`
	In  float64 `json:"in"`
	Out float64 `json:"out"`
}

// History appends up to max rate points, oldest first, to dst (the admin
// console draws the last 5 minutes: max = 300).
func (m *Metrics) History(dst []RatePoint, max int) []RatePoint {
	w := &m.rates
	w.mu.Lock()
	defer w.mu.Unlock()
	k := w.n - 1
	if k > max {
		k = max
	}
	for i := k; i >= 1; i-- {
		newer, older := w.at(i-1), w.at(i)
		p := RatePoint{T: newer.t.UnixMilli()}
		if dt := newer.t.Sub(older.t).Seconds(); dt > 0 {
			if d := newer.v[seriesPublishIn]; d >= older.v[seriesPublishIn] {
				p.In = float64(d-older.v[seriesPublishIn]) / dt
			}
			if d := newer.v[seriesPublishOut]; d >= older.v[seriesPublishOut] {
				p.Out = float64(d-older.v[seriesPublishOut]) / dt
			}
		}
		dst = append(dst, p)
	}
	return dst
}
