package engine

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/metrics"
	"github.com/tsubame-mq/tsubame/router"
)

// Session is the server side of an MQTT session [MQTT-4.1.0-1]: the
// subscriptions, the outbound QoS 1/2 messages in flight or queued, and the
// inbound QoS 2 packet ids awaiting PUBREL. A persistent session outlives its
// connections; a clean one ends with its connection.
//
// Locking: any worker may deliver to any session, so the state below mu is
// guarded by mu. The attached client is an atomic pointer so QoS 0 delivery
// (the common case) takes only the client's output lock. Lock order is
// registry shard -> Session.mu -> client.mu; never the other way.
type Session struct {
	id string
	b  *Broker

	client atomic.Pointer[client] // attached connection; nil while offline

	mu        sync.Mutex
	username  string
	subs      map[string]router.Options // filter as subscribed (with $share/...) -> options
	inflight  []inflightMsg             // outbound QoS 1/2 awaiting acknowledgement, in send order
	queue     msgQueue                  // messages waiting for an inflight slot or for the client to return
	inQoS2    []uint16                  // inbound QoS 2 packet ids between PUBREC and PUBREL [MQTT-4.3.3-10]
	gen       uint64                    // bumped at every attach; delayed actions check it
	waiters   []*ackHold                // publishers' acknowledgements held while this queue drains
	holdSince int64                     // when the oldest waiter was added, unix nanoseconds

	// Small fields together: with no padding holes a Session fits the
	// 208-byte size class instead of 256 (MEMORY.md).
	expiry     uint32 // session expiry interval, seconds; 0: ends at disconnect
	maxPacket  uint32 // the client's Maximum Packet Size, 0 = none
	nextID     uint16
	receiveMax uint16 // the client's Receive Maximum: QoS>0 messages we may have unacknowledged
	version    byte
	connected  bool
	ended      bool
}

// ackHold is an acknowledgement (PUBACK or PUBREC) a publisher is owed for a
// message that went into queues of subscribers that were not keeping up.
//
// Honest QoS: acknowledging a QoS 1/2 message and then dropping it from a
// full queue would lose it silently. Instead, when a connected subscriber's
// queue passes the high-water mark, the publisher's acknowledgement is held
// until the queue is back under the low-water mark. The publisher's own
// inflight window then slows it to the pace of its subscribers, which is
// the flow control MQTT offers [MQTT-4.9.0-1]. A hold lasts at most holdMax:
// a subscriber that stops acknowledging cannot stall its publishers for
// longer; past that, the bounded queue drops and counts as before.
type ackHold struct {
	c    *client
	t    codec.PacketType
	id   uint16
	left atomic.Int32 // congested queues still above the low-water mark
}

// holdMax bounds how long an acknowledgement is held.
const holdMax = 10 * time.Second

// releaseLocked sends the held acknowledgements this queue was keeping back.
// s.mu held (lock order Session.mu -> publisher's client.mu is allowed).
func (s *Session) releaseLocked(w *worker) {
	for i, h := range s.waiters {
		if h.left.Add(-1) == 0 {
			h.c.sendAck(w, h.t, h.id, 0)
		}
		s.waiters[i] = nil
	}
	s.waiters = s.waiters[:0]
	s.holdSince = 0
}

// SubscriberID implements router.Subscriber.
func (s *Session) SubscriberID() string { return s.id }

// inflight states.
const (
	awaitPuback uint8 = iota
	awaitPubrec
	awaitPubcomp
)

type inflightMsg struct {
	msg    *router.Message
	subIDs []uint32
	id     uint16
	qos    uint8
	state  uint8
	retain bool
}

// queuedMsg is a delivery waiting in a session queue.
type queuedMsg struct {
	msg    *router.Message
	subIDs []uint32
	qos    uint8
	retain bool
}

// msgQueue is a FIFO ring of queued deliveries. head and n are 32-bit to
// keep Session small; a queue is bounded by max_queued_messages far below that.
type msgQueue struct {
	buf   []queuedMsg
	head  int32
	n     int32
	bytes int64
}

func (q *msgQueue) len() int { return int(q.n) }

