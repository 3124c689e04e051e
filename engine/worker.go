package engine

import (
	"context"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/metrics"
	"github.com/tsubame-mq/tsubame/router"
)

// A worker is whoever is running broker code right now: one per gnet event
// loop, one per TLS connection goroutine, and one "system" worker for timers
// and the admin API (serialised by its mutex). Everything in a worker is owned
// by that goroutine; other goroutines never touch it.
//
// The worker is what makes fan-out batched. Delivering a message appends its
// bytes to a buffer for the subscriber and, the first time in a turn, notes
// the subscriber here. Which buffer depends on who delivers to whom:
//
//	publisher's OnTraffic (loop A)
//	  decode PUBLISH ─► route ─► deliver to c
//	    c on loop A:        c.own += bytes            (no lock: A owns c)
//	    c on loop B, QoS 0: c.stage[A] += bytes       (no lock: A owns the slot)
//	    otherwise:          c.out += bytes under c.mu (TLS clients, QoS 1/2
//	                        sent across loops, broker-originated messages)
//	  ... more packets of the same read ...
//	end of turn: A.flushTurn()
//	  A's clients:   c.flush() ─► one write(2) each
//	  B's clients:   one B.Execute(flushTask) carrying every staged buffer
//	                 and every c.out to flush ─► one write(2) per client
//	  TLS clients:   c.tr.wake() ─► its writer goroutine writes once
//
// so a read holding hundreds of PUBLISH packets costs one system call per
// subscriber, not one per message (DESIGN-NOTES "one flush per read"), and
// the delivering loops take no lock on the QoS 0 fan-out path. The owner
// absorbs c.out into c.own before appending, so bytes keep their order.
type worker struct {
	b   *Broker
	idx int            // index in Broker.loops for event-loop workers, -1 otherwise
	el  gnet.EventLoop // nil for goroutine workers

	ms    *metrics.Shard // this worker's counters
	tally metrics.Tally  // per-delivery counters of this turn, folded into ms by flushTurn

	now    int64 // unix nanoseconds at the start of the current turn
	nowSec int64

	pkt       codec.Packet   // decode target, reused for every inbound packet
	matches   router.Matches // router result buffer, reused per publish
	msg       router.Message // the message being published, while it is routed
	ref       pubRef
	congested []*Session // connected subscribers whose queue passed the high-water mark in this publish
	props     codec.Properties
	scratch   []byte
	pubGen    uint64        // bumped per routed publish
	pre       [2]preEncoded // RETAIN 0 and 1 (see client.appendPublish)

	dirty    []*client    // clients this worker owns with pending output
	spare    []*client    // the other half of dirty's double buffer
	flushing bool         // inside flushTurn (a failed write can re-enter it via OnClose)
	remote   [][]*client  // per event loop: its clients with pending output
	wakes    []*client    // goroutine-transport clients to wake
	staged   []*client    // other loops' clients with a buffer in their stage[w.idx]
	handoff  []*flushTask // per destination loop, built by flushTurn
}

func newWorker(b *Broker, idx int, el gnet.EventLoop) *worker {
	w := &worker{b: b, idx: idx, el: el}
	w.tick()
	return w
}

// tick refreshes the worker's clock; called at the start of each turn so the
// hot path reads a field instead of calling time.Now per packet.
func (w *worker) tick() {
	n := time.Now().UnixNano()
	w.now = n
	w.nowSec = n / int64(time.Second)
}

// schedule notes that c has pending output. Called with c.mu held, only when
// c.flushPending went from false to true.
func (w *worker) schedule(c *client) {
	switch {
	case c.w == w && w.el != nil:
		w.dirty = append(w.dirty, c)
	case c.w.el != nil:
		for len(w.remote) <= c.w.idx {
			w.remote = append(w.remote, nil)
		}
		w.remote[c.w.idx] = append(w.remote[c.w.idx], c)
	default:
		w.wakes = append(w.wakes, c)
	}
}

