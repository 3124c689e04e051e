// Package metrics owns the broker's counters: connections per listener,
// connects and disconnects by reason, packets by type, messages received,
// delivered and dropped, bytes, inflight and queued gauges and the
// publish-to-deliver latency histogram. It turns them into rates (Sample),
// $SYS values (SysTopics) and a Prometheus collector (Collector).
//
// Who calls it: the engine's event loops increment counters on their own
// Shard; the admin server and the $SYS publisher read them.
//
// What it must not do: take a lock, allocate or call out on the hot path.
// Every hot-path counter is an atomic in a per-loop Shard, so an increment is
// an uncontended atomic add on a cache line that only one loop writes. The
// per-packet and per-delivery counts go one step further: a worker gathers
// them in its own Tally (plain fields) and folds it into its Shard once per
// turn, so the publish path pays plain increments (measured by the engine's
// BenchmarkPublishCounters against a Config.Disabled broker). Readers
// (scrapes, $SYS, the admin API) sum the shards; a sum taken while loops are
// running is not a snapshot of one instant, which is fine for monitoring.
//
//	loop 0 ──► Shard[0] ┐
//	loop 1 ──► Shard[1] ├──► sum at read time ──► Prometheus / $SYS / admin
//	loop n ──► Shard[n] ┘
//
// It must not publish anything itself: SysTopics returns values, the engine
// publishes them.
package metrics

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
)

// CloseReason says why the broker closed a network connection. Each close is
// counted once, by the code that decides to close.
type CloseReason uint8

// Close reasons.
const (
	CloseNormal           CloseReason = iota // client sent DISCONNECT
	CloseClientGone                          // peer closed the socket without DISCONNECT
	CloseKeepAliveTimeout                    // no packet within 1.5 x keepalive [MQTT-3.1.2-24]
	CloseProtocolError                       // a protocol violation
	CloseMalformedPacket                     // a packet that could not be decoded
	ClosePacketTooLarge                      // a packet above the maximum packet size
	CloseConnectTimeout                      // no CONNECT in time
	CloseAuthFailed                          // CONNECT refused by authentication
	CloseNotAuthorized                       // an action refused by authorization
	CloseTakenOver                           // another connection took the client id [MQTT-3.1.4-3]
	CloseAdminKick                           // kicked through the admin API
	CloseReadError                           // socket read failed
	CloseWriteError                          // socket write failed
	CloseSlowConsumer                        // outbound buffer above its cap
	CloseQuotaExceeded                       // a resource limit was hit
	CloseServerShutdown                      // the broker is stopping
	numCloseReasons
)

var closeReasonNames = [numCloseReasons]string{
	"normal", "client_gone", "keepalive_timeout", "protocol_error",
	"malformed_packet", "packet_too_large", "connect_timeout", "auth_failed",
	"not_authorized", "taken_over", "admin_kick", "read_error", "write_error",
	"slow_consumer", "quota_exceeded", "server_shutdown",
}

// String returns the reason's label value, e.g. "keepalive_timeout".
func (r CloseReason) String() string {
	if r < numCloseReasons {
		return closeReasonNames[r]
	}
	return "unknown"
}

// DropReason says why a message was not delivered to one subscriber (or, for
// DropNoSubscribers, to anyone).
type DropReason uint8

// Drop reasons.
const (
	DropQueueFull      DropReason = iota // the session queue was at its cap
	DropSlowConsumer                     // QoS 0 dropped because the outbound buffer was full
	DropExpired                          // message expiry interval elapsed [MQTT-3.3.2-5]
	DropNotAuthorized                    // publish or delivery refused by ACL
	DropNoSubscribers                    // published to a topic nobody subscribes to
	DropPacketTooLarge                   // larger than the client's maximum packet size [MQTT-3.1.2-25]
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{
	"queue_full", "slow_consumer", "expired", "not_authorized", "no_subscribers", "packet_too_large",
}

// String returns the reason's label value, e.g. "queue_full".
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropReasonNames[r]
	}
	return "unknown"
}

