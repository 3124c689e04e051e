// Command ceiling is a deliberately minimal MQTT relay used only to measure
// the ceiling of this machine for QoS 0 traffic. It is NOT a broker and must
// never be used as one.
//
// It does only what no broker can skip for QoS 0:
//   - answers CONNECT with CONNACK (accepts everyone, no session, no will),
//   - answers SUBSCRIBE with SUBACK for exact topics only (wildcard filters get
//     0x80 failure; every granted QoS is 0),
//   - answers UNSUBSCRIBE with UNSUBACK and PINGREQ with PINGRESP,
//   - copies each inbound QoS 0 PUBLISH's bytes unchanged to every subscriber
//     of that exact topic (v5 properties included: subscribers are expected to
//     speak the publisher's protocol level, as in the benchmark).
//
// It does not check UTF-8, keepalive, retained flags, packet ids or anything
// else a broker must check, and a PUBLISH with QoS 1 or 2 closes the
// connection: the ceiling is only for the QoS 0 rows of BENCHMARKS.md. It
// speaks TCP only (no WebSocket).
//
// How it batches (see /work/shared/DESIGN-NOTES.md, "Measured on a machine
// like yours"):
//
//	source loop L (OnTraffic)                 end of L's turn (task L queued on itself)
//	  copy complete packets once into L's slab    for each subscriber touched by L:
//	  group consecutive PUBLISHes of one topic      on L:    one Writev of its queue
//	  append one slice per run to sub.out[L]        else:    hand the queue over, one
//	                                                         Execute task per destination loop
//
// sub.out[L] is touched only by loop L, so nothing is locked on the publish
// path; the topic table is an immutable map behind an atomic pointer, copied
// on SUBSCRIBE (rare). Slabs are append-only and never reused: a slice handed
// to another loop stays valid until that loop has written it.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
)

// Errors that close a client.
var (
	ErrMalformed      = errors.New("ceiling: malformed packet")
	ErrPacketTooLarge = errors.New("ceiling: packet larger than the maximum")
	ErrQoSUnsupported = errors.New("ceiling: only QoS 0 PUBLISH is relayed")
	ErrNotConnected   = errors.New("ceiling: first packet was not CONNECT")
	ErrUnsupported    = errors.New("ceiling: packet type not supported")
)

const (
	maxPacketSize = 1 << 20   // same as Tsubame's benchmark config
	slabSize      = 256 << 10 // per-loop copy buffer; a new one is taken when full

	// maxOutbound caps the bytes gnet holds for one subscriber, like
	// Tsubame's max_outbound_bytes default: past it, QoS 0 runs are dropped
	// (and counted) rather than queued without bound. No broker can skip this
	// either: without it a fast publisher grows the relay by gigabytes.
	maxOutbound = 4 << 20
)

// Relay is the ceiling relay: a gnet event handler plus its shared topic table.
type Relay struct {
	gnet.BuiltinEventEngine

	numLoops int
	engine   gnet.Engine
	booted   chan struct{}

	loopsMu sync.Mutex
	loops   []*loopState // index = loop number, assigned in first-open order

	topicsMu sync.Mutex                 // held by writers of topics only
	topics   atomic.Pointer[topicTable] // read without locks on the publish path

	dropped atomic.Uint64 // QoS 0 runs dropped because a subscriber was over maxOutbound
}

// Dropped returns how many runs (one or more PUBLISH packets each) were
// dropped for slow subscribers.
func (r *Relay) Dropped() uint64 { return r.dropped.Load() }

// write sends bufs to cl unless cl is closed or too far behind.
// It must run on cl's own loop.
func (r *Relay) write(cl *client, bufs [][]byte) {
	if cl.closed.Load() {
		return
	}
	if cl.conn.OutboundBuffered() > maxOutbound {
		r.dropped.Add(uint64(len(bufs)))
		return
	}
	_, _ = cl.conn.Writev(bufs)
}

type topicTable map[string][]*client

// loopState belongs to one event loop; only that loop's goroutine touches it,
// except handoff tasks, which another loop builds and this loop runs.
type loopState struct {
	idx   int
	el    gnet.EventLoop
	slab  []byte
	dirty []*client // subscribers with a non-empty out[idx] this turn
	flush gnet.Runnable
	armed bool // flush task queued for this turn

	handoff [][]handoffItem // per destination loop, built during flush
}

type handoffItem struct {
	c    *client
	bufs [][]byte
}

