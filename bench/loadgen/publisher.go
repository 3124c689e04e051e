package main

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tsubame-mq/tsubame/bench/loadgen/internal/stats"
	"github.com/tsubame-mq/tsubame/codec"
)

// stream is one (publisher, topic) sequence: its messages are numbered 0,
// 1, 2, ... and carry id in their stamp. Subscribers keep one
// stats.Sequence per stream they expect.
type stream struct {
	id    uint32
	topic string
	next  uint64        // owned by the publisher goroutine
	sent  atomic.Uint64 // messages handed to the socket; read by reporters
}

// batchBytes is how much a publisher writes per system call when it runs
// as fast as it can: hundreds of small messages per write.
const batchBytes = 32 << 10

// publisher writes stamped PUBLISH packets for its streams round-robin.
// One goroutine (run) builds and writes batches; the client's reader
// goroutine (readAcks) completes QoS 1/2 flows and opens the window.
type publisher struct {
	cfg     *Config
	c       *client
	streams []*stream
	rr      int

	// QoS 1/2 flow control. busy has one bit per packet id, set from
	// PUBLISH until PUBACK (QoS 1) or PUBCOMP (QoS 2).
	inflight atomic.Int32
	busy     []atomic.Uint64
	nextID   uint16
	wake     chan struct{}

	acked atomic.Uint64
	errs  *atomic.Uint64

	// ack latency (pub scenario, QoS > 0): send time per packet id.
	ackHist   *stats.Histogram
	sentAt    []atomic.Int64
	measuring *window

	buf     []byte
	payload []byte
	stall   *time.Timer // bounds a wait for the window to open
	window  int         // -inflight, lowered to the broker's Receive Maximum
}

func newPublisher(cfg *Config, c *client, streams []*stream, errs *atomic.Uint64) *publisher {
	p := &publisher{cfg: cfg, c: c, streams: streams, errs: errs, wake: make(chan struct{}, 1),
		buf: make([]byte, 0, batchBytes+cfg.Size+512), payload: make([]byte, cfg.Size), window: cfg.Inflight}
	if c != nil && c.receiveMax > 0 && int(c.receiveMax) < p.window {
		p.window = int(c.receiveMax) // v5: never more unacknowledged than the broker allows [MQTT-3.3.4-7]
	}
	for i := stampSize; i < len(p.payload); i++ {
		p.payload[i] = byte(i)
	}
	if cfg.QoS > 0 {
		p.busy = make([]atomic.Uint64, 65536/64)
	}
	return p
}

// allocID returns a free packet id and marks it busy [MQTT-2.2.1-3]: never
// 0, never one still in flight.
func (p *publisher) allocID() uint16 {
	for {
		p.nextID++
		if p.nextID == 0 {
			p.nextID = 1
		}
		w, bit := &p.busy[p.nextID>>6], uint64(1)<<(p.nextID&63)
		if w.Load()&bit == 0 {
			w.Or(bit)
			return p.nextID
		}
	}
}

// release completes the flow of id; false if id was not in flight.
func (p *publisher) release(id uint16) bool {
	w, bit := &p.busy[id>>6], uint64(1)<<(id&63)
	if id == 0 || w.And(^bit)&bit == 0 {
		return false
	}
	if p.ackHist != nil {
		if t := p.sentAt[id].Load(); p.measuring.contains(t) {
			p.ackHist.Record(time.Now().UnixNano() - t)
		}
	}
	p.inflight.Add(-1)
	p.acked.Add(1)
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return true
}

// appendMessages appends n PUBLISH packets stamped with send time ts (rate 0)
// or with each message's scheduled time (fixed rate: t0 + k/rate, so a
// stalled broker shows as latency rather than as fewer samples).
func (p *publisher) appendMessages(n int, now int64, t0 int64, issued uint64) {
	v, qos, size := p.cfg.Version, p.cfg.QoS, p.cfg.Size
	for i := 0; i < n; i++ {
		s := p.streams[p.rr]
		if p.rr++; p.rr == len(p.streams) {
			p.rr = 0
		}
		var id uint16
		if qos > 0 {
			id = p.allocID()
			p.inflight.Add(1)
		}
		ts := now
		if p.cfg.Rate > 0 {
			ts = t0 + int64(float64(issued+uint64(i))*1e9/p.cfg.Rate)
		}
		if p.sentAt != nil {
			p.sentAt[id].Store(ts)
		}
		p.buf = codec.AppendPublish(p.buf, v, false, qos, false, s.topic, id, nil, p.payload)
		stampPayload(p.buf[len(p.buf)-size:], s.id, s.next, ts)
		s.next++
		s.sent.Store(s.next)
	}
}

