package main

import (
	"sync/atomic"

	"github.com/tsubame-mq/tsubame/bench/loadgen/internal/stats"
	"github.com/tsubame-mq/tsubame/codec"
)

// window is the measured interval [start, end) in unix ns. Messages stamped
// inside it are recorded in the latency histogram; warmup and drain traffic
// is counted for loss but not for latency.
type window struct {
	start, end atomic.Int64
}

func (w *window) contains(ts int64) bool {
	return ts >= w.start.Load() && ts < w.end.Load()
}

// subscriber reads one subscription's deliveries and accounts for them.
// Its goroutine (run) owns everything but delivered, which reporters read.
type subscriber struct {
	c   *client
	qos byte // granted

	// Streams [lo, lo+len(seqs)) are expected here; anything else (a
	// passive subscriber's unknown publishers) goes to other.
	lo      uint32
	seqs    []stats.Sequence
	passive bool
	other   map[uint32]*stats.Sequence
	lastID  uint32
	last    *stats.Sequence

	delivered  atomic.Uint64
	unexpected uint64 // messages of streams this subscriber should not get
	foreign    uint64 // payloads without a stamp

	hist *stats.Histogram
	win  *window
	errs *atomic.Uint64
}

func (s *subscriber) sequence(id uint32) *stats.Sequence {
	if id-s.lo < uint32(len(s.seqs)) {
		return &s.seqs[id-s.lo]
	}
	if s.last != nil && s.lastID == id {
		return s.last
	}
	if !s.passive {
		return nil
	}
	q := s.other[id]
	if q == nil {
		if s.other == nil {
			s.other = make(map[uint32]*stats.Sequence)
		}
		q = new(stats.Sequence) // once per new publisher stream
		s.other[id] = q
	}
	s.lastID, s.last = id, q
	return q
}

// onPublish accounts for one delivered message and queues its ack. It is the
// per-message path: no allocation (tested in alloc_test.go).
func (s *subscriber) onPublish(pk *codec.Packet, now int64) {
	c := s.c
	switch pk.QoS {
	case 1:
		c.out = codec.AppendAck(c.out, c.version, codec.PUBACK, pk.PacketID, 0, nil)
	case 2:
		c.out = codec.AppendAck(c.out, c.version, codec.PUBREC, pk.PacketID, 0, nil)
	}
	s.delivered.Add(1)
	id, seq, ts, ok := readStamp(pk.Payload)
	if !ok {
		s.foreign++
		return
	}
	q := s.sequence(id)
	if q == nil {
		s.unexpected++
		return
	}
	q.Observe(seq)
	if s.win.contains(ts) {
		s.hist.Record(now - ts)
	}
}

// run reads until the connection ends.
func (s *subscriber) run(closing *atomic.Bool, logf func(string, ...any)) {
	c := s.c
	for {
		pk, err := c.next()
		if err != nil {
			if !closing.Load() {
				s.errs.Add(1)
				logf("subscriber connection lost: %v", err)
			}
			return
		}
		switch pk.Type {
		case codec.PUBLISH:
			s.onPublish(pk, c.readAt)
		case codec.PUBREL:
			c.out = codec.AppendAck(c.out, c.version, codec.PUBCOMP, pk.PacketID, 0, nil)
		case codec.PINGRESP, codec.SUBACK:
		case codec.DISCONNECT:
			s.errs.Add(1)
			logf("broker sent DISCONNECT to a subscriber, reason 0x%02x", pk.ReasonCode)
			return
		default:
			s.errs.Add(1)
			logf("%v: unexpected packet type %d on a subscriber", errProtocol, pk.Type)
		}
	}
}