// Shard holds the hot-path counters one event loop writes. Methods are safe
// from any goroutine (they are atomic) but are meant to be called by the one
// loop that owns the shard, which keeps the cache lines uncontended.
type Shard struct {
	_          [64]byte // keep the previous allocation's tail off our first line
	off        bool     // Config.Disabled: every method returns at once; read-only after New
	packetsIn  [16]atomic.Uint64
	packetsOut [16]atomic.Uint64
	bytesIn    atomic.Uint64
	bytesOut   atomic.Uint64
	received   [3]atomic.Uint64
	delivered  [3]atomic.Uint64
	dropped    [numDropReasons][3]atomic.Uint64
	inflight   atomic.Int64 // delta: may go negative on one shard, sums are exact
	queued     atomic.Int64
	connacks   [256]atomic.Uint64 // CONNACK results by reason code
	latency    Histogram
	_          [64]byte
}

// PacketIn counts one control packet received.
func (s *Shard) PacketIn(t codec.PacketType) {
	if s.off {
		return
	}
	s.packetsIn[t&15].Add(1)
}

// PacketOut counts one control packet sent.
func (s *Shard) PacketOut(t codec.PacketType) {
	if s.off {
		return
	}
	s.packetsOut[t&15].Add(1)
}

// BytesIn counts n bytes read from the network.
func (s *Shard) BytesIn(n int) {
	if s.off {
		return
	}
	s.bytesIn.Add(uint64(n))
}

// BytesOut counts n bytes written to the network.
func (s *Shard) BytesOut(n int) {
	if s.off {
		return
	}
	s.bytesOut.Add(uint64(n))
}

// Received counts one application message accepted from a publisher at qos.
func (s *Shard) Received(qos byte) {
	if s.off {
		return
	}
	s.received[qos%3].Add(1)
}

// Delivered counts one message sent to a subscriber at qos.
func (s *Shard) Delivered(qos byte) {
	if s.off {
		return
	}
	s.delivered[qos%3].Add(1)
}

// DeliveredN counts n messages sent to subscribers at qos (a fan-out batch).
func (s *Shard) DeliveredN(qos byte, n int) {
	if s.off {
		return
	}
	s.delivered[qos%3].Add(uint64(n))
}

// Dropped counts one message at qos not delivered for reason r.
func (s *Shard) Dropped(qos byte, r DropReason) {
	if s.off {
		return
	}
	if r < numDropReasons {
		s.dropped[r][qos%3].Add(1)
	}
}

// AddInflight moves the inflight gauge (QoS 1/2 messages awaiting
// acknowledgement) by d. An increment and its decrement may happen on
// different shards.
func (s *Shard) AddInflight(d int) {
	if s.off {
		return
	}
	s.inflight.Add(int64(d))
}

// AddQueued moves the queued gauge (messages waiting in session queues) by d.
func (s *Shard) AddQueued(d int) {
	if s.off {
		return
	}
	s.queued.Add(int64(d))
}

// ConnAck counts one CONNECT answered with reason code rc (codec.Success for
// an accepted connection; 3.1.x return codes should be passed as their v5
// equivalent).
func (s *Shard) ConnAck(rc codec.ReasonCode) {
	if s.off {
		return
	}
	s.connacks[rc].Add(1)
}

// ObserveLatency records one publish-to-deliver latency in nanoseconds
// (delivery time minus router.Message.Created).
func (s *Shard) ObserveLatency(ns int64) {
	if s.off {
		return
	}
	s.latency.Observe(ns)
}

// ListenerMetrics counts the connections of one listener. Opened and Closed
// are atomic; connection churn is far rarer than packets, so one shared
// counter per listener is cheap enough.
type ListenerMetrics struct {
	Name    string
	Type    string // "tcp", "ws", ...
	Address string
	TLS     bool

	m       *Metrics
	current atomic.Int64
	total   atomic.Uint64
}

// Opened counts a new network connection on this listener.
func (l *ListenerMetrics) Opened() {
	l.current.Add(1)
	l.total.Add(1)
	c := l.m.connCurrent.Add(1)
	for { // clients/maximum is a high-water mark
		max := l.m.connMax.Load()
		if c <= max || l.m.connMax.CompareAndSwap(max, c) {
			return
		}
	}
}