// flushTurn writes everything this turn produced: own clients directly, other
// loops' clients through one task per loop, goroutine transports by waking
// their writer.
func (w *worker) flushTurn() {
	if w.flushing {
		// Re-entered: a write failed, gnet closed the connection on the
		// spot and OnClose flushed again. The outer call finishes the work,
		// including whatever the close just scheduled.
		return
	}
	w.flushing = true
	w.ms.Fold(&w.tally) // the turn's deliveries become visible to readers
	for len(w.dirty) > 0 {
		dirty := w.dirty
		w.dirty = w.spare[:0]
		for i, c := range dirty {
			c.flush()
			dirty[i] = nil
		}
		w.spare = dirty[:0]
	}
	for i, c := range w.staged {
		// Hand each staged buffer to the client's loop; the buffers are the
		// task's now, and this loop starts fresh ones next turn.
		slot := &c.stage[w.idx]
		buf, n := slot.buf, slot.n
		*slot = stageSlot{}
		d := c.w.idx
		for len(w.handoff) <= d {
			w.handoff = append(w.handoff, nil)
		}
		if w.handoff[d] == nil {
			w.handoff[d] = flushTaskPool.Get().(*flushTask)
		}
		w.handoff[d].staged = append(w.handoff[d].staged, stagedBuf{c, buf, n})
		w.staged[i] = nil
	}
	w.staged = w.staged[:0]
	for i, t := range w.handoff {
		if t == nil {
			continue
		}
		w.handoff[i] = nil
		if err := w.b.loopWorker(i).el.Execute(context.Background(), t); err != nil {
			t.release()
		}
	}
	for i := range w.remote {
		list := w.remote[i]
		if len(list) == 0 {
			continue
		}
		dst := w.b.loopWorker(i)
		t := flushTaskPool.Get().(*flushTask)
		t.clients = append(t.clients[:0], list...)
		if err := dst.el.Execute(context.Background(), t); err != nil {
			// The engine is shutting down: the connections are closing anyway.
			t.release()
		}
		clear(list)
		w.remote[i] = list[:0]
	}
	for i, c := range w.wakes {
		c.tr.wake()
		w.wakes[i] = nil
	}
	w.wakes = w.wakes[:0]
	w.flushing = false
}

// flushTask runs on the destination event loop and flushes the clients that
// another worker delivered to during one of its turns.
type flushTask struct {
	clients []*client
	staged  []stagedBuf
}

type stagedBuf struct {
	c   *client
	buf *bytebufferpool.ByteBuffer
	n   uint32 // messages in buf
}

var flushTaskPool = sync.Pool{New: func() any { return new(flushTask) }}

func (t *flushTask) Run(context.Context) error {
	for _, c := range t.clients {
		c.flush()
	}
	for i := range t.staged {
		s := &t.staged[i]
		s.c.writeStaged(s.buf, s.n)
		s.buf = nil // back in the pool
	}
	t.release()
	return nil
}

func (t *flushTask) release() {
	clear(t.clients)
	t.clients = t.clients[:0]
	for _, s := range t.staged {
		if s.buf != nil {
			outPool.Put(s.buf) // not run (engine stopping)
		}
	}
	clear(t.staged)
	t.staged = t.staged[:0]
	flushTaskPool.Put(t)
}

// preEncoded is a QoS 0 PUBLISH encoded once for all 3.1.x subscribers of
// one publish (see client.appendPublish).
type preEncoded struct {
	gen uint64
	msg *router.Message
	b   []byte
}

// systemWorker serialises broker-originated work (wills fired by timers,
// $SYS, admin actions) that runs outside any event loop.
type systemWorker struct {
	mu sync.Mutex
	w  *worker
}

// run executes fn on the system worker and flushes what it produced.
func (s *systemWorker) run(fn func(w *worker)) {
	s.mu.Lock()
	s.w.tick()
	fn(s.w)
	s.w.flushTurn()
	s.mu.Unlock()
}