func (q *msgQueue) push(m queuedMsg) {
	if int(q.n) == len(q.buf) {
		nb := make([]queuedMsg, max(8, 2*len(q.buf)))
		for i := 0; i < int(q.n); i++ {
			nb[i] = q.buf[(int(q.head)+i)%len(q.buf)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(int(q.head)+int(q.n))%len(q.buf)] = m
	q.n++
	q.bytes += msgSize(m.msg)
}

func (q *msgQueue) pop() queuedMsg {
	m := q.buf[q.head]
	q.buf[q.head] = queuedMsg{}
	q.head = int32((int(q.head) + 1) % len(q.buf))
	q.n--
	q.bytes -= msgSize(m.msg)
	if q.n == 0 {
		q.head = 0
		if len(q.buf) > 64 {
			q.buf = nil // give a drained burst's memory back
		}
	}
	return m
}

func (q *msgQueue) clear() int {
	n := int(q.n)
	*q = msgQueue{}
	return n
}

func msgSize(m *router.Message) int64 { return int64(len(m.Topic) + len(m.Payload)) }

// pubRef is a message being routed. msg may alias the publisher's read
// buffer; stored is its one shared copy, made the first time a subscriber
// needs to keep the message (queue or inflight) and then shared by all.
type pubRef struct {
	msg    *router.Message
	stored *router.Message
}

func (r *pubRef) keep() *router.Message {
	if r.stored == nil {
		r.stored = r.msg.Clone()
	}
	return r.stored
}

// deliver hands a message to this session at QoS qos (already the minimum of
// the publish and the subscription). Any worker may call it.
func (s *Session) deliver(w *worker, r *pubRef, qos byte, retain bool, subIDs []uint32) {
	if qos == 0 {
		if c := s.client.Load(); c != nil {
			c.sendPublish(w, r.msg, 0, 0, retain, subIDs, false)
		}
		return // QoS 0 is not queued for offline sessions
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	c := s.client.Load()
	if c != nil && s.queue.len() == 0 && len(s.inflight) < int(s.receiveMax) && !(len(s.inflight) > 0 && c.overCap()) {
		m := r.keep()
		id := s.allocID()
		s.inflight = append(s.inflight, inflightMsg{msg: m, subIDs: keepIDs(subIDs), id: id, qos: qos, retain: retain, state: stateFor(qos)})
		w.ms.Inflight(&w.tally, 1)
		c.sendPublish(w, m, qos, id, retain, subIDs, false)
		s.mu.Unlock()
		return
	}
	if c == nil && s.expiry == 0 && !s.connected {
		s.mu.Unlock()
		return // a clean session that is going away
	}
	s.enqueueLocked(w, r.keep(), qos, retain, subIDs)
	if c != nil && s.queue.len() >= s.b.holdHigh {
		w.congested = append(w.congested, s)
	}
	s.mu.Unlock()
}

func stateFor(qos byte) uint8 {
	if qos == 2 {
		return awaitPubrec
	}
	return awaitPuback
}

// keepIDs copies subscription ids that may alias a router scratch buffer.
func keepIDs(ids []uint32) []uint32 {
	if len(ids) == 0 {
		return nil
	}
	return append([]uint32(nil), ids...)
}

// enqueueLocked queues a delivery, bounded by max_queued_messages and
// max_queued_bytes; what does not fit is dropped and counted. s.mu held.
func (s *Session) enqueueLocked(w *worker, m *router.Message, qos byte, retain bool, subIDs []uint32) {
	lim := &s.b.lim
	// A connected subscriber's queue may run past max_queued_messages by
	// what its publishers still have unacknowledged: those acknowledgements
	// are held (see ackHold), so the publishers are about to slow down and
	// dropping would lose messages they were told nothing about. The
	// overflow is itself capped so a publisher that ignores its window
	// cannot grow memory without bound.
	maxQ, maxB := lim.maxQueued, lim.maxQueuedBytes
	if s.client.Load() != nil {
		maxQ, maxB = 4*maxQ, 4*maxB
	}
	if (maxQ > 0 && s.queue.len() >= maxQ) ||
		(maxB > 0 && s.queue.bytes+msgSize(m) > maxB) {
		w.ms.Dropped(qos, metrics.DropQueueFull)
		return
	}
	s.queue.push(queuedMsg{msg: m, subIDs: keepIDs(subIDs), qos: qos, retain: retain})
	w.ms.Queued(&w.tally, 1)
}

// allocID returns a packet id not in use by an inflight message
// [MQTT-2.2.1-3]. s.mu held; at most receiveMax ids are ever in use.
func (s *Session) allocID() uint16 {
	for {
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		free := true
		for i := range s.inflight {
			if s.inflight[i].id == s.nextID {
				free = false
				break
			}
		}
		if free {
			return s.nextID
		}
	}
}

// pumpLocked moves queued messages into free inflight slots (and sends queued
// QoS 0 messages) while the client is attached. s.mu held.
func (s *Session) pumpLocked(w *worker) {
	c := s.client.Load()
	if c == nil {
		return
	}
	now := w.now
	for s.queue.len() > 0 {
		head := &s.queue.buf[s.queue.head]
		if head.qos > 0 && (len(s.inflight) >= int(s.receiveMax) || len(s.inflight) > 0 && c.overCap()) {
			break // an acknowledgement will pump again
		}
		q := s.queue.pop()
		w.ms.Queued(&w.tally, -1)
		if q.msg.Expiry != 0 && now >= q.msg.Expiry {
			w.ms.Dropped(q.qos, metrics.DropExpired) // [MQTT-3.3.2-5]
			continue
		}
		if q.qos == 0 {
			c.sendPublish(w, q.msg, 0, 0, q.retain, q.subIDs, false)
			continue
		}
		id := s.allocID()
		s.inflight = append(s.inflight, inflightMsg{msg: q.msg, subIDs: q.subIDs, id: id, qos: q.qos, retain: q.retain, state: stateFor(q.qos)})
		w.ms.Inflight(&w.tally, 1)
		c.sendPublish(w, q.msg, q.qos, id, q.retain, q.subIDs, false)
	}
	if len(s.waiters) > 0 && s.queue.len() < s.b.holdLow {
		s.releaseLocked(w)
	}
}

// resendLocked re-sends unacknowledged PUBLISH packets with DUP set and
// PUBREL packets, in their original order, on a resumed session
// [MQTT-4.4.0-1] [MQTT-4.6.0-1]. s.mu held.
func (s *Session) resendLocked(w *worker, c *client) {
	for i := range s.inflight {
		f := &s.inflight[i]
		if f.state == awaitPubcomp {
			c.sendAck(w, codec.PUBREL, f.id, 0)
			continue
		}
		c.sendPublish(w, f.msg, f.qos, f.id, f.retain, f.subIDs, true) // [MQTT-3.3.1-1]
	}
}

// ackLocked settles an acknowledgement from the client for an outbound
// message. It returns a protocol error for an ack that does not fit the
// message's flow (e.g. PUBREC for a QoS 1 message). s.mu held.
func (s *Session) ackLocked(w *worker, c *client, t codec.PacketType, id uint16, reason byte) error {
	i := -1
	for j := range s.inflight {
		if s.inflight[j].id == id {
			i = j
			break
		}
	}
	if i < 0 {
		if t == codec.PUBREC {
			// Unknown id: answer PUBREL "Packet Identifier not found" (MQTT-5.0 §3.6.2.1) so the
			// client can release it; 3.1.x has no reason codes, so plain PUBREL.
			c.sendAck(w, codec.PUBREL, id, codec.PacketIDNotFound)
		}
		return nil // late or duplicate ack: nothing is waiting for it
	}
	f := &s.inflight[i]
	switch t {
	case codec.PUBACK:
		if f.state != awaitPuback {
			return errProtocol(codec.ProtocolError, "MQTT-5.0 §4.3.2", "PUBACK for a QoS 2 message")
		}
	case codec.PUBREC:
		if f.state == awaitPuback {
			return errProtocol(codec.ProtocolError, "MQTT-5.0 §4.3.3", "PUBREC for a QoS 1 message")
		}
		if reason >= 0x80 {
			break // the receiver refused it: the flow ends here [MQTT-4.3.3-4]
		}
		f.state = awaitPubcomp
		c.sendAck(w, codec.PUBREL, id, 0) // [MQTT-4.3.3-4]
		return nil
	case codec.PUBCOMP:
		if f.state != awaitPubcomp {
			return errProtocol(codec.ProtocolError, "MQTT-5.0 §4.3.3", "PUBCOMP before PUBREC")
		}
	}
	copy(s.inflight[i:], s.inflight[i+1:])
	s.inflight[len(s.inflight)-1] = inflightMsg{}
	s.inflight = s.inflight[:len(s.inflight)-1]
	w.ms.Inflight(&w.tally, -1)
	s.pumpLocked(w)
	return nil
}

// Snapshot of session facts for the admin API.
func (s *Session) counts() (subs, inflight, queued int) {
	s.mu.Lock()
	subs, inflight, queued = len(s.subs), len(s.inflight), s.queue.len()
	s.mu.Unlock()
	return
}

// sendPublish encodes a PUBLISH for this client. Any worker may call it; for
// QoS > 0 the caller holds the session lock (packet id already allocated).
// QoS 0 messages over the outbound cap are dropped and counted
// (DESIGN-NOTES "bound everything"); QoS 1/2 are bounded by the inflight window.
func (c *client) sendPublish(w *worker, m *router.Message, qos byte, id uint16, retain bool, subIDs []uint32, dup bool) {
	var props *codec.Properties
	if c.version == codec.V5 && (m.Props.Present != 0 || len(m.Props.User) > 0 || len(subIDs) > 0 || m.Expiry != 0) {
		// Only a message with properties pays for the per-delivery copy.
		props = &w.props
		*props = m.Props
		if len(subIDs) > 0 {
			props.SubscriptionIDs = subIDs // [MQTT-3.3.4-3]
			props.Present |= 1 << codec.PropSubscriptionID
		}
		if m.Expiry != 0 {
			left := (m.Expiry - w.now + int64(time.Second) - 1) / int64(time.Second)
			if left <= 0 {
				w.ms.Dropped(qos, metrics.DropExpired) // [MQTT-3.3.2-5]
				return
			}
			props.MessageExpiry = uint32(left) // [MQTT-3.3.2-6]
			props.Present |= 1 << codec.PropMessageExpiry
		}
	}
	if c.clientMaxPacket != 0 && codec.PublishSize(c.version, qos, m.Topic, props, len(m.Payload)) > int(c.clientMaxPacket) {
		w.ms.Dropped(qos, metrics.DropPacketTooLarge) // [MQTT-3.1.2-25]
		return
	}
	if slot := c.stageSlot(w); slot != nil && qos == 0 {
		// Another event loop's client: append to this worker's own staging
		// buffer for it, no lock; flushTurn hands the buffer over. Only for
		// QoS 0: a staged buffer is in transit for a moment, and QoS 1/2
		// messages of one session are also sent by its owner loop (from the
		// queue), so they take the locked path, which keeps their order
		// [MQTT-4.6.0-6]. QoS 0 messages are only ever sent from here.
		st := slot.buf
		if st == nil {
			if c.gone.Load() {
				return
			}
			st = outPool.Get()
			slot.buf = st
			w.staged = append(w.staged, c)
		}
		if qos == 0 && c.b.lim.maxOutbound > 0 && int64(len(st.B))+c.sockPending.Load() > c.b.lim.maxOutbound {
			w.ms.Dropped(qos, metrics.DropSlowConsumer)
			return
		}
		st.B = c.appendPublish(w, st.B, m, qos, id, retain, props, dup)
		slot.n++
	} else {
		out, locked := c.outFor(w)
		if out == nil {
			return
		}
		if qos == 0 && c.b.lim.maxOutbound > 0 && int64(len(out.B))+c.sockPending.Load() > c.b.lim.maxOutbound {
			c.doneOut(locked)
			w.ms.Dropped(qos, metrics.DropSlowConsumer)
			return
		}
		out.B = c.appendPublish(w, out.B, m, qos, id, retain, props, dup)
		c.doneOut(locked)
		if locked {
			c.msgsOut.Add(1)
		} else {
			c.ownN++ // the owner loop adds it to msgsOut at the flush
		}
	}
	// Delivered, PUBLISH sent and latency, batched in the worker's tally
	// and folded into w.ms once per turn (flushTurn): a fan-out pays plain
	// increments per subscriber instead of four atomic adds.
	w.ms.Delivery(&w.tally, qos, w.now-m.Created)
}

// appendPublish encodes m for c. A QoS 0 PUBLISH to a 3.1/3.1.1 client is
// the same bytes for every such subscriber of one publish (only RETAIN may
// differ), so it is encoded once per publish and copied per subscriber.
func (c *client) appendPublish(w *worker, dst []byte, m *router.Message, qos byte, id uint16, retain bool, props *codec.Properties, dup bool) []byte {
	if qos != 0 || c.version == codec.V5 || dup {
		return codec.AppendPublish(dst, c.version, dup, qos, retain, m.Topic, id, props, m.Payload)
	}
	pre := &w.pre[0]
	if retain {
		pre = &w.pre[1]
	}
	if pre.gen != w.pubGen || pre.msg != m {
		pre.b = codec.AppendPublish(pre.b[:0], codec.V311, false, 0, retain, m.Topic, 0, nil, m.Payload)
		pre.gen, pre.msg = w.pubGen, m
	}
	return append(dst, pre.b...)
}

// overCap reports whether the connection's unsent bytes passed
// max_outbound_bytes: QoS 1/2 messages then wait in the session queue
// instead of piling up in memory behind the socket.
func (c *client) overCap() bool {
	return c.b.lim.maxOutbound > 0 && c.sockPending.Load() > c.b.lim.maxOutbound
}

// sendAck queues PUBACK/PUBREC/PUBREL/PUBCOMP.
func (c *client) sendAck(w *worker, t codec.PacketType, id uint16, reason byte) {
	if c.version != codec.V5 {
		reason = 0
	}
	if out, locked := c.outFor(w); out != nil {
		out.B = codec.AppendAck(out.B, c.version, t, id, reason, nil)
		c.doneOut(locked)
		w.ms.PacketOut(t)
	}
}