type client struct {
	conn    gnet.Conn
	ls      *loopState // the loop this client lives on
	loop    int
	version byte
	closed  atomic.Bool
	out     []outQueue // indexed by source loop; out[L] touched only by loop L
	subs    []string   // topics, for removal on close
}

type outQueue struct {
	bufs   [][]byte
	queued bool
}

// NewRelay returns a relay that will run numLoops event loops.
func NewRelay(numLoops int) *Relay {
	if numLoops < 1 {
		numLoops = 1
	}
	r := &Relay{numLoops: numLoops, booted: make(chan struct{})}
	empty := topicTable{}
	r.topics.Store(&empty)
	return r
}

// Serve listens on addr ("tcp://127.0.0.1:1883") and blocks until Stop.
func (r *Relay) Serve(addr string) error {
	return gnet.Run(r, addr,
		gnet.WithNumEventLoop(r.numLoops),
		gnet.WithReusePort(false),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLockOSThread(false),
		gnet.WithLogger(errorsOnly{}))
}

// Stop stops the engine once it has booted.
func (r *Relay) Stop(ctx context.Context) error {
	select {
	case <-r.booted:
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.engine.Stop(ctx)
}

// OnBoot records the engine so Stop can reach it.
func (r *Relay) OnBoot(eng gnet.Engine) gnet.Action {
	r.engine = eng
	close(r.booted)
	return gnet.None
}

func (r *Relay) loopOf(el gnet.EventLoop) *loopState {
	r.loopsMu.Lock()
	defer r.loopsMu.Unlock()
	for _, l := range r.loops {
		if l.el == el {
			return l
		}
	}
	l := &loopState{idx: len(r.loops), el: el}
	l.flush = gnet.RunnableFunc(func(context.Context) error { r.flushLoop(l); return nil })
	r.loops = append(r.loops, l)
	return l
}

// OnOpen attaches a client to its loop.
func (r *Relay) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	l := r.loopOf(c.EventLoop())
	c.SetContext(&client{conn: c, ls: l, loop: l.idx, out: make([]outQueue, r.numLoops)})
	return nil, gnet.None
}

// OnClose removes the client's subscriptions.
func (r *Relay) OnClose(c gnet.Conn, _ error) gnet.Action {
	cl, _ := c.Context().(*client)
	if cl == nil {
		return gnet.None
	}
	cl.closed.Store(true)
	if len(cl.subs) > 0 {
		r.topicsMu.Lock()
		old := *r.topics.Load()
		next := make(topicTable, len(old))
		for k, v := range old {
			next[k] = v
		}
		for _, t := range cl.subs {
			next[t] = without(next[t], cl)
			if len(next[t]) == 0 {
				delete(next, t)
			}
		}
		r.topics.Store(&next)
		r.topicsMu.Unlock()
	}
	return gnet.None
}

func without(list []*client, cl *client) []*client {
	out := make([]*client, 0, len(list))
	for _, c := range list {
		if c != cl {
			out = append(out, c)
		}
	}
	return out
}

// OnTraffic parses every complete packet of the read, relays PUBLISH runs and
// answers the rest. An incomplete tail stays in gnet's buffer for next time.
func (r *Relay) OnTraffic(c gnet.Conn) gnet.Action {
	cl := c.Context().(*client)
	l := cl.ls
	in, _ := c.Peek(-1)
	complete, err := completePrefix(in)
	if err != nil {
		return gnet.Close
	}
	if complete == 0 {
		return gnet.None
	}
	// Copy once into the loop's slab; everything below aliases the slab.
	if cap(l.slab)-len(l.slab) < complete {
		l.slab = make([]byte, 0, max(slabSize, complete))
	}
	start := len(l.slab)
	l.slab = append(l.slab, in[:complete]...)
	// buf keeps the slab's capacity so that runs of consecutive reads can be
	// merged into one slice (enqueue); bytes past len are only ever appended.
	buf := l.slab[start:]
	_, _ = c.Discard(complete)

	if err := r.handle(l, cl, buf); err != nil {
		return gnet.Close
	}
	return gnet.None
}

// completePrefix returns how many bytes of b form whole packets.
func completePrefix(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		_, rem, hdr, err := fixedHeader(b[n:])
		if err != nil {
			return 0, err
		}
		if hdr == 0 || len(b)-n < hdr+rem {
			break
		}
		n += hdr + rem
	}
	return n, nil
}

