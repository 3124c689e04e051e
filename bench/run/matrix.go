package main

import (
	"fmt"
	"strconv"

	"github.com/tsubame-mq/tsubame/bench/result"
)

// Result is one loadgen -json output (the contract lives in bench/result).
type Result = result.Result

// Record is one run of one scenario against one broker, as kept in the raw
// results file (one JSON object per line).
type Record struct {
	Rep      int     `json:"rep"`
	Scenario string  `json:"scenario"`
	Broker   string  `json:"broker"`
	Rate     float64 `json:"rate,omitempty"` // -rate passed to loadgen, if any
	Error    string  `json:"error,omitempty"`
	Result   *Result `json:"result,omitempty"`
}

// OK reports whether the run produced a measurement. A run that loadgen
// judged failed (Result.Failure, e.g. QoS 1 messages dropped by a full
// queue) still measured something: it counts, and the report flags it.
func (r Record) OK() bool { return r.Error == "" && r.Result != nil }

// Flagged reports whether loadgen judged the run failed.
func (r Record) Flagged() bool { return r.Result != nil && r.Result.Failure != "" }

// Metric is one figure a scenario reports.
type Metric struct {
	Name   string // e.g. "delivered msg/s"
	Higher bool   // higher is better
	Get    func(*Result) float64
	Format func(float64) string
}

// Scenario is one row group of the matrix.
type Scenario struct {
	ID       string
	Title    string
	Args     []string // loadgen arguments, scenario first; -addr, -pid, -duration etc. are added
	Ceiling  bool     // the ceiling relay can run it (QoS 0 over TCP only)
	NeedRate bool     // takes -rate from the mosquitto calibration
	Metrics  []Metric
}

var (
	deliveredRate = Metric{"delivered msg/s", true, func(r *Result) float64 { return r.DeliveredRate }, fmtCount}
	cpuPerMsg     = Metric{"broker CPU µs / delivered msg", false, func(r *Result) float64 { return r.BrokerCPUUSPerMsg }, fmtFloat}
	p50           = Metric{"latency p50 µs", false, func(r *Result) float64 { return r.LatencyUS.P50 }, fmtCount}
	p99           = Metric{"latency p99 µs", false, func(r *Result) float64 { return r.LatencyUS.P99 }, fmtCount}
	p999          = Metric{"latency p99.9 µs", false, func(r *Result) float64 { return r.LatencyUS.P999 }, fmtCount}
	rssPerConn    = Metric{"RSS bytes / connection", false, func(r *Result) float64 { return r.BrokerRSSPerConnBytes }, fmtBytes}
	connRate      = Metric{"connections / s", true, func(r *Result) float64 { return r.ConnRate }, fmtCount}
)

// P2PCalibrationArgs is run against mosquitto once before the matrix: the
// fixed-rate p2p row publishes at half of what mosquitto managed here.
var P2PCalibrationArgs = []string{"p2p", "-pairs", "500", "-qos", "1"}

// Matrix is the benchmark matrix of BENCHMARKS.md, in table order.
var Matrix = []Scenario{
	{ID: "fanout", Title: "fan-out 1→1000, QoS 0, 64 B", Ceiling: true,
		Args:    []string{"fanout", "-subs", "1000", "-qos", "0", "-size", "64"},
		Metrics: []Metric{deliveredRate, cpuPerMsg}},
	{ID: "fanin", Title: "fan-in 100→1, QoS 1",
		Args:    []string{"fanin", "-pubs", "100", "-qos", "1"},
		Metrics: []Metric{deliveredRate}},
	{ID: "p2p-qos1", Title: "p2p 500 pairs, QoS 1, fixed rate", NeedRate: true,
		Args:    []string{"p2p", "-pairs", "500", "-qos", "1"},
		Metrics: []Metric{p50, p99, p999}},
	{ID: "p2p-qos2", Title: "p2p 100 pairs, QoS 2",
		Args:    []string{"p2p", "-pairs", "100", "-qos", "2"},
		Metrics: []Metric{deliveredRate, p99}},
	{ID: "conn10k", Title: "10000 idle connections", Ceiling: true,
		Args:    []string{"conn", "-conns", "10000"},
		Metrics: []Metric{rssPerConn, connRate}},
	{ID: "conn19k", Title: "19000 idle connections", Ceiling: true,
		Args:    []string{"conn", "-conns", "19000"},
		Metrics: []Metric{rssPerConn, connRate}},
	{ID: "fanout-ws", Title: "fan-out 1→1000 over WebSocket, QoS 0, 64 B",
		Args:    []string{"fanout", "-subs", "1000", "-qos", "0", "-size", "64", "-transport", "ws"},
		Metrics: []Metric{deliveredRate}},
}

func scenarioByID(id string) (Scenario, bool) {
	for _, s := range Matrix {
		if s.ID == id {
			return s, true
		}
	}
	return Scenario{}, false
}

// fmtCount prints 3 significant figures with k/M suffixes: 1.23M, 45.6k, 789.
func fmtCount(v float64) string {
	switch {
	case v >= 1e6:
		return trim(v/1e6) + "M"
	case v >= 1e3:
		return trim(v/1e3) + "k"
	default:
		return trim(v)
	}
}

func trim(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func fmtFloat(v float64) string { return trim(v) }

func fmtBytes(v float64) string {
	switch {
	case v >= 1<<20:
		return trim(v/(1<<20)) + " MiB"
	case v >= 1<<10:
		return trim(v/(1<<10)) + " KiB"
	default:
		return fmt.Sprintf("%.0f B", v)
	}
}
