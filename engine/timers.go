package engine

import (
	"container/heap"
	"sync"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/metrics"
)

// keepaliveWheel enforces CONNECT timeouts and keepalives for every
// connection with one goroutine and one slot list per second, instead of a
// timer per connection (DESIGN-NOTES "idle connections must be cheap").
//
// A connection sits in the slot of the second its deadline falls in. Packets
// only store client.lastSeen (one atomic store); nothing touches the wheel
// per packet. When a slot comes due, each client in it is checked: if it was
// seen recently it moves to the slot of its new deadline, otherwise it is
// closed. So a busy connection costs one move per keepalive period.
//
//	slots: [ 0 ][ 1 ][ 2 ] ... [ N-1 ]      cursor moves one slot per second
//	         c7   c1   c9        c4 c5      (deadline mod N)
type keepaliveWheel struct {
	mu     sync.Mutex
	slots  [][]*client
	size   int64
	cursor int64 // last second processed, guarded by mu
	b      *Broker
}

const wheelSize = 512 // seconds; longer deadlines wrap and are re-checked

func newKeepaliveWheel(b *Broker) *keepaliveWheel {
	return &keepaliveWheel{slots: make([][]*client, wheelSize), size: wheelSize, b: b}
}

// add schedules a check of c at second deadline. A client is in the wheel
// once: c.wheelAt holds its one valid deadline, and entries left in other
// slots by an earlier add are dropped when their slot comes up.
func (k *keepaliveWheel) add(c *client, deadline int64) {
	k.mu.Lock()
	if deadline <= k.cursor {
		deadline = k.cursor + 1
	}
	c.wheelAt.Store(deadline)
	i := deadline % k.size
	k.slots[i] = append(k.slots[i], c)
	k.mu.Unlock()
}

// deadline is when c must be closed if it stays silent: CONNECT timeout
// before CONNECT; 1.5 x keepalive after [MQTT-3.1.2-22]; 0 for none.
func (c *client) deadline(connectTimeout int64) int64 {
	if !c.live.Load() {
		return c.acceptedAt + connectTimeout
	}
	if c.keepalive == 0 {
		return 0
	}
	return c.lastSeen.Load() + (int64(c.keepalive)*3+1)/2
}

// expire processes the slot for second now.
func (k *keepaliveWheel) expire(now int64) {
	k.mu.Lock()
	i := now % k.size
	list := k.slots[i]
	k.slots[i] = nil
	k.cursor = now
	k.mu.Unlock()
	ct := k.b.lim.connectTimeout
	for _, c := range list {
		if c.gone.Load() || c.wheelAt.Load()%k.size != i {
			continue // closed, or rescheduled into another slot
		}
		d := c.deadline(ct)
		switch {
		case d == 0:
			// no keepalive: leave the wheel
		case d > now:
			k.add(c, d)
		default:
			if c.live.Load() {
				k.b.log.Info("keepalive timeout", "client", c.id, "remote", c.remote, "keepalive", c.keepalive)
				c.closeAsync(metrics.CloseKeepAliveTimeout, codec.KeepAliveTimeout)
			} else {
				k.b.log.Info("no CONNECT in time, closing", "remote", c.remote)
				c.closeAsync(metrics.CloseConnectTimeout, 0xff)
			}
		}
	}
}

// timerQueue runs delayed broker actions (will delay, session expiry) from
// one goroutine. These are rare, so a heap under a mutex is enough.
type timerQueue struct {
	mu sync.Mutex
	h  timerHeap
}

type timerItem struct {
	at int64
	fn func()
}

type timerHeap []timerItem

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerItem)) }
func (h *timerHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

func (t *timerQueue) after(d time.Duration, fn func()) {
	t.mu.Lock()
	heap.Push(&t.h, timerItem{at: time.Now().Add(d).UnixNano(), fn: fn})
	t.mu.Unlock()
}

// due pops and runs every action due at now.
func (t *timerQueue) run(now int64) {
	for {
		t.mu.Lock()
		if len(t.h) == 0 || t.h[0].at > now {
			t.mu.Unlock()
			return
		}
		it := heap.Pop(&t.h).(timerItem)
		t.mu.Unlock()
		it.fn()
	}
}

// housekeeping ticks the keepalive wheel and the timer queue every second
// until stop is closed.
func (b *Broker) housekeeping(stop <-chan struct{}) {
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	last := time.Now().Unix()
	for {
		select {
		case <-stop:
			return
		case now := <-tk.C:
			sec := now.Unix()
			for s := last + 1; s <= sec; s++ {
				b.wheel.expire(s)
			}
			last = sec
			b.timers.run(now.UnixNano())
			b.expireHolds(now.UnixNano())
		}
	}
}
