package metrics

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tsubame-mq/tsubame/codec"
)

// fakeClock is a settable clock for Rates and uptime.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTest(t *testing.T, shards int) (*Metrics, *fakeClock) {
	t.Helper()
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	return New(Config{Shards: shards, Version: "1.2.3", Now: c.now}), c
}

func TestConcurrentIncrementsSumAcrossShards(t *testing.T) {
	m, _ := newTest(t, 4)
	l := m.Listener("tcp", "tcp", "127.0.0.1:1883", false)
	const workers, per = 8, 1000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := m.Shard(w) // two workers per shard: contended atomics must still add up
			for i := 0; i < per; i++ {
				s.PacketIn(codec.PUBLISH)
				s.PacketOut(codec.PUBACK)
				s.BytesIn(10)
				s.BytesOut(20)
				s.Received(1)
				s.Delivered(byte(i % 3))
				s.Dropped(0, DropQueueFull)
				s.AddInflight(1)
				s.AddInflight(-1)
				s.AddQueued(1)
				s.ConnAck(codec.Success)
				s.ObserveLatency(int64(i))
				l.Opened()
				l.Closed(CloseNormal)
			}
		}(w)
	}
	var reads sync.WaitGroup
	reads.Add(1)
	go func() { // readers run beside writers: -race must stay quiet
		defer reads.Done()
		var tot Totals
		for i := 0; i < 50; i++ {
			m.Read(&tot)
		}
	}()
	wg.Wait()
	reads.Wait()

	var tot Totals
	m.Read(&tot)
	n := uint64(workers * per)
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"packets in publish", tot.PacketsIn[codec.PUBLISH], n},
		{"packets out puback", tot.PacketsOut[codec.PUBACK], n},
		{"packets in total", tot.PacketsInTotal(), n},
		{"bytes in", tot.BytesIn, 10 * n},
		{"bytes out", tot.BytesOut, 20 * n},
		{"received qos1", tot.Received[1], n},
		{"delivered", tot.DeliveredTotal(), n},
		{"dropped", tot.DroppedTotal(), n},
		{"dropped queue full qos0", tot.Dropped[DropQueueFull][0], n},
		{"connack success", tot.ConnAcks[codec.Success], n},
		{"disconnect normal", tot.Disconnects[CloseNormal], n},
		{"listener total", l.Total(), n},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if tot.Inflight != 0 || tot.Queued != int64(n) || l.Current() != 0 || tot.ConnectionsCurrent != 0 {
		t.Errorf("gauges inflight=%d queued=%d listener=%d conns=%d", tot.Inflight, tot.Queued, l.Current(), tot.ConnectionsCurrent)
	}
	if tot.ConnectionsMax < 1 || tot.ConnectionsMax > workers {
		t.Errorf("connections max = %d, want 1..%d", tot.ConnectionsMax, workers)
	}
	var h HistogramSnapshot
	m.Latency(&h)
	if h.Count() != n {
		t.Errorf("latency count = %d, want %d", h.Count(), n)
	}
}

func TestShardIndexWraps(t *testing.T) {
	m, _ := newTest(t, 3)
	if m.Shard(4) != m.Shard(1) || m.Shard(-1) != m.Shard(1) || m.Shards() != 3 {
		t.Fatal("Shard does not wrap modulo the shard count")
	}
	if New(Config{}).Shards() < 1 {
		t.Fatal("default shard count < 1")
	}
}

func TestOutOfRangeEnumsDoNotPanic(t *testing.T) {
	m, _ := newTest(t, 1)
	s := m.Shard(0)
	s.Dropped(7, DropReason(200))
	s.Received(3) // qos 3 is folded, never an index panic
	s.PacketIn(codec.PacketType(0xff))
	m.Listener("a", "tcp", "", false).Closed(CloseReason(250))
	if CloseReason(250).String() != "unknown" || DropReason(99).String() != "unknown" {
		t.Error("unknown enum names")
	}
	if CloseKeepAliveTimeout.String() != "keepalive_timeout" || DropExpired.String() != "expired" {
		t.Error("enum names")
	}
}

