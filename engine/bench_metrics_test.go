package engine

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/metrics"
)

// pubRig is one in-memory publish setup (broker, worker, subscribers, a
// publisher and its read) that can be driven one read at a time.
type pubRig struct {
	b    *Broker
	w    *worker
	pub  *client
	subs []*client
	mts  []*memTransport
	read []byte
	qos  byte
}

// newPubRig builds the BenchmarkPublish setup; with counters false the
// worker counts into a metrics.Config{Disabled: true} shard, so every
// metrics.Shard call on the publish path returns at once.
func newPubRig(tb testing.TB, ver, qos byte, subs, size, batch int, counters bool) *pubRig {
	br, w, lis := benchBroker(tb)
	if !counters {
		w.ms = metrics.New(metrics.Config{Shards: 1, Disabled: true}).Shard(0)
	}
	r := &pubRig{b: br, w: w, qos: qos}
	for i := 0; i < subs; i++ {
		c, mt := memClient(tb, br, w, lis, fmt.Sprintf("sub%d", i), ver, "bench/topic", qos)
		mt.autoAck = true
		r.mts = append(r.mts, mt)
		r.subs = append(r.subs, c)
	}
	r.pub, _ = memClient(tb, br, w, lis, "pub", ver, "", 0)
	payload := make([]byte, size)
	for i := 0; i < batch; i++ {
		r.read = codec.AppendPublish(r.read, ver, false, qos, false, "bench/topic", uint16(i+1), nil, payload)
	}
	return r
}

// step feeds one read of PUBLISH packets and drains every acknowledgement,
// exactly like one iteration of BenchmarkPublish.
func (r *pubRig) step(tb testing.TB) {
	w := r.w
	w.tick()
	if n, closeNow := r.pub.input(w, r.read); n != len(r.read) || closeNow {
		tb.Fatal("publish failed")
	}
	w.flushTurn()
	for more := r.qos > 0; more; {
		more = false
		for j, mt := range r.mts {
			if len(mt.acks) > 0 {
				acks := mt.acks
				mt.acks = nil
				r.subs[j].input(w, acks)
				more = true
			}
		}
		w.flushTurn()
	}
}

func (r *pubRig) delivered() int {
	n := 0
	for _, mt := range r.mts {
		n += mt.pubs
	}
	return n
}

// BenchmarkPublishCounters measures what the metrics counters cost the
// publish path: the same read is fed to two identical in-memory brokers,
// one counting into a normal metrics.Shard and one into a Disabled shard,
// alternating every round in the same process so that machine noise (this
// runs on a shared, oversubscribed VM) hits both sides alike. Each side's
// time is the median of rounds of 64 reads, which discards the outliers a
// noisy neighbour causes. It reports ns per read for each side and
// "overhead_%" = (on/off - 1) * 100. The per-client counters the admin API
// shows (messages and bytes in/out on the client) are plain atomics in the
// engine and stay on in both rigs; the switch covers the metrics package.
//
// Run: go test -run '^$' -bench PublishCounters -count 6 ./engine/
func BenchmarkPublishCounters(b *testing.B) {
	for _, ver := range []byte{codec.V311, codec.V5} {
		for _, qos := range []byte{0, 1} {
			for _, subs := range []int{1, 100} {
				name := fmt.Sprintf("v=%d/qos=%d/subs=%d/size=64b", ver, qos, subs)
				b.Run(name, func(b *testing.B) { benchCounters(b, ver, qos, subs, 64, 32) })
			}
		}
	}
}

func benchCounters(b *testing.B, ver, qos byte, subs, size, batch int) {
	on := newPubRig(b, ver, qos, subs, size, batch, true)
	off := newPubRig(b, ver, qos, subs, size, batch, false)
	for i := 0; i < 16; i++ { // warm both: pools, slices, caches
		on.step(b)
		off.step(b)
	}
	const round = 64 // reads per timed round: long enough to dwarf time.Now
	var tOn, tOff []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(round, b.N-done)
		// Alternate which side goes first so neither always runs on a
		// cache the other just warmed.
		first, second := on, off
		if len(tOn)%2 == 1 {
			first, second = off, on
		}
		var d [2]time.Duration
		for k, r := range []*pubRig{first, second} {
			t0 := time.Now()
			for i := 0; i < n; i++ {
				r.step(b)
			}
			d[k] = time.Since(t0) / time.Duration(n)
		}
		if first == on {
			tOn, tOff = append(tOn, d[0]), append(tOff, d[1])
		} else {
			tOn, tOff = append(tOn, d[1]), append(tOff, d[0])
		}
		done += n
	}
	b.StopTimer()

	want := (b.N + 16) * batch * subs
	if got := on.delivered(); got < want {
		b.Fatalf("counters on: delivered %d of %d", got, want)
	}
	if got := off.delivered(); got < want {
		b.Fatalf("counters off: delivered %d of %d", got, want)
	}
	// The rigs must differ in exactly what is measured: the "on" broker
	// counted every delivery, the "off" one nothing.
	var tot metrics.Totals
	on.b.metrics.Read(&tot)
	if tot.DeliveredTotal() < uint64(want) {
		b.Fatalf("counters on: metrics saw %d deliveries, want >= %d", tot.DeliveredTotal(), want)
	}
	if off.w.ms == on.w.ms {
		b.Fatal("both rigs count into the same shard")
	}
	mOn, mOff := median(tOn), median(tOff)
	b.ReportMetric(float64(mOn.Nanoseconds()), "ns/read-on")
	b.ReportMetric(float64(mOff.Nanoseconds()), "ns/read-off")
	b.ReportMetric((float64(mOn)/float64(mOff)-1)*100, "overhead_%")
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