// fixedHeader decodes a fixed header; hdr == 0 means more bytes are needed.
func fixedHeader(b []byte) (typeFlags byte, remaining, hdr int, err error) {
	if len(b) < 2 {
		return 0, 0, 0, nil
	}
	mult := 1
	for i := 1; i < 5; i++ {
		if i >= len(b) {
			return 0, 0, 0, nil
		}
		d := b[i]
		remaining += int(d&0x7f) * mult
		if d&0x80 == 0 {
			if remaining+i+1 > maxPacketSize {
				return 0, 0, 0, ErrPacketTooLarge
			}
			return b[0], remaining, i + 1, nil
		}
		mult *= 128
	}
	return 0, 0, 0, fmt.Errorf("%w: remaining length longer than 4 bytes", ErrMalformed)
}

// handle walks complete packets in buf (which aliases the slab).
func (r *Relay) handle(l *loopState, cl *client, buf []byte) error {
	var runTopic []byte
	runStart, runEnd := -1, -1
	var table topicTable
	flushRun := func() {
		if runStart < 0 {
			return
		}
		if table == nil {
			table = *r.topics.Load()
		}
		r.enqueue(l, table[string(runTopic)], buf[runStart:runEnd])
		runStart = -1
	}
	for off := 0; off < len(buf); {
		tf, rem, hdr, _ := fixedHeader(buf[off:]) // validated by completePrefix
		body := buf[off+hdr : off+hdr+rem]
		end := off + hdr + rem
		if cl.version == 0 && tf>>4 != 1 {
			return ErrNotConnected
		}
		switch tf >> 4 {
		case 3: // PUBLISH
			if (tf>>1)&3 != 0 {
				return ErrQoSUnsupported
			}
			if len(body) < 2 || int(binary.BigEndian.Uint16(body))+2 > len(body) {
				return fmt.Errorf("%w: PUBLISH topic", ErrMalformed)
			}
			topic := body[2 : 2+binary.BigEndian.Uint16(body)]
			if runStart >= 0 && runEnd == off && string(topic) == string(runTopic) {
				runEnd = end // merge consecutive PUBLISHes of one topic into one run
			} else {
				flushRun()
				runTopic, runStart, runEnd = topic, off, end
			}
		default:
			flushRun()
			if err := r.control(cl, tf, body); err != nil {
				return err
			}
		}
		off = end
	}
	flushRun()
	return nil
}

// enqueue appends one run to each subscriber's queue from loop l.
func (r *Relay) enqueue(l *loopState, subs []*client, run []byte) {
	for _, s := range subs {
		q := &s.out[l.idx]
		if !q.queued {
			q.queued = true
			l.dirty = append(l.dirty, s)
		}
		if n := len(q.bufs); n > 0 {
			last := q.bufs[n-1]
			// Extend the previous slice when this run follows it in the slab.
			if cap(last) > len(last) && len(run) > 0 && &last[:len(last)+1][len(last)] == &run[0] {
				q.bufs[n-1] = last[:len(last)+len(run)]
				continue
			}
		}
		q.bufs = append(q.bufs, run)
	}
	if len(subs) > 0 && !l.armed {
		l.armed = true
		_ = l.el.Execute(context.Background(), l.flush)
	}
}

// flushLoop runs on loop l at the end of its turn: one Writev per local
// subscriber, one handoff task per other destination loop.
func (r *Relay) flushLoop(l *loopState) {
	l.armed = false
	if l.handoff == nil {
		l.handoff = make([][]handoffItem, r.numLoops)
	}
	for i, s := range l.dirty {
		q := &s.out[l.idx]
		if s.loop == l.idx {
			r.write(s, q.bufs)
			clear(q.bufs)
			q.bufs = q.bufs[:0]
		} else {
			l.handoff[s.loop] = append(l.handoff[s.loop], handoffItem{c: s, bufs: q.bufs})
			q.bufs = nil // ownership moves to the destination loop
		}
		q.queued = false
		l.dirty[i] = nil
	}
	l.dirty = l.dirty[:0]
	for dst, items := range l.handoff {
		if len(items) == 0 {
			continue
		}
		l.handoff[dst] = nil
		r.loopsMu.Lock()
		el := r.loops[dst].el
		r.loopsMu.Unlock()
		_ = el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			for _, it := range items {
				r.write(it.c, it.bufs)
			}
			return nil
		}))
	}
}