func TestListenerRegistration(t *testing.T) {
	m, _ := newTest(t, 1)
	a := m.Listener("tcp", "tcp", ":1883", false)
	b := m.Listener("ws", "ws", ":8083", true)
	if m.Listener("tcp", "x", "y", true) != a {
		t.Fatal("second registration of a name must return the first")
	}
	ls := m.Listeners()
	if len(ls) != 2 || ls[0] != a || ls[1] != b || !b.TLS || b.Type != "ws" {
		t.Fatalf("listeners = %+v", ls)
	}
	a.Opened()
	a.Opened()
	b.Opened()
	a.Closed(CloseKeepAliveTimeout)
	var tot Totals
	m.Read(&tot)
	if a.Current() != 1 || a.Total() != 2 || b.Current() != 1 || tot.ConnectionsCurrent != 2 || tot.ConnectionsMax != 3 {
		t.Fatalf("a=%d/%d b=%d conns=%d max=%d", a.Current(), a.Total(), b.Current(), tot.ConnectionsCurrent, tot.ConnectionsMax)
	}
	if tot.Disconnects[CloseKeepAliveTimeout] != 1 {
		t.Fatal("disconnect reason not counted")
	}
}

func TestRatesWithFakeClock(t *testing.T) {
	m, clk := newTest(t, 2)
	if r := m.Rates(); r != (Rates{}) {
		t.Fatalf("rates before samples = %+v", r)
	}
	m.Sample(clk.t)
	// 61 seconds: 100 msgs/s in, 300 msgs/s out for the first 60 s, then a
	// last second of 1000 in.
	for sec := 1; sec <= 61; sec++ {
		in, out := 100, 300
		if sec == 61 {
			in, out = 1000, 0
		}
		for i := 0; i < in; i++ {
			m.Shard(i).Received(0)
		}
		m.Shard(0).DeliveredN(1, out)
		m.Shard(1).BytesIn(in * 10)
		clk.t = clk.t.Add(time.Second)
		m.Sample(clk.t)
	}
	r := m.Rates()
	approx := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	approx("in_1s", r.In1s, 1000)
	approx("out_1s", r.Out1s, 0)
	approx("in_1m", r.In1m, float64(59*100+1000)/60)
	approx("out_1m", r.Out1m, float64(59*300)/60)
	approx("bytes_in_1s", r.BytesIn1s, 10000)

	h := m.History(nil, 300)
	if len(h) != 61 {
		t.Fatalf("history has %d points, want 61", len(h))
	}
	if h[0].In != 100 || h[0].Out != 300 || h[60].In != 1000 || h[60].T != clk.t.UnixMilli() {
		t.Errorf("history first=%+v last=%+v", h[0], h[60])
	}
	if h := m.History(nil, 5); len(h) != 5 || h[4].In != 1000 {
		t.Errorf("history max 5 = %+v", h)
	}
}

func TestRatesUseElapsedTimeNotSampleCount(t *testing.T) {
	m, clk := newTest(t, 1)
	m.Sample(clk.t)
	for i := 0; i < 500; i++ {
		m.Shard(0).Received(0)
	}
	clk.t = clk.t.Add(2 * time.Second) // a late tick
	m.Sample(clk.t)
	if r := m.Rates(); r.In1s != 250 {
		t.Fatalf("in_1s = %v, want 250 over a 2 s gap", r.In1s)
	}
}

func TestRingWrapsAfterFifteenMinutes(t *testing.T) {
	m, clk := newTest(t, 1)
	for i := 0; i < ringSize+100; i++ {
		m.Shard(0).Received(0)
		m.Shard(0).Received(0)
		m.Sample(clk.t)
		clk.t = clk.t.Add(time.Second)
	}
	if r := m.Rates(); r.In1m != 2 || r.In1s != 2 {
		t.Fatalf("rates after wrap = %+v", r)
	}
	if h := m.History(nil, 300); len(h) != 300 {
		t.Fatalf("history len = %d", len(h))
	}
}

func TestStartStop(t *testing.T) {
	m := New(Config{Shards: 1})
	m.Start()
	m.Start()
	m.Stop()
	m.Stop()
	m.rates.mu.Lock()
	n := m.rates.n
	m.rates.mu.Unlock()
	if n < 1 {
		t.Fatal("Start did not take a first sample")
	}
}

