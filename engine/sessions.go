package engine

import (
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/metrics"
	"github.com/tsubame-mq/tsubame/engine/store"
	"github.com/tsubame-mq/tsubame/router"
)

// registry maps client ids to sessions, sharded so that connection storms on
// different ids do not contend. Only CONNECT, disconnect and expiry touch it;
// the publish path never does.
type registry struct {
	shards [64]registryShard
}

type registryShard struct {
	mu sync.Mutex
	m  map[string]*Session
}

func (r *registry) shard(id string) *registryShard {
	return &r.shards[xxhash.Sum64String(id)&63]
}

func (r *registry) get(id string) *Session {
	sh := r.shard(id)
	sh.mu.Lock()
	s := sh.m[id]
	sh.mu.Unlock()
	return s
}

func (r *registry) each(fn func(*Session) bool) {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		list := make([]*Session, 0, len(sh.m))
		for _, s := range sh.m {
			list = append(list, s)
		}
		sh.mu.Unlock()
		for _, s := range list {
			if !fn(s) {
				return
			}
		}
	}
}

func (r *registry) count() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// attach binds a freshly connected client to its session: it takes over a
// connection that holds the same client id [MQTT-3.1.4-2], resumes or
// discards the old session per Clean Start [MQTT-3.1.2-4] [MQTT-3.1.2-5], then
// queues CONNACK, redelivers what was inflight and drains the queue, all
// under the session lock so CONNACK is the first packet the client sees.
func (b *Broker) attach(w *worker, c *client, clean bool, expiry uint32, receiveMax uint16, ack *codec.Packet) {
	sh := b.sessions.shard(c.id)
	sh.mu.Lock()
	old := sh.m[c.id]
	var s *Session
	var oldClient *client
	present := false
	if old != nil {
		old.mu.Lock()
		oldClient = old.client.Load()
		if oldClient != nil {
			old.client.Store(nil)
		}
		old.connected = false
		if clean || old.ended {
			old.ended = true
			old.gen++
			old.mu.Unlock()
			b.dropSubscriptions(old)
		} else {
			s = old
			present = true
			old.mu.Unlock()
		}
	}
	if s == nil {
		s = &Session{id: c.id, b: b}
		if sh.m == nil {
			sh.m = make(map[string]*Session)
		}
		sh.m[c.id] = s
	}
	s.mu.Lock()
	sh.mu.Unlock()

	s.gen++
	s.username = c.username
	s.version = c.version
	s.expiry = expiry
	s.receiveMax = receiveMax
	s.maxPacket = c.clientMaxPacket
	s.connected = true
	c.sess = s
	if present && len(s.subs) > 0 {
		c.prepareStage()
	}
	ack.SessionPresent = present // [MQTT-3.2.2-2] [MQTT-3.2.2-3]
	buf := codec.Encode(w.scratch[:0], ack)
	c.send(w, buf)
	w.scratch = buf[:0]
	s.client.Store(c)
	if present {
		s.resendLocked(w, c)
		s.pumpLocked(w)
	}
	if s.expiry > 0 {
		b.stored.Saved(s.recordLocked())
	}
	s.mu.Unlock()

	if oldClient != nil {
		oldClient.takenOver = true
		b.log.Info("session taken over", "client", c.id, "old_remote", oldClient.remote, "new_remote", c.remote)
		oldClient.closeAsync(metrics.CloseTakenOver, codec.SessionTakenOver) // [MQTT-3.1.4-3]
	}
}

// detach settles a session when its connection closes: will, session
// expiry, or the end of a clean session. Called on the closing client's
// owner goroutine.
func (b *Broker) detach(w *worker, c *client) {
	s := c.sess
	s.mu.Lock()
	attached := s.client.Load() == c
	var gen uint64
	var expiry uint32
	if attached {
		s.client.Store(nil)
		s.connected = false
		gen = s.gen
		expiry = s.expiry
		s.releaseLocked(w) // an offline queue does not hold publishers back
	}
	s.mu.Unlock()

	// Will: not on a normal DISCONNECT [MQTT-3.1.2-10] [MQTT-3.14.4-3].
	if x := c.rare; x != nil && x.will != nil && !c.normalDisconnect {
		delay := x.willDelay
		if attached && expiry < delay {
			delay = expiry // sent when the session ends, if that is sooner [MQTT-3.1.3-9]
		}
		switch {
		case !attached && c.version == codec.V5 && x.willDelay > 0 && !s.isEnded():
			// Taken over, session resumed before the delay passed: not sent
			// [MQTT-3.1.3-9]. (A clean-start takeover ended the session:
			// the will goes out now, as the session ended first.)
		case delay == 0 || !attached:
			b.publishWill(w, c)
		default:
			will, willExpiry := x.will, x.willExpiry
			b.timers.after(time.Duration(delay)*time.Second, func() {
				s.mu.Lock()
				stale := s.gen != gen || s.client.Load() != nil
				s.mu.Unlock()
				if stale && !s.isEnded() {
					return // the client came back within the delay
				}
				b.sys.run(func(w *worker) { b.publishMessage(w, will, willExpiry, nil) })
			})
		}
	}
	if !attached {
		return
	}
	if expiry == 0 {
		b.endSession(s, gen)
		return
	}
	b.timers.after(time.Duration(expiry)*time.Second, func() { b.endSession(s, gen) })
}

func (s *Session) isEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// endSession discards a session that is offline and was not resumed since
// generation gen [MQTT-4.1.0-2].
func (b *Broker) endSession(s *Session, gen uint64) {
	sh := b.sessions.shard(s.id)
	sh.mu.Lock()
	s.mu.Lock()
	if s.gen != gen || s.client.Load() != nil || s.ended {
		s.mu.Unlock()
		sh.mu.Unlock()
		return
	}
	s.ended = true
	if sh.m[s.id] == s {
		delete(sh.m, s.id)
	}
	s.mu.Unlock()
	sh.mu.Unlock()
	b.stored.Deleted(s.id)
	b.dropSubscriptions(s)
}

// recordLocked is the persistent form of s. s.mu held.
func (s *Session) recordLocked() *store.SessionRecord {
	rec := &store.SessionRecord{ClientID: s.id, Username: s.username, Version: s.version, ExpirySeconds: s.expiry}
	for f, o := range s.subs {
		rec.Subscriptions = append(rec.Subscriptions, store.Subscription{Filter: f, Opts: o})
	}
	return rec
}

// dropSubscriptions removes every subscription of an ended session from the
// router and releases its queue.
func (b *Broker) dropSubscriptions(s *Session) {
	s.mu.Lock()
	subs := s.subs
	s.subs = nil
	n := s.queue.clear()
	inflight := len(s.inflight)
	s.inflight = nil
	s.inQoS2 = nil
	s.mu.Unlock()
	ms := b.metrics.Shard(0)
	ms.AddQueued(-n)
	ms.AddInflight(-inflight)
	for f := range subs {
		b.router.Unsubscribe(s, f)
	}
}

// publishWill publishes c's will now.
func (b *Broker) publishWill(w *worker, c *client) {
	x := c.rare
	will := x.will
	x.will = nil
	b.publishMessage(w, will, x.willExpiry, nil)
}

// publishMessage routes a broker-held message (a will, $SYS) as if it had
// just been published.
func (b *Broker) publishMessage(w *worker, m *router.Message, expirySec uint32, from *Session) {
	m.Created = w.now
	if expirySec > 0 {
		m.Expiry = w.now + int64(expirySec)*int64(time.Second)
	}
	if m.Retain {
		b.storeRetained(m)
	}
	r := pubRef{msg: m, stored: m}
	b.route(w, &r, from)
}
