package engine

import (
	"fmt"
	"slices"
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
// alternating read by read in the same process so that machine noise (this
// runs on a shared, oversubscribed VM) hits both sides alike. Each read is
// timed on its own; it reports the median ns per read of each side and
// "overhead_%" = (median over pairs of on/off - 1) * 100, which discards
// the outliers a noisy neighbour causes. The per-client counters the admin API
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
	// One read per side per pair, order alternating, each timed on its
	// own: a burst of noise hits one pair, and the median of the paired
	// ratios discards it.
	tOn := make([]time.Duration, 0, b.N)
	tOff := make([]time.Duration, 0, b.N)
	ratio := make([]float64, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		first, second := on, off
		if i%2 == 1 {
			first, second = off, on
		}
		t0 := time.Now()
		first.step(b)
		t1 := time.Now()
		second.step(b)
		t2 := time.Now()
		dOn, dOff := t1.Sub(t0), t2.Sub(t1)
		if first == off {
			dOn, dOff = dOff, dOn
		}
		tOn, tOff = append(tOn, dOn), append(tOff, dOff)
		ratio = append(ratio, float64(dOn)/float64(max(dOff, 1)))
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
	b.ReportMetric(float64(median(tOn).Nanoseconds()), "ns/read-on")
	b.ReportMetric(float64(median(tOff).Nanoseconds()), "ns/read-off")
	b.ReportMetric((median(ratio)-1)*100, "overhead_%")
}

func median[T time.Duration | float64](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