// stampPayload writes the 20-byte stamp at the start of payload.
func stampPayload(b []byte, id uint32, seq uint64, ts int64) {
	binary.BigEndian.PutUint32(b[0:4], id)
	binary.BigEndian.PutUint64(b[4:12], seq)
	binary.BigEndian.PutUint64(b[12:20], uint64(ts))
}

// readStamp reads the stamp back; ok is false for a payload too short.
func readStamp(b []byte) (id uint32, seq uint64, ts int64, ok bool) {
	if len(b) < stampSize {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint64(b[4:12]), int64(binary.BigEndian.Uint64(b[12:20])), true
}

// tickPeriod is how often a fixed-rate publisher wakes to write the
// messages that fell due: often enough to keep the rate smooth, rarely
// enough that thousands of publishers do not spend the CPU on timers.
func tickPeriod(rate float64, pubs int) time.Duration {
	d := time.Duration(float64(time.Second) / rate)
	floor := time.Millisecond * time.Duration(1+pubs/100)
	if d < floor {
		d = floor
	}
	if d > 100*time.Millisecond {
		d = 100 * time.Millisecond
	}
	return d
}

// run publishes until stop is closed or -count messages per stream are out.
func (p *publisher) run(stop <-chan struct{}) {
	cfg := p.cfg
	perMsg := codec.PublishSize(cfg.Version, cfg.QoS, p.streams[0].topic, nil, cfg.Size)
	maxBatch := batchBytes / perMsg
	if maxBatch < 1 {
		maxBatch = 1
	}
	var limit uint64 // total messages across streams, 0 = unlimited
	if cfg.Count > 0 {
		limit = cfg.Count * uint64(len(p.streams))
	}
	var tick *time.Ticker
	if cfg.Rate > 0 {
		tick = time.NewTicker(tickPeriod(cfg.Rate, cfg.Pubs))
		defer tick.Stop()
	}
	t0 := time.Now().UnixNano()
	var issued uint64
	for {
		select {
		case <-stop:
			return
		default:
		}
		n := maxBatch
		if tick != nil {
			due := uint64(float64(time.Now().UnixNano()-t0)*cfg.Rate/1e9) + 1
			if due <= issued {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				continue
			}
			if d := due - issued; d < uint64(n) {
				n = int(d)
			}
		}
		if limit > 0 {
			if issued >= limit {
				return
			}
			if r := limit - issued; r < uint64(n) {
				n = int(r)
			}
		}
		if cfg.QoS > 0 {
			avail := p.window - int(p.inflight.Load())
			if avail <= 0 {
				if p.stall == nil {
					p.stall = time.NewTimer(100 * time.Millisecond)
				} else {
					p.stall.Reset(100 * time.Millisecond)
				}
				select {
				case <-stop:
					return
				case <-p.wake:
				case <-p.stall.C:
				}
				continue
			}
			if avail < n {
				n = avail
			}
		}
		p.buf = p.buf[:0]
		p.appendMessages(n, time.Now().UnixNano(), t0, issued)
		issued += uint64(n)
		if err := p.c.send(p.buf); err != nil {
			select {
			case <-stop: // cut off after the run ended; not the broker's failure
			default:
				p.errs.Add(1)
			}
			return
		}
	}
}

// readAcks is the publisher connection's reader: it completes QoS 1/2
// flows and answers nothing else but keepalive responses.
func (p *publisher) readAcks(closing *atomic.Bool, logf func(string, ...any)) {
	c := p.c
	for {
		pk, err := c.next()
		if err != nil {
			if !closing.Load() {
				p.errs.Add(1)
				logf("publisher connection lost: %v", err)
			}
			return
		}
		switch pk.Type {
		case codec.PUBACK, codec.PUBCOMP:
			if p.busy == nil || !p.release(pk.PacketID) {
				p.errs.Add(1)
				logf("%v: ack type %d for packet id %d not in flight", errProtocol, pk.Type, pk.PacketID)
			} else if pk.ReasonCode >= 0x80 {
				p.errs.Add(1)
			}
		case codec.PUBREC:
			if pk.ReasonCode >= 0x80 { // v5: a failed PUBREC ends the flow; no PUBREL
				p.errs.Add(1)
				p.release(pk.PacketID)
				continue
			}
			c.out = codec.AppendAck(c.out, c.version, codec.PUBREL, pk.PacketID, 0, nil)
		case codec.PINGRESP:
		case codec.DISCONNECT:
			p.errs.Add(1)
			logf("broker sent DISCONNECT to a publisher, reason 0x%02x", pk.ReasonCode)
			return
		default:
			p.errs.Add(1)
			logf("%v", fmt.Errorf("%w: unexpected packet type %d on a publisher", errProtocol, pk.Type))
		}
	}
}
