package main

import "github.com/tsubame-mq/tsubame/bench/loadgen/internal/stats"

func histOf(vs ...int64) *stats.Histogram {
	h := new(stats.Histogram)
	for _, v := range vs {
		h.Record(v)
	}
	return h
}
