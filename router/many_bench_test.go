package router

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkSubscribeManyOnOneTopic builds a list of n subscribers on one
// filter (a broadcast topic such as news/all) from empty; one op is the whole
// build, ns/sub and B/sub are per Subscribe. Copy-on-write of the whole list
// made this O(n) per Subscribe (O(n^2) per build); it must stay flat in n.
func BenchmarkSubscribeManyOnOneTopic(b *testing.B) {
	for _, n := range []int{1000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			cs := make([]*client, n)
			for i := range cs {
				cs[i] = &client{id: "c" + strconv.Itoa(i)}
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			for b.Loop() {
				r := New()
				for _, c := range cs {
					r.Subscribe(c, "news/all", Options{QoS: 1})
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sub")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N*n), "B/sub")
		})
	}
}

// BenchmarkUnsubscribeManyOnOneTopic removes one subscriber from a list of n
// on one filter and adds it back (one op = the pair), cycling through all
// members so removals hit every chunk.
func BenchmarkUnsubscribeManyOnOneTopic(b *testing.B) {
	for _, n := range []int{1000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			cs := make([]*client, n)
			r := New()
			for i := range cs {
				cs[i] = &client{id: "c" + strconv.Itoa(i)}
				r.Subscribe(cs[i], "news/all", Options{QoS: 1})
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				c := cs[(i*7919)%n]
				if !r.Unsubscribe(c, "news/all") {
					b.Fatal("not subscribed")
				}
				r.Subscribe(c, "news/all", Options{QoS: 1})
			}
		})
	}
}