func TestSysTopics(t *testing.T) {
	m, clk := newTest(t, 2)
	m.SetGauges(Gauges{
		Retained:      func() int64 { return 7 },
		Subscriptions: func() int64 { return 11 },
		Sessions:      func() int64 { return 5 },
	})
	l := m.Listener("tcp", "tcp", ":1883", false)
	l.Opened()
	l.Opened()
	l.Opened()
	l.Closed(CloseNormal)
	s := m.Shard(0)
	m.Sample(clk.t)
	for i := 0; i < 120; i++ {
		s.PacketIn(codec.PUBLISH)
		s.Received(0)
	}
	s.PacketOut(codec.CONNACK)
	s.Delivered(0)
	s.Dropped(1, DropExpired)
	s.BytesIn(1234)
	s.BytesOut(99)
	s.AddQueued(3)
	clk.t = clk.t.Add(60 * time.Second)
	m.Sample(clk.t)
	clk.t = clk.t.Add(2500 * time.Millisecond)

	got := map[string]string{}
	for _, v := range m.SysTopics(clk.t, nil) {
		if !strings.HasPrefix(v.Topic, "$SYS/broker/") {
			t.Errorf("topic %q outside $SYS/broker/", v.Topic)
		}
		if _, dup := got[v.Topic]; dup {
			t.Errorf("duplicate topic %q", v.Topic)
		}
		got[v.Topic] = v.Value
	}
	want := map[string]string{
		"version":                     "tsubame version 1.2.3",
		"uptime":                      "62 seconds",
		"clients/connected":           "2",
		"clients/disconnected":        "3",
		"clients/maximum":             "3",
		"clients/total":               "5",
		"messages/received":           "120",
		"messages/sent":               "1",
		"messages/stored":             "10",
		"store/messages/count":        "10",
		"publish/messages/received":   "120",
		"publish/messages/sent":       "1",
		"publish/messages/dropped":    "1",
		"bytes/received":              "1234",
		"bytes/sent":                  "99",
		"subscriptions/count":         "11",
		"retained messages/count":     "7",
		"load/publish/received/1min":  "120.00",
		"load/messages/received/5min": "120.00",
		"load/bytes/received/15min":   "1234.00",
		"load/bytes/sent/1min":        "99.00",
		"load/publish/sent/1min":      "1.00",
		"load/messages/sent/15min":    "1.00",
	}
	for k, v := range want {
		if got[SysPrefix+k] != v {
			t.Errorf("%s = %q, want %q", k, got[SysPrefix+k], v)
		}
	}
	if got[SysPrefix+"heap/current"] == "" || got[SysPrefix+"heap/current"] == "0" {
		t.Errorf("heap/current = %q", got[SysPrefix+"heap/current"])
	}
	if n := len(got); n != 18+18 {
		t.Errorf("%d topics, want 36", n)
	}
}

func TestSysTopicsWithoutSessionGauge(t *testing.T) {
	m, clk := newTest(t, 1)
	m.Listener("tcp", "tcp", "", false).Opened()
	for _, v := range m.SysTopics(clk.t, nil) {
		if v.Topic == SysPrefix+"clients/total" && v.Value != "1" {
			t.Fatalf("clients/total = %q, want connected count 1", v.Value)
		}
	}
}

func TestHistogramBuckets(t *testing.T) {
	cases := []struct {
		ns   int64
		want int
	}{
		{-5, 0}, {0, 0}, {1, 0}, {1024, 0}, {1025, 1}, {2048, 1}, {2049, 2},
		{1 << 20, 10}, {1<<20 + 1, 11}, {1 << 34, 24}, {1<<34 + 1, 25}, {math.MaxInt64, 25},
	}
	for _, c := range cases {
		if got := bucketOf(c.ns); got != c.want {
			t.Errorf("bucketOf(%d) = %d, want %d", c.ns, got, c.want)
		}
		if c.ns > 0 && c.want < histBuckets-1 {
			if ub := BucketUpperBound(c.want); float64(c.ns) > ub {
				t.Errorf("%d above its bucket bound %v", c.ns, ub)
			}
		}
	}
	var h Histogram
	for i := 0; i < 90; i++ {
		h.Observe(1000) // bucket 0
	}
	for i := 0; i < 10; i++ {
		h.Observe(1_000_000) // ~1 ms, bucket 10 (<= 2^20)
	}
	var s HistogramSnapshot
	h.addTo(&s)
	if s.Count() != 100 || s.Sum != 90*1000+10*1_000_000 {
		t.Fatalf("count=%d sum=%d", s.Count(), s.Sum)
	}
	if q := s.Quantile(0.5); q != 1024 {
		t.Errorf("p50 = %v", q)
	}
	if q := s.Quantile(0.99); q != 1<<20 {
		t.Errorf("p99 = %v", q)
	}
	if q := (&HistogramSnapshot{}).Quantile(0.5); q != 0 {
		t.Errorf("empty p50 = %v", q)
	}
}