// Closed counts the end of a connection on this listener, for reason r.
func (l *ListenerMetrics) Closed(r CloseReason) {
	l.current.Add(-1)
	l.m.connCurrent.Add(-1)
	if r < numCloseReasons {
		l.m.disconnects[r].Add(1)
	}
}

// Current is the number of open connections on the listener.
func (l *ListenerMetrics) Current() int64 { return l.current.Load() }

// Total is the number of connections ever opened on the listener.
func (l *ListenerMetrics) Total() uint64 { return l.total.Load() }

// Gauges are values other packages own; the metrics package calls them at
// read time (scrape, $SYS, admin overview), never on the hot path. Each must
// be safe from any goroutine and cheap (an atomic load). A nil func reads 0.
type Gauges struct {
	Retained      func() int64 // retained messages stored
	Subscriptions func() int64 // subscriptions (including shared)
	Sessions      func() int64 // sessions known, connected or not (mosquitto clients/total)
}

// Config configures New.
type Config struct {
	Shards  int              // per-loop shards; <= 0 means runtime.GOMAXPROCS(0)
	Version string           // broker version for $SYS/broker/version and the overview
	Now     func() time.Time // clock; nil means time.Now
	// Disabled turns every Shard method into an early return, so the hot
	// path pays one predictable branch instead of an atomic add. It exists
	// to measure what the counters cost (engine BenchmarkPublishCounters);
	// a broker serving /metrics or $SYS keeps it false, since every
	// hot-path counter then reads 0. Listener connection counts are kept
	// either way (they are not on the publish path).
	Disabled bool
}

// Metrics is the broker-wide set of counters. Create it with New.
type Metrics struct {
	shards  []*Shard
	version string
	now     func() time.Time
	start   time.Time

	connCurrent atomic.Int64
	connMax     atomic.Int64
	disconnects [numCloseReasons]atomic.Uint64

	listenerMu sync.Mutex                         // serialises Listener registration only
	listeners  atomic.Pointer[[]*ListenerMetrics] // copy-on-write, read lock-free

	gauges atomic.Pointer[Gauges]

	rates rateWindow

	stopMu sync.Mutex
	stop   chan struct{}
	done   chan struct{}
}

