package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsubame-mq/tsubame/bench/loadgen/internal/stats"
	"github.com/tsubame-mq/tsubame/codec"
)

// setupWorkers is how many connections are set up concurrently.
const setupWorkers = 64

// subPlan is one subscriber of a scenario: its filter and the stream ids
// [lo, hi) it must receive.
type subPlan struct {
	filter  string
	lo, hi  uint32
	passive bool
}

// plan lays out a message scenario: publishers with their streams, and
// subscribers with the streams they expect. Stream ids start at -id-base.
//
//	fanin   pub j -> topic/j (or topic)      sub -> topic/+ (or topic)  expects all
//	fanout  pub 0 -> topic                   sub k -> topic             expects stream 0
//	p2p     pub i -> topic/i                 sub i -> topic/i           expects stream i
//	wild    pub j -> topic/p<j>/<k>, all k   sub k -> topic/+/<k>       expects k*P .. k*P+P-1
//	pub     pub j -> topic                   (no subscribers)
//	sub     (no publishers)                  sub k -> topic as given    whatever arrives
func plan(cfg *Config) (pubs [][]*stream, subs []subPlan) {
	base := uint32(cfg.IDBase)
	t := cfg.Topic
	one := func(id int, topic string) []*stream { return []*stream{{id: base + uint32(id), topic: topic}} }
	switch cfg.Scenario {
	case scPub:
		for j := 0; j < cfg.Pubs; j++ {
			pubs = append(pubs, one(j, t))
		}
	case scSub:
		for k := 0; k < cfg.Subs; k++ {
			subs = append(subs, subPlan{filter: t, passive: true})
		}
	case scFanin:
		for j := 0; j < cfg.Pubs; j++ {
			topic := t + "/" + strconv.Itoa(j)
			if cfg.SharedTopic {
				topic = t
			}
			pubs = append(pubs, one(j, topic))
		}
		f := t + "/+"
		if cfg.SharedTopic {
			f = t
		}
		subs = append(subs, subPlan{filter: f, lo: base, hi: base + uint32(cfg.Pubs)})
	case scFanout:
		pubs = append(pubs, one(0, t))
		for k := 0; k < cfg.Subs; k++ {
			subs = append(subs, subPlan{filter: t, lo: base, hi: base + 1})
		}
	case scP2P:
		for i := 0; i < cfg.Pairs; i++ {
			topic := t + "/" + strconv.Itoa(i)
			pubs = append(pubs, one(i, topic))
			subs = append(subs, subPlan{filter: topic, lo: base + uint32(i), hi: base + uint32(i) + 1})
		}
	case scWild:
		P, S := cfg.Pubs, cfg.Subs
		for j := 0; j < P; j++ {
			var ss []*stream
			for k := 0; k < S; k++ {
				ss = append(ss, &stream{id: base + uint32(k*P+j), topic: t + "/p" + strconv.Itoa(j) + "/" + strconv.Itoa(k)})
			}
			pubs = append(pubs, ss)
		}
		for k := 0; k < S; k++ {
			subs = append(subs, subPlan{filter: t + "/+/" + strconv.Itoa(k), lo: base + uint32(k*P), hi: base + uint32(k*P+P)})
		}
	}
	return pubs, subs
}

// runner holds the shared state of one run.
type runner struct {
	cfg       *Config
	log       io.Writer
	logMu     sync.Mutex
	errs      atomic.Uint64
	errLines  atomic.Int64
	closing   atomic.Bool
	win       window
	clients   []*client
	keepAlive int // shortest keepalive any connection is held to, seconds; 0 = none
	cmu       sync.Mutex
}

func (r *runner) logf(format string, args ...any) {
	r.logMu.Lock()
	fmt.Fprintf(r.log, format+"\n", args...)
	r.logMu.Unlock()
}

// maxErrorLines bounds error lines on stderr: 19k dropped connections are
// one count in the result, not 19k lines.
const maxErrorLines = 20

// errorf logs an error line unless maxErrorLines were already logged.
func (r *runner) errorf(format string, args ...any) {
	if n := r.errLines.Add(1); n <= maxErrorLines {
		r.logf(format, args...)
	} else if n == maxErrorLines+1 {
		r.logf("(further error lines suppressed; the errors field counts them)")
	}
}