func TestConnAckReasonName(t *testing.T) {
	if ConnAckReasonName(codec.Success) != "success" || ConnAckReasonName(codec.BadUsernameOrPassword) != "bad_user_name_or_password" {
		t.Error("named codes")
	}
	if got := ConnAckReasonName(0x05); got != "0x05" {
		t.Errorf("unnamed = %q", got)
	}
}

// scrape gathers reg and returns it parsed by the text-format parser, as
// Prometheus would see it.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	out, err := p.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, b.String())
	}
	return out
}

// Value returns the value of the sample of family name whose labels match.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	mf := fams[name]
	if mf == nil {
		t.Fatalf("no family %s", name)
	}
next:
	for _, m := range mf.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	t.Fatalf("%s%v not found", name, labels)
	return 0
}

// Prometheus: the collector reports exactly the counters' values.
func TestCollector(t *testing.T) {
	m, _ := newTest(t, 2)
	m.SetGauges(Gauges{Retained: func() int64 { return 4 }, Subscriptions: func() int64 { return 9 }})
	tcp := m.Listener("tcp", "tcp", ":1883", false)
	ws := m.Listener("wss", "ws", ":8084", true)
	tcp.Opened()
	tcp.Opened()
	ws.Opened()
	ws.Closed(CloseAdminKick)
	a, b := m.Shard(0), m.Shard(1)
	a.PacketIn(codec.CONNECT)
	b.PacketIn(codec.PUBLISH)
	b.PacketIn(codec.PUBLISH)
	a.PacketOut(codec.SUBACK)
	a.Received(2)
	b.Delivered(1)
	b.Delivered(1)
	a.Dropped(0, DropSlowConsumer)
	a.AddInflight(3)
	b.AddQueued(6)
	a.BytesIn(100)
	b.BytesOut(250)
	a.ConnAck(codec.Success)
	b.ConnAck(codec.BadUsernameOrPassword)
	a.ObserveLatency(500)       // <= 1.024 µs
	b.ObserveLatency(3_000_000) // 3 ms

	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	f := scrape(t, reg)
	cases := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tsubame_connections", []string{"listener", "tcp", "type", "tcp", "tls", "false"}, 2},
		{"tsubame_connections", []string{"listener", "wss", "tls", "true"}, 0},
		{"tsubame_connections_opened_total", []string{"listener", "wss"}, 1},
		{"tsubame_disconnects_total", []string{"reason", "admin_kick"}, 1},
		{"tsubame_disconnects_total", []string{"reason", "normal"}, 0},
		{"tsubame_connects_total", []string{"reason", "success"}, 1},
		{"tsubame_connects_total", []string{"reason", "bad_user_name_or_password"}, 1},
		{"tsubame_packets_received_total", []string{"type", "publish"}, 2},
		{"tsubame_packets_received_total", []string{"type", "connect"}, 1},
		{"tsubame_packets_sent_total", []string{"type", "suback"}, 1},
		{"tsubame_messages_received_total", []string{"qos", "2"}, 1},
		{"tsubame_messages_delivered_total", []string{"qos", "1"}, 2},
		{"tsubame_messages_dropped_total", []string{"qos", "0", "reason", "slow_consumer"}, 1},
		{"tsubame_messages_dropped_total", []string{"qos", "1", "reason", "queue_full"}, 0},
		{"tsubame_inflight_messages", nil, 3},
		{"tsubame_queued_messages", nil, 6},
		{"tsubame_retained_messages", nil, 4},
		{"tsubame_subscriptions", nil, 9},
		{"tsubame_received_bytes_total", nil, 100},
		{"tsubame_sent_bytes_total", nil, 250},
	}
	for _, c := range cases {
		if got := value(t, f, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	hist := f["tsubame_delivery_latency_seconds"].Metric[0].Histogram
	if hist.GetSampleCount() != 2 || math.Abs(hist.GetSampleSum()-0.0030005) > 1e-12 {
		t.Errorf("latency count=%d sum=%v", hist.GetSampleCount(), hist.GetSampleSum())
	}
	for _, bk := range hist.Bucket {
		ub, n := bk.GetUpperBound(), bk.GetCumulativeCount()
		want := uint64(0)
		if ub >= 1024e-9 {
			want = 1
		}
		if ub >= 3e-3 {
			want = 2
		}
		if n != want {
			t.Errorf("bucket le=%v has %d, want %d", ub, n, want)
		}
	}
}
