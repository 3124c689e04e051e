package router

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkMatch measures Match per published message.
//
//	subs=1M/mixed: 900k exact devices/<i>/status, 100k devices/<i>/+, 3 devices/#,
//	               from 100k clients; publishes to random devices/<i>/status.
//	               Reports heap bytes per subscription.
//	fanout=1000:   1000 subscribers on one exact filter (aliasing fast path).
//	fanout=1000/overlap: the same 1000 also on a/+ (merge of 2000 subscriptions).
//	fanout=1000/shared=10: 1000 on a/b plus 10 shared groups.
func BenchmarkMatch(b *testing.B) {
	b.Run("subs=1M/mixed", func(b *testing.B) {
		const nExact, nWild, nClients = 900_000, 100_000, 100_000
		clients := make([]*client, nClients)
		for i := range clients {
			clients[i] = &client{id: "client-" + strconv.Itoa(i)}
		}
		topics := make([][]byte, nExact)
		for i := range topics {
			topics[i] = []byte("devices/" + strconv.Itoa(i) + "/status")
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := New()
		for i := 0; i < nExact; i++ {
			r.Subscribe(clients[i%nClients], "devices/"+strconv.Itoa(i)+"/status", Options{QoS: 1})
		}
		for i := 0; i < nWild; i++ {
			r.Subscribe(clients[(i*7)%nClients], "devices/"+strconv.Itoa(i*9)+"/+", Options{QoS: 0, SubID: 1})
		}
		for i := 0; i < 3; i++ {
			r.Subscribe(clients[i], "devices/#", Options{QoS: 0})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perSub := float64(after.HeapAlloc-before.HeapAlloc) / float64(r.Count())
		rng := rand.New(rand.NewPCG(1, 2))
		order := make([]int, 1<<16)
		for i := range order {
			order[i] = rng.IntN(nExact)
		}
		var m Matches
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuStart()
		for i := 0; b.Loop(); i++ {
			r.Match(topics[order[i&(len(order)-1)]], nil, &m)
		}
		cpu.report(b)
		b.ReportMetric(perSub, "B/sub")
		runtime.KeepAlive(r)
	})
	for _, shape := range []string{"fanout=1000", "fanout=1000/overlap", "fanout=1000/shared=10"} {
		b.Run(shape, func(b *testing.B) {
			r := New()
			for i := 0; i < 1000; i++ {
				c := &client{id: "c" + strconv.Itoa(i)}
				r.Subscribe(c, "a/b", Options{QoS: 1})
				if shape == "fanout=1000/overlap" {
					r.Subscribe(c, "a/+", Options{QoS: 2, SubID: 5})
				}
				if shape == "fanout=1000/shared=10" {
					r.Subscribe(c, "$share/g"+strconv.Itoa(i%10)+"/a/b", Options{QoS: 1})
				}
			}
			topic := []byte("a/b")
			var m Matches
			b.ReportAllocs()
			cpu := cpuStart()
			for b.Loop() {
				r.Match(topic, nil, &m)
			}
			cpu.report(b)
			if m.Len() < 1000 {
				b.Fatalf("%d deliveries", m.Len())
			}
		})
	}
}

// BenchmarkChurn runs Match on every P while one goroutine subscribes and
// unsubscribes on the same shards; ns/op is per Match, churn/s the writer's
// rate over the same time. B/op and allocs/op are process-wide, so they are
// the writer's copy-on-write allocations spread over the Match calls (Match
// itself allocates nothing, see TestMatchAllocs).
func BenchmarkChurn(b *testing.B) {
	for _, subs := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			r := New()
			cs := make([]*client, 1000)
			for i := range cs {
				cs[i] = &client{id: "c" + strconv.Itoa(i)}
			}
			for i := 0; i < subs; i++ {
				r.Subscribe(cs[i%len(cs)], "devices/"+strconv.Itoa(i)+"/status", Options{QoS: 1})
				if i%10 == 0 {
					r.Subscribe(cs[i%len(cs)], "devices/"+strconv.Itoa(i)+"/+", Options{QoS: 0})
				}
			}
			var stop atomic.Bool
			var churned atomic.Int64
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					f := "devices/" + strconv.Itoa(i%subs) + "/+"
					c := cs[i%len(cs)]
					r.Subscribe(c, f, Options{QoS: 2})
					r.Unsubscribe(c, f)
					churned.Add(2)
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var m Matches
				rng := rand.New(rand.NewPCG(rand.Uint64(), 0))
				topic := make([]byte, 0, 64)
				for pb.Next() {
					topic = append(topic[:0], "devices/"...)
					topic = strconv.AppendInt(topic, int64(rng.IntN(subs)), 10)
					topic = append(topic, "/status"...)
					r.Match(topic, nil, &m)
				}
			})
			elapsed := b.Elapsed()
			stop.Store(true)
			wg.Wait()
			b.ReportMetric(float64(churned.Load())/elapsed.Seconds(), "churn/s")
		})
	}
}

// BenchmarkSubscribe measures inserting into a large level
// (devices/<i>/+): copy-on-write must stay O(log n), not O(n).
func BenchmarkSubscribe(b *testing.B) {
	for _, pre := range []int{1000, 1_000_000} {
		b.Run(fmt.Sprintf("siblings=%d", pre), func(b *testing.B) {
			r := New()
			c := &client{id: "c"}
			for i := 0; i < pre; i++ {
				r.Subscribe(c, "devices/"+strconv.Itoa(i)+"/+", Options{})
			}
			filters := make([]string, 4096)
			for i := range filters {
				filters[i] = "devices/x" + strconv.Itoa(i) + "/+"
			}
			runtime.GC() // do not charge the setup's garbage to the loop
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				f := filters[i&4095]
				r.Subscribe(c, f, Options{})
				r.Unsubscribe(c, f)
			}
		})
	}
}

func BenchmarkRetainedMatch(b *testing.B) {
	ret := NewRetained()
	for i := 0; i < 100_000; i++ {
		ret.Set(&Message{Topic: "devices/" + strconv.Itoa(i) + "/status", Payload: []byte("x")})
	}
	for _, f := range []string{"devices/42/status", "devices/+/status", "devices/4242/#"} {
		b.Run("filter="+f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ret.Match(f, func(*Message) bool { return true })
			}
		})
	}
}

// cpuClock measures the process CPU time a benchmark loop used, reported
// as cpu-ns/op beside the wall-clock ns/op: the shared 2-core machine this
// runs on is often oversubscribed, which inflates ns/op but not CPU time.
type cpuClock struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func cpuStart() cpuClock { return cpuClock{cpuNow()} }

func (c cpuClock) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(cpuNow()-c.start)/float64(b.N), "cpu-ns/op")
	}
}
