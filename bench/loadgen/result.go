package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/tsubame-mq/tsubame/bench/loadgen/internal/stats"
	"github.com/tsubame-mq/tsubame/bench/result"
)

// Result is the -json output, defined in bench/result so bench/run reads
// the same type; the methods here fill it in.
type Result struct{ result.Result }

// Latency and ConnLatency are the result's latency distributions.
type (
	Latency     = result.Latency
	ConnLatency = result.ConnLatency
)

func newResult(cfg *Config) *Result {
	r := &Result{result.Result{Scenario: cfg.Scenario, Transport: cfg.Transport, Version: int(cfg.Version), QoS: int(cfg.QoS), Size: cfg.Size}}
	if cfg.Scenario == scP2P {
		r.Pairs = cfg.Pairs
	}
	if cfg.Scenario == scConn {
		r.Conns = cfg.Conns
	}
	return r
}

func (r *Result) fail(err error) (*Result, error) {
	r.Failure = err.Error()
	return r, err
}

func usLatency(h *stats.Histogram) Latency {
	us := func(ns int64) float64 { return float64(ns/100) / 10 } // 0.1 µs resolution
	return Latency{P50: us(h.Quantile(0.5)), P90: us(h.Quantile(0.9)), P99: us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)), Max: us(h.Max()), Mean: float64(int64(h.Mean()/100)) / 10}
}

// fill sets the window rates, latency and process figures.
func (r *Result) fill(w0, w1 sample, sent, delivered uint64, h *stats.Histogram) {
	wall := w1.at.Sub(w0.at)
	r.DurationS = wall.Seconds()
	r.Sent, r.Delivered = sent, delivered
	if wall > 0 {
		r.SentRate = float64(w1.sent-w0.sent) / wall.Seconds()
		r.DeliveredRate = float64(w1.delivered-w0.delivered) / wall.Seconds()
		r.LoadgenCPUPct = 100 * (w1.self - w0.self).Seconds() / wall.Seconds() / float64(runtime.NumCPU())
	}
	r.LatencyUS = usLatency(h)
	if w0.brokerErr == nil && w1.brokerErr == nil && w1.broker.rss > 0 {
		r.BrokerRSSBytes = w1.broker.rss
		msgs := w1.delivered - w0.delivered
		if msgs == 0 {
			msgs = w1.sent - w0.sent // pub: the broker's work is ingest
		}
		if msgs > 0 {
			r.BrokerCPUUSPerMsg = float64((w1.broker.cpu - w0.broker.cpu).Microseconds()) / float64(msgs)
		}
	}
}

// account sums the subscribers' sequence trackers.
func (r *Result) account(subs []*subscriber, streams []*stream, base uint) {
	for _, s := range subs {
		for i := range s.seqs {
			q := &s.seqs[i]
			st := streams[int(s.lo)+i-int(base)]
			sent := st.sent.Load()
			r.Expected += sent
			r.Lost += q.Lost(sent)
			r.Duplicated += q.Dup
			r.Reordered += q.Reorder
		}
		for _, q := range s.other { // passive: the publisher's count is unknown
			r.Expected += q.Next()
			r.Lost += q.Lost(0)
			r.Duplicated += q.Dup
			r.Reordered += q.Reorder
		}
		r.Errors += s.unexpected + s.foreign
	}
}

// WriteText prints the result for people.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "scenario %s  transport %s  v%d  qos %d  size %d  pubs %d subs %d pairs %d conns %d\n",
		r.Scenario, r.Transport, r.Version, r.QoS, r.Size, r.Pubs, r.Subs, r.Pairs, r.Conns)
	if r.Scenario == scConn {
		fmt.Fprintf(w, "connected %.0f/s  connect latency us p50 %.0f p99 %.0f max %.0f\n",
			r.ConnRate, r.ConnLatencyUS.P50, r.ConnLatencyUS.P99, r.ConnLatencyUS.Max)
	} else {
		fmt.Fprintf(w, "window %.2fs  sent %d (%.0f/s)  delivered %d (%.0f/s)  expected %d\n",
			r.DurationS, r.Sent, r.SentRate, r.Delivered, r.DeliveredRate, r.Expected)
		fmt.Fprintf(w, "lost %d  duplicated %d  reordered %d  unacked %d\n", r.Lost, r.Duplicated, r.Reordered, r.Unacked)
		l := r.LatencyUS
		fmt.Fprintf(w, "latency us p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f mean %.1f\n", l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	}
	fmt.Fprintf(w, "broker cpu %.2f us/msg  rss %d B (%.0f B/conn)  loadgen cpu %.1f%%  errors %d\n",
		r.BrokerCPUUSPerMsg, r.BrokerRSSBytes, r.BrokerRSSPerConnBytes, r.LoadgenCPUPct, r.Errors)
	if r.Failure != "" {
		fmt.Fprintf(w, "FAILED: %s\n", r.Failure)
	}
}