func (r *runner) track(c *client) {
	r.cmu.Lock()
	r.clients = append(r.clients, c)
	if c.keepAlive > 0 && (r.keepAlive == 0 || c.keepAlive < r.keepAlive) {
		r.keepAlive = c.keepAlive
	}
	r.cmu.Unlock()
}

// pinger sends PINGREQ on every connection each half of the shortest
// keepalive in force, so idle subscribers and held connections never go
// silent for a keepalive period [MQTT-3.1.2-20]. One goroutine for all
// connections: 19k held connections cost 19k small writes per period, not
// 19k timers.
func (r *runner) pinger(stop <-chan struct{}) {
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		r.cmu.Lock()
		cs, ka := r.clients, r.keepAlive
		r.cmu.Unlock()
		if ka == 0 { // nobody connected yet, or keepalive off
			t.Reset(100 * time.Millisecond)
			continue
		}
		for _, c := range cs {
			_ = c.send(pingreq)
		}
		t.Reset(time.Duration(ka) * time.Second / 2)
	}
}

func (r *runner) closeAll() {
	r.closing.Store(true)
	r.cmu.Lock()
	cs := r.clients
	r.cmu.Unlock()
	var wg sync.WaitGroup
	ch := make(chan *client)
	for i := 0; i < setupWorkers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range ch {
				c.close()
			}
		}()
	}
	for _, c := range cs {
		ch <- c
	}
	close(ch)
	wg.Wait()
}