// control answers CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ and DISCONNECT.
func (r *Relay) control(cl *client, tf byte, body []byte) error {
	switch tf >> 4 {
	case 1: // CONNECT
		if cl.version != 0 {
			return fmt.Errorf("%w: second CONNECT", ErrMalformed)
		}
		if len(body) < 2 {
			return fmt.Errorf("%w: CONNECT", ErrMalformed)
		}
		nameLen := int(binary.BigEndian.Uint16(body))
		if len(body) < 2+nameLen+1 {
			return fmt.Errorf("%w: CONNECT", ErrMalformed)
		}
		cl.version = body[2+nameLen]
		if cl.version == 5 {
			_, err := cl.conn.Write([]byte{0x20, 3, 0, 0, 0})
			return err
		}
		_, err := cl.conn.Write([]byte{0x20, 2, 0, 0})
		return err
	case 8, 10: // SUBSCRIBE, UNSUBSCRIBE
		return r.subscribe(cl, tf>>4 == 8, body)
	case 12: // PINGREQ
		_, err := cl.conn.Write([]byte{0xD0, 0})
		return err
	case 14: // DISCONNECT
		return errors.New("ceiling: client disconnected")
	}
	return fmt.Errorf("%w: type %d", ErrUnsupported, tf>>4)
}

func (r *Relay) subscribe(cl *client, sub bool, body []byte) error {
	if len(body) < 2 {
		return fmt.Errorf("%w: SUBSCRIBE packet id", ErrMalformed)
	}
	reply := []byte{0x90, 0, body[0], body[1]}
	if !sub {
		reply[0] = 0xB0
	}
	p := body[2:]
	if cl.version == 5 {
		plen, n := binary.Uvarint(p) // MQTT varints are little-endian base-128 like Uvarint
		if n <= 0 || int(plen) > len(p)-n {
			return fmt.Errorf("%w: properties", ErrMalformed)
		}
		p = p[n+int(plen):]
		reply = append(reply, 0)
	}
	var add, remove []string
	for len(p) > 0 {
		if len(p) < 2 || int(binary.BigEndian.Uint16(p))+2 > len(p) {
			return fmt.Errorf("%w: topic filter", ErrMalformed)
		}
		n := int(binary.BigEndian.Uint16(p))
		topic := string(p[2 : 2+n])
		p = p[2+n:]
		if sub {
			if len(p) < 1 {
				return fmt.Errorf("%w: subscription options", ErrMalformed)
			}
			p = p[1:]
			if n == 0 || containsWildcard(topic) {
				reply = append(reply, 0x80) // exact topics only
				continue
			}
			reply = append(reply, 0) // granted QoS 0
			add = append(add, topic)
		} else {
			if cl.version == 5 {
				reply = append(reply, 0)
			}
			remove = append(remove, topic)
		}
	}
	if len(reply) > 129 {
		return fmt.Errorf("%w: too many filters for the ceiling", ErrMalformed)
	}
	reply[1] = byte(len(reply) - 2)
	r.updateTopics(cl, add, remove)
	_, err := cl.conn.Write(reply)
	return err
}

func containsWildcard(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] == '+' || t[i] == '#' {
			return true
		}
	}
	return false
}

// updateTopics copies the table, applies the change and publishes the copy.
func (r *Relay) updateTopics(cl *client, add, remove []string) {
	if len(add) == 0 && len(remove) == 0 {
		return
	}
	r.topicsMu.Lock()
	defer r.topicsMu.Unlock()
	old := *r.topics.Load()
	next := make(topicTable, len(old)+len(add))
	for k, v := range old {
		next[k] = v
	}
	for _, t := range add {
		dup := false
		for _, s := range next[t] {
			dup = dup || s == cl
		}
		if !dup {
			list := make([]*client, len(next[t]), len(next[t])+1)
			copy(list, next[t])
			next[t] = append(list, cl)
			cl.subs = append(cl.subs, t)
		}
	}
	for _, t := range remove {
		next[t] = without(next[t], cl)
		if len(next[t]) == 0 {
			delete(next, t)
		}
	}
	r.topics.Store(&next)
}

// errorsOnly is gnet's logger: errors to stderr, nothing else.
type errorsOnly struct{}

func (errorsOnly) Debugf(string, ...any) {}
func (errorsOnly) Infof(string, ...any)  {}
func (errorsOnly) Warnf(string, ...any)  {}
func (errorsOnly) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ceiling: gnet: "+format+"\n", args...)
}
func (errorsOnly) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ceiling: gnet: "+format+"\n", args...)
	os.Exit(1)
}