// New returns Metrics with c.Shards shards.
func New(c Config) *Metrics {
	if c.Shards <= 0 {
		c.Shards = runtime.GOMAXPROCS(0)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	m := &Metrics{version: c.Version, now: c.Now}
	m.start = c.Now()
	m.shards = make([]*Shard, c.Shards)
	for i := range m.shards {
		m.shards[i] = &Shard{off: c.Disabled}
	}
	empty := []*ListenerMetrics{}
	m.listeners.Store(&empty)
	m.gauges.Store(&Gauges{})
	return m
}

// Shard returns the shard for event loop i (taken modulo the shard count).
// The engine looks it up once per loop and keeps the pointer.
func (m *Metrics) Shard(i int) *Shard {
	if i < 0 {
		i = -i
	}
	return m.shards[i%len(m.shards)]
}

// Shards is the number of shards.
func (m *Metrics) Shards() int { return len(m.shards) }

// Version is the broker version given to New.
func (m *Metrics) Version() string { return m.version }

// StartTime is when New was called.
func (m *Metrics) StartTime() time.Time { return m.start }

// Uptime is the time since New at the metrics clock.
func (m *Metrics) Uptime() time.Duration { return m.now().Sub(m.start) }

// SetGauges installs the read-time gauge callbacks.
func (m *Metrics) SetGauges(g Gauges) { m.gauges.Store(&g) }

// Listener registers a listener and returns its counters. Registering a name
// twice returns the first registration.
func (m *Metrics) Listener(name, typ, address string, tls bool) *ListenerMetrics {
	m.listenerMu.Lock()
	defer m.listenerMu.Unlock()
	old := *m.listeners.Load()
	for _, l := range old {
		if l.Name == name {
			return l
		}
	}
	l := &ListenerMetrics{Name: name, Type: typ, Address: address, TLS: tls, m: m}
	next := make([]*ListenerMetrics, len(old), len(old)+1)
	copy(next, old)
	next = append(next, l)
	m.listeners.Store(&next)
	return l
}

// Listeners returns the registered listeners in registration order. The slice
// must not be modified.
func (m *Metrics) Listeners() []*ListenerMetrics { return *m.listeners.Load() }

// Totals is a sum over all shards, read at one moment (not atomically as a
// whole: each counter is read once).
type Totals struct {
	PacketsIn, PacketsOut   [16]uint64
	BytesIn, BytesOut       uint64
	Received, Delivered     [3]uint64
	Dropped                 [numDropReasons][3]uint64
	Inflight, Queued        int64
	ConnAcks                [256]uint64
	Disconnects             [numCloseReasons]uint64
	ConnectionsCurrent      int64
	ConnectionsMax          int64
	Retained, Subscriptions int64
	Sessions                int64
}

// ReceivedTotal is the number of application messages received at any QoS.
func (t *Totals) ReceivedTotal() uint64 { return t.Received[0] + t.Received[1] + t.Received[2] }

// DeliveredTotal is the number of messages delivered at any QoS.
func (t *Totals) DeliveredTotal() uint64 { return t.Delivered[0] + t.Delivered[1] + t.Delivered[2] }

// DroppedTotal is the number of messages dropped for any reason.
func (t *Totals) DroppedTotal() uint64 {
	var n uint64
	for r := range t.Dropped {
		n += t.Dropped[r][0] + t.Dropped[r][1] + t.Dropped[r][2]
	}
	return n
}

// PacketsInTotal is the number of control packets received.
func (t *Totals) PacketsInTotal() uint64 { return sum16(&t.PacketsIn) }

// PacketsOutTotal is the number of control packets sent.
func (t *Totals) PacketsOutTotal() uint64 { return sum16(&t.PacketsOut) }

func sum16(a *[16]uint64) uint64 {
	var n uint64
	for _, v := range a {
		n += v
	}
	return n
}

// Read sums the shards into t. It allocates nothing; Totals is large (about
// 3 KB), so callers keep one and reuse it.
func (m *Metrics) Read(t *Totals) {
	*t = Totals{}
	for _, s := range m.shards {
		for i := range s.packetsIn {
			t.PacketsIn[i] += s.packetsIn[i].Load()
			t.PacketsOut[i] += s.packetsOut[i].Load()
		}
		t.BytesIn += s.bytesIn.Load()
		t.BytesOut += s.bytesOut.Load()
		for q := 0; q < 3; q++ {
			t.Received[q] += s.received[q].Load()
			t.Delivered[q] += s.delivered[q].Load()
			for r := range s.dropped {
				t.Dropped[r][q] += s.dropped[r][q].Load()
			}
		}
		t.Inflight += s.inflight.Load()
		t.Queued += s.queued.Load()
		for i := range s.connacks {
			t.ConnAcks[i] += s.connacks[i].Load()
		}
	}
	for i := range m.disconnects {
		t.Disconnects[i] = m.disconnects[i].Load()
	}
	t.ConnectionsCurrent = m.connCurrent.Load()
	t.ConnectionsMax = m.connMax.Load()
	g := m.gauges.Load()
	t.Retained = call(g.Retained)
	t.Subscriptions = call(g.Subscriptions)
	t.Sessions = call(g.Sessions)
}

func call(f func() int64) int64 {
	if f == nil {
		return 0
	}
	return f()
}

// Latency merges the shards' latency histograms into h.
func (m *Metrics) Latency(h *HistogramSnapshot) {
	*h = HistogramSnapshot{}
	for _, s := range m.shards {
		s.latency.addTo(h)
	}
}

// Start runs Sample once a second until Stop. Calling Start twice is a no-op.
func (m *Metrics) Start() {
	m.stopMu.Lock()
	defer m.stopMu.Unlock()
	if m.stop != nil {
		return
	}
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	m.Sample(m.now())
	go func(stop, done chan struct{}) {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				m.Sample(m.now())
			}
		}
	}(m.stop, m.done)
}

// Stop ends the sampling goroutine started by Start and waits for it.
func (m *Metrics) Stop() {
	m.stopMu.Lock()
	defer m.stopMu.Unlock()
	if m.stop == nil {
		return
	}
	close(m.stop)
	<-m.done
	m.stop, m.done = nil, nil
}