// parallel runs f(0..n-1) on setupWorkers goroutines and returns the first error.
func parallel(ctx context.Context, n int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	w := setupWorkers
	if n < w {
		w = n
	}
	for g := 0; g < w; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// Run executes one scenario and returns its result. The error is non-nil
// when the run failed (setup, QoS 1/2 loss, QoS 2 duplicates); the result is
// then still filled in as far as it got.
func Run(ctx context.Context, cfg *Config, log io.Writer) (*Result, error) {
	if cfg.Scenario == scConn {
		return runConn(ctx, cfg, log)
	}
	r := &runner{cfg: cfg, log: log}
	r.win.start.Store(math.MaxInt64)
	r.win.end.Store(math.MaxInt64)
	res := newResult(cfg)
	pubPlans, subPlans := plan(cfg)
	res.Pubs, res.Subs = len(pubPlans), len(subPlans)
	stopPing := make(chan struct{})
	defer func() {
		close(stopPing)
		r.closeAll()
	}()
	go r.pinger(stopPing)

	// Latency histograms are sharded to keep subscribers on different
	// cores off each other's cache lines; merged for reporting.
	nShards := min(len(subPlans), 2*runtime.GOMAXPROCS(0))
	hists := make([]*stats.Histogram, max(nShards, 1))
	for i := range hists {
		hists[i] = new(stats.Histogram)
	}

	subs := make([]*subscriber, len(subPlans))
	err := parallel(ctx, len(subPlans), func(i int) error {
		sp := subPlans[i]
		c, err := dialBroker(cfg, 64<<10)
		if err != nil {
			return err
		}
		if err := c.connect(cfg, fmt.Sprintf("%s-s%d", cfg.ClientID, i)); err != nil {
			c.nc.Close()
			return err
		}
		r.track(c)
		granted, err := c.subscribe(sp.filter, cfg.QoS)
		if err != nil {
			return err
		}
		subs[i] = &subscriber{c: c, qos: granted, lo: sp.lo, seqs: make([]stats.Sequence, sp.hi-sp.lo),
			passive: sp.passive, hist: hists[i%len(hists)], win: &r.win, errs: &r.errs}
		return nil
	})
	if err != nil {
		res.Errors = r.errs.Load() + 1
		return res.fail(fmt.Errorf("%w: subscribers: %w", errSetup, err))
	}
	effQoS := cfg.QoS
	for _, s := range subs {
		if s.qos < effQoS {
			effQoS = s.qos
		}
		go s.run(&r.closing, r.errorf)
	}
	if effQoS < cfg.QoS {
		r.logf("broker granted QoS %d, below the requested %d; loss rules follow the granted QoS", effQoS, cfg.QoS)
	}

	pubs := make([]*publisher, len(pubPlans))
	var ackHist *stats.Histogram
	if cfg.Scenario == scPub && cfg.QoS > 0 {
		ackHist = hists[0]
	}
	err = parallel(ctx, len(pubPlans), func(j int) error {
		c, err := dialBroker(cfg, 16<<10)
		if err != nil {
			return err
		}
		if err := c.connect(cfg, fmt.Sprintf("%s-p%d", cfg.ClientID, j)); err != nil {
			c.nc.Close()
			return err
		}
		r.track(c)
		if cfg.QoS > c.maxQoS { // v5 CONNACK Maximum QoS [MQTT-3.2.2-11]
			return fmt.Errorf("broker supports QoS %d at most (CONNACK Maximum QoS); -qos %d would be a protocol error", c.maxQoS, cfg.QoS)
		}
		for _, st := range pubPlans[j] { // v5 CONNACK Maximum Packet Size [MQTT-3.2.2-15]
			if n := codec.PublishSize(cfg.Version, cfg.QoS, st.topic, nil, cfg.Size); c.maxPacket > 0 && n > int(c.maxPacket) {
				return fmt.Errorf("a %d-byte PUBLISH on %q exceeds the broker's Maximum Packet Size %d; lower -size", n, st.topic, c.maxPacket)
			}
		}
		p := newPublisher(cfg, c, pubPlans[j], &r.errs)
		if p.window < cfg.Inflight && j == 0 {
			r.logf("broker Receive Maximum %d lowers -inflight %d", p.window, cfg.Inflight)
		}
		if ackHist != nil {
			p.ackHist, p.sentAt, p.measuring = ackHist, make([]atomic.Int64, 65536), &r.win
		}
		pubs[j] = p
		return nil
	})
	if err != nil {
		res.Errors = r.errs.Load() + 1
		return res.fail(fmt.Errorf("%w: publishers: %w", errSetup, err))
	}
	var streams []*stream // indexed by id - IDBase
	for _, p := range pubs {
		for _, st := range p.streams {
			for int(st.id-uint32(cfg.IDBase)) >= len(streams) {
				streams = append(streams, nil)
			}
			streams[st.id-uint32(cfg.IDBase)] = st
		}
		go p.readAcks(&r.closing, r.errorf)
	}
	sent := func() (n uint64) {
		for _, s := range streams {
			n += s.sent.Load()
		}
		return n
	}
	delivered := func() (n uint64) {
		for _, s := range subs {
			n += s.delivered.Load()
		}
		return n
	}
	merged := new(stats.Histogram)
	mergeHists := func() *stats.Histogram {
		merged.Reset()
		for _, h := range hists {
			merged.Merge(h)
		}
		return merged
	}

	stopPubs := make(chan struct{})
	var pubWG sync.WaitGroup
	for _, p := range pubs {
		pubWG.Add(1)
		go func() { defer pubWG.Done(); p.run(stopPubs) }()
	}
	pubsDone := make(chan struct{})
	go func() { pubWG.Wait(); close(pubsDone) }()

	// Progress once a second; the measured window opens after the warmup.
	begin := time.Now()
	warmEnd := begin.Add(cfg.Warmup)
	end := warmEnd.Add(cfg.Duration)
	var w0 sample
	opened := false
	if cfg.Warmup == 0 {
		w0 = r.openWindow(cfg, sent(), delivered())
		opened = true
	}
	lastSent, lastDel := uint64(0), uint64(0)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	timer := time.NewTimer(time.Until(end))
	if !opened {
		timer.Reset(time.Until(warmEnd))
	}
	interrupted := false
	countDone := pubsDone // -count finishing ends the run early
	if len(pubs) == 0 {
		countDone = nil // sub: passive, runs for -duration
	}
loop:
	for {
		select {
		case <-ctx.Done():
			interrupted = true
			break loop
		case <-tick.C:
			s, d := sent(), delivered()
			r.logf("%s %4.0fs sent/s=%d delivered/s=%d p99=%.0fus errors=%d", cfg.Scenario, time.Since(begin).Seconds(),
				s-lastSent, d-lastDel, float64(mergeHists().Quantile(0.99))/1e3, r.errs.Load())
			lastSent, lastDel = s, d
		case <-timer.C:
			if !opened {
				w0 = r.openWindow(cfg, sent(), delivered())
				opened = true
				timer.Reset(time.Until(end))
				continue
			}
			break loop
		case <-countDone:
			if !opened {
				w0 = r.openWindow(cfg, sent(), delivered())
				opened = true
			}
			break loop // -count reached
		}
	}
	r.win.end.Store(time.Now().UnixNano())
	w1 := takeSample(cfg, sent(), delivered())
	close(stopPubs)
	select {
	case <-pubsDone:
	case <-time.After(cfg.Drain):
		// A publisher is stuck in a write: the broker stopped reading.
		// Unblock it; the drain below still counts what arrives.
		r.logf("publishers still blocked writing %v after stop (the broker is not reading); cutting them off", cfg.Drain)
		for _, p := range pubs {
			_ = p.c.nc.SetWriteDeadline(time.Now())
		}
		<-pubsDone
	}

	// Drain: wait for acks of everything in flight, then for deliveries to
	// stop arriving, each bounded by -drain.
	deadline := time.Now().Add(cfg.Drain)
	for time.Now().Before(deadline) {
		busy := false
		for _, p := range pubs {
			busy = busy || p.inflight.Load() > 0
		}
		if !busy {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// With known expectations, wait for them; at QoS 0 (where loss is
	// legal) or for passive subscribers also stop once deliveries have been
	// quiet for 500 ms. At QoS 1/2 a missing message is a failure, so it
	// gets the whole -drain to show up.
	want := expectedTotal(subs, streams, cfg.IDBase)
	known := len(subs) > 0 && !subs[0].passive
	quietStops := !known || effQoS == 0
	prev, still := delivered(), 0
	for time.Now().Before(deadline) && !interrupted && len(subs) > 0 {
		time.Sleep(20 * time.Millisecond)
		d := delivered()
		if known && d >= want {
			break
		}
		if d != prev {
			prev, still = d, 0
		} else if still++; quietStops && still >= 25 {
			break
		}
	}
	r.closing.Store(true)
	for _, s := range subs {
		_ = s.c.nc.Close() // stops the reader; accounting below reads what it recorded
	}
	time.Sleep(20 * time.Millisecond)

	res.fill(w0, w1, sent(), delivered(), mergeHists())
	res.account(subs, streams, cfg.IDBase)
	for _, p := range pubs {
		if p.inflight.Load() > 0 {
			r.logf("publisher still has %d unacknowledged messages after -drain %v", p.inflight.Load(), cfg.Drain)
			res.Unacked += uint64(p.inflight.Load())
		}
	}
	res.Errors += r.errs.Load()
	if interrupted {
		return res.fail(ctx.Err())
	}
	switch {
	case effQoS >= 1 && res.Lost > 0:
		return res.fail(fmt.Errorf("%w: %d of %d expected at QoS %d", errLost, res.Lost, res.Expected, effQoS))
	case effQoS == 2 && res.Duplicated > 0:
		return res.fail(fmt.Errorf("%w: %d duplicates at QoS 2", errQoS2Dup, res.Duplicated))
	case cfg.QoS > 0 && res.Unacked > 0:
		return res.fail(fmt.Errorf("%w: %d publishes never acknowledged", errLost, res.Unacked))
	}
	return res, nil
}

// sample is the counters at one edge of the measured window.
type sample struct {
	at              time.Time
	sent, delivered uint64
	self            time.Duration
	broker          procSample
	brokerErr       error
}

func takeSample(cfg *Config, sent, delivered uint64) sample {
	s := sample{at: time.Now(), sent: sent, delivered: delivered, self: selfCPU()}
	if cfg.PID > 0 {
		s.broker, s.brokerErr = readProc(cfg.PID)
	}
	return s
}

func (r *runner) openWindow(cfg *Config, sent, delivered uint64) sample {
	s := takeSample(cfg, sent, delivered)
	r.win.start.Store(s.at.UnixNano())
	return s
}

// expectedTotal is how many deliveries the subscribers should see in all.
func expectedTotal(subs []*subscriber, streams []*stream, base uint) uint64 {
	var n uint64
	for _, s := range subs {
		for i := range s.seqs {
			n += streams[int(s.lo)+i-int(base)].sent.Load()
		}
	}
	return n
}
