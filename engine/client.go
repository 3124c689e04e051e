package engine

import (
	"errors"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/metrics"
	"github.com/tsubame-mq/tsubame/engine/ws"
	"github.com/tsubame-mq/tsubame/router"
)

// transport is what a client needs from the network below it. The event-loop
// transport (gnet) and the goroutine transport (crypto/tls) both implement it;
// the protocol code above never knows which one it talks to.
type transport interface {
	// write sends b or buffers it inside the transport; b may be reused
	// after it returns. Owner goroutine only.
	write(b []byte)
	// buffered is how many bytes write accepted that are not on the wire yet.
	// Owner goroutine only.
	buffered() int
	// wake asks the owner to call client.flush soon. Any goroutine; only
	// goroutine transports use it (event loops are flushed by flushTask).
	wake()
	// close closes the connection after the pending output is written.
	// Owner goroutine only; client.closeAsync is the any-goroutine form.
	close()
	// runOnOwner runs fn on the owner goroutine; any goroutine.
	runOnOwner(fn func(w *worker))
	remoteAddr() net.Addr
}

// client states.
const (
	stateWSHandshake = iota // WebSocket listener: waiting for the HTTP upgrade
	stateConnect            // waiting for CONNECT [MQTT-3.1.0-1]
	stateConnected
	stateClosing // a DISCONNECT or a fatal error was handled; ignore the rest
)

// client is one network connection and its MQTT protocol state machine. All
// fields are owned by the worker w (its event loop or TLS goroutine) unless
// marked otherwise.
type client struct {
	b   *Broker
	w   *worker
	tr  transport
	lis *listener

	// rare holds what most connections never use (WebSocket framing, a
	// will, topic aliases, a certificate user): one pointer, allocated by
	// the first use, keeps an idle connection small (MEMORY.md).
	rare *clientRare

	// stage[i] is event loop i's private buffer of packets for this client
	// (see worker.staged): set up before the client can be matched by the
	// router, nil for clients without subscriptions. It sits with the
	// fields other loops only read, away from those the owner writes per
	// flush, so delivering loops do not bounce the owner's cache lines.
	stage []stageSlot

	// Small fields together, so the struct has no padding holes; next to
	// stage because a delivering loop reads version and clientMaxPacket.
	state            uint8
	version          byte   // negotiated protocol level (0 until CONNECT)
	keepalive        uint16 // effective keepalive, seconds
	clientMaxPacket  uint32 // client's Maximum Packet Size (v5), 0 = none
	normalDisconnect bool
	takenOver        bool

	id          string
	username    string
	remote      net.Addr // the peer, read once at accept (gnet clears its copy on close)
	sess        *Session
	connectedAt int64
	acceptedAt  int64 // unix seconds, set before the client is shared

	// Read by the keepalive wheel and the admin API from other goroutines.
	live        atomic.Bool  // CONNECT accepted; keepalive is set before it is stored
	gone        atomic.Bool  // the connection is closed
	lastSeen    atomic.Int64 // unix seconds of the last complete packet
	wheelAt     atomic.Int64 // second the keepalive wheel checks this client next
	sockPending atomic.Int64 // bytes the transport still buffers, as of the last flush

	// Counters read by the admin API.
	msgsIn, msgsOut, bytesIn, bytesOut atomic.Uint64

	// own is the owner event loop's output buffer, appended to without a
	// lock (see outFor); ownPending: c is on the loop's dirty list.
	own     *bytebufferpool.ByteBuffer
	ownN    uint32      // PUBLISH packets in own, counted into msgsOut at the flush
	outFlag atomic.Bool // c.out holds bytes (lets the owner skip the lock)

	mu           sync.Mutex // guards out, flushPending, closed
	out          *bytebufferpool.ByteBuffer
	ownPending   bool
	flushPending bool
	closed       bool
	closeReason  metrics.CloseReason
	reasonSet    bool
	discCode     byte // v5 DISCONNECT reason the server sends when it closes, 0xff none
}

// clientRare is the part of a client that few connections use. Owned like
// the client's other fields: by its worker.
type clientRare struct {
	wsConn     *ws.Conn
	wsIn       *bytebufferpool.ByteBuffer // unframed MQTT bytes from WebSocket frames, waiting to be parsed
	certUser   string                     // certificate CN on listeners with use_identity_as_username
	will       *router.Message
	willDelay  uint32
	willExpiry uint32   // will Message Expiry Interval (v5)
	aliases    []string // inbound topic aliases (v5), index = alias
}

// x returns c.rare, allocating it on first use. Owner only.
func (c *client) x() *clientRare {
	if c.rare == nil {
		c.rare = new(clientRare)
	}
	return c.rare
}

var outPool bytebufferpool.Pool

func newClient(b *Broker, w *worker, tr transport, lis *listener) *client {
	c := new(client)
	c.init(b, w, tr, lis)
	return c
}

// init sets up a zero client in place (it may be part of a larger allocation).
func (c *client) init(b *Broker, w *worker, tr transport, lis *listener) {
	c.b, c.w, c.tr, c.lis = b, w, tr, lis
	c.state, c.discCode = stateConnect, 0xff
	if lis.ws {
		c.state = stateWSHandshake
	}
	c.remote = tr.remoteAddr()
	c.acceptedAt = w.nowSec
	c.lastSeen.Store(w.nowSec)
}

// input handles bytes read from the network; it returns how many it consumed
// (the rest stays buffered in the transport until more arrive) and whether
// the connection must be closed.
func (c *client) input(w *worker, b []byte) (consumed int, closeNow bool) {
	if c.state == stateClosing {
		return len(b), true
	}
	if c.lis.ws {
		return c.inputWS(w, b)
	}
	n, err := c.feed(w, b)
	if err != nil {
		c.failInput(w, err)
		return len(b), true
	}
	return n, c.state == stateClosing
}

// contain stops a panic in this connection's code from taking the event
// loop (and every other connection) down: it is logged with its stack, the
// connection is closed, and the worker's pending output is still flushed.
// A panic is always a broker bug; this only limits the damage to one client.
func (c *client) contain(w *worker, action *gnet.Action) {
	r := recover()
	if r == nil {
		return
	}
	c.b.log.Error("internal error, closing connection", "client", c.id, "remote", c.remote,
		"panic", r, "stack", string(debug.Stack()))
	c.setReason(metrics.CloseProtocolError)
	c.state = stateClosing
	w.flushing = false
	w.flushTurn()
	if action != nil {
		*action = gnet.Close
	}
}

// failInput handles a decode or protocol error from feed.
func (c *client) failInput(w *worker, err error) {
	if c.state == stateConnect {
		c.connectError(w, err)
	}
	c.fail(w, err)
}

// inputWS unwraps WebSocket framing, then feeds the MQTT bytes.
func (c *client) inputWS(w *worker, b []byte) (int, bool) {
	consumed := 0
	x := c.x()
	if c.state == stateWSHandshake {
		n, resp, conn, err := ws.Handshake(b, &c.lis.wsCfg, w.scratch[:0])
		if err != nil {
			if len(resp) > 0 {
				c.tr.write(resp)
			}
			c.b.log.Info("websocket upgrade refused", "remote", c.remote, "listener", c.lis.name, "err", err)
			c.setReason(metrics.CloseProtocolError)
			c.state = stateClosing
			return len(b), true
		}
		if n == 0 {
			if len(b) > c.lis.wsCfg.MaxHandshake && c.lis.wsCfg.MaxHandshake > 0 {
				return len(b), true
			}
			return 0, false
		}
		c.tr.write(resp)
		w.scratch = resp[:0]
		x.wsConn = conn
		c.state = stateConnect
		consumed = n
		b = b[n:]
	}
	if len(b) == 0 {
		return consumed, false
	}
	if x.wsIn == nil {
		x.wsIn = outPool.Get()
	}
	n, mqtt, ctrl, closed, err := x.wsConn.ReadFrames(b, x.wsIn.B, w.scratch[:0])
	x.wsIn.B = mqtt
	if len(ctrl) > 0 {
		c.tr.write(ctrl)
		w.scratch = ctrl[:0]
	}
	consumed += n
	if err != nil || closed {
		if err != nil {
			c.b.log.Info("websocket error", "remote", c.remote, "client", c.id, "err", err)
		}
		if err != nil {
			c.setReason(metrics.CloseProtocolError)
		} else {
			c.setReason(metrics.CloseNormal)
		}
		c.state = stateClosing
		return consumed, true
	}
	if len(x.wsIn.B) > 0 {
		m, err := c.feed(w, x.wsIn.B)
		if err != nil {
			c.failInput(w, err)
			return len(b) + consumed, true
		}
		rest := copy(x.wsIn.B, x.wsIn.B[m:])
		x.wsIn.B = x.wsIn.B[:rest]
	}
	if len(x.wsIn.B) == 0 {
		outPool.Put(x.wsIn)
		x.wsIn = nil
	}
	return consumed, c.state == stateClosing
}

// feed decodes and handles the complete packets at the start of b and
// returns the bytes consumed; a partial packet at the end is left for later.
func (c *client) feed(w *worker, b []byte) (int, error) {
	off := 0
	maxSize := int(c.b.lim.maxPacketSize)
	for off < len(b) && c.state != stateClosing {
		if c.version == 0 {
			// A fixed-header error returns before Decode resets w.pkt, and
			// connectError answers by w.pkt.Version: never let it be the
			// level of another client's packet on this loop.
			w.pkt.Version = 0
		}
		n, err := codec.Decode(b[off:], c.version, maxSize, &w.pkt)
		if err != nil {
			return off, err
		}
		if n == 0 {
			break
		}
		c.lastSeen.Store(w.nowSec)
		c.bytesIn.Add(uint64(n))
		w.ms.Inbound(&w.tally, w.pkt.Type, n) // folded into w.ms by flushTurn
		if err := c.handle(w, &w.pkt); err != nil {
			return off + n, err
		}
		off += n
	}
	return off, nil
}

// errProtocol wraps a protocol rule violation found by the engine (not the codec).
func errProtocol(code byte, rule, text string) error {
	return &codec.Error{Code: code, Rule: rule, Text: text}
}

var errSecondConnect = errProtocol(codec.ProtocolError, "MQTT-3.1.0-2", "second CONNECT on a connection")
var errFirstNotConnect = errProtocol(codec.ProtocolError, "MQTT-3.1.0-1", "first packet is not CONNECT")
var errServerOnly = errProtocol(codec.ProtocolError, "MQTT-3.1.0-2", "packet type only a server sends")

// handle dispatches one decoded packet.
func (c *client) handle(w *worker, p *codec.Packet) error {
	if c.state == stateConnect {
		if p.Type != codec.CONNECT {
			return errFirstNotConnect // [MQTT-3.1.0-1]
		}
		return c.handleConnect(w, p)
	}
	switch p.Type {
	case codec.PUBLISH:
		return c.handlePublish(w, p)
	case codec.PUBACK, codec.PUBREC, codec.PUBCOMP:
		return c.handleOutboundAck(w, p)
	case codec.PUBREL:
		return c.handlePubrel(w, p)
	case codec.SUBSCRIBE:
		return c.handleSubscribe(w, p)
	case codec.UNSUBSCRIBE:
		return c.handleUnsubscribe(w, p)
	case codec.PINGREQ:
		c.send(w, pingresp) // [MQTT-3.12.4-1]
		return nil
	case codec.DISCONNECT:
		return c.handleDisconnect(w, p)
	case codec.CONNECT:
		return errSecondConnect // [MQTT-3.1.0-2]
	case codec.AUTH:
		// Enhanced authentication is not offered, so an AUTH packet can
		// only be a protocol error [MQTT-4.12.0-1].
		return errProtocol(codec.ProtocolError, "MQTT-4.12.0-1", "AUTH without an authentication method")
	default:
		return errServerOnly
	}
}

var pingresp = []byte{0xd0, 0x00}

// send appends raw packet bytes to the output of c.
func (c *client) send(w *worker, b []byte) {
	if out, locked := c.outFor(w); out != nil {
		out.B = append(out.B, b...)
		c.doneOut(locked)
		w.ms.PacketOut(codec.PacketType(b[0] >> 4)) // b is one whole packet
	}
}

// outFor returns the buffer worker w appends c's packets to, nil when c is
// closed. On c's own event loop that is c.own, without a lock: output other
// workers left in c.out is moved in first, so bytes keep the order they
// were appended in. Any other worker gets c.out with c.mu held and must
// call doneOut(true) after appending.
func (c *client) outFor(w *worker) (out *bytebufferpool.ByteBuffer, locked bool) {
	if c.w == w && w.el != nil {
		if c.closed { // written only on this loop
			return nil, false
		}
		if c.outFlag.Load() {
			c.mu.Lock()
			c.absorbLocked()
			c.mu.Unlock()
		}
		if c.own == nil {
			c.own = outPool.Get()
		}
		if !c.ownPending {
			c.ownPending = true
			w.dirty = append(w.dirty, c)
		}
		return c.own, false
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false
	}
	if c.out == nil {
		c.out = outPool.Get()
	}
	c.outFlag.Store(true)
	c.markLocked(w)
	return c.out, true
}

func (c *client) doneOut(locked bool) {
	if locked {
		c.mu.Unlock()
	}
}

// absorbLocked moves c.out into c.own (owner loop, c.mu held).
func (c *client) absorbLocked() {
	if c.out != nil {
		if c.own == nil {
			c.own = c.out
		} else {
			c.own.B = append(c.own.B, c.out.B...)
			outPool.Put(c.out)
		}
		c.out = nil
	}
	c.flushPending = false
	c.outFlag.Store(false)
}

// markLocked schedules a flush of c on w if none is pending. c.mu must be held.
func (c *client) markLocked(w *worker) {
	if !c.flushPending {
		c.flushPending = true
		w.schedule(c)
	}
}

// stageSlot returns w's private staging slot for c when w is an event loop
// delivering to a client of another event loop, nil otherwise (then the
// locked c.out path is used).
func (c *client) stageSlot(w *worker) *stageSlot {
	if w.el == nil || c.w == w || c.w.el == nil || w.idx >= len(c.stage) {
		return nil
	}
	return &c.stage[w.idx]
}

// stageSlot is one delivering loop's buffer for a client, with the number
// of messages in it (counted into msgsOut by the owner, so delivering
// loops write nothing of the client's own).
type stageSlot struct {
	buf *bytebufferpool.ByteBuffer
	n   uint32
}

// prepareStage gives c its staging slots; called on the owner before c
// becomes reachable through the router or its session (atomic stores that
// publish the slice to other loops).
func (c *client) prepareStage() {
	if c.stage == nil && c.w.el != nil && c.b.numLoops > 1 {
		c.stage = make([]stageSlot, c.b.numLoops)
	}
}

// writeStaged writes a buffer another loop staged for c. Owner loop only.
func (c *client) writeStaged(buf *bytebufferpool.ByteBuffer, n uint32) {
	if !c.closed && !c.gone.Load() { // closed is written only on this loop
		c.writeOut(buf.B)
		c.msgsOut.Add(uint64(n))
	}
	outPool.Put(buf)
}

// writeOut writes packet bytes, framed for WebSocket clients. Owner only.
func (c *client) writeOut(b []byte) {
	n := len(b)
	if x := c.rare; x != nil && x.wsConn != nil {
		frame := outPool.Get()
		frame.B = x.wsConn.AppendFrame(frame.B[:0], b)
		c.tr.write(frame.B)
		outPool.Put(frame)
	} else {
		c.tr.write(b)
	}
	c.bytesOut.Add(uint64(n))
	c.w.ms.BytesOut(n)
	if !c.gone.Load() { // a failed write may have closed and released the connection
		c.sockPending.Store(int64(c.tr.buffered()))
	}
}

// flush writes the pending output. Owner goroutine only: the event loop for
// gnet connections, the writer goroutine for goroutine transports.
func (c *client) flush() {
	if c.w.el != nil {
		if c.outFlag.Load() {
			c.mu.Lock()
			c.absorbLocked()
			c.mu.Unlock()
		}
		own := c.own
		c.own = nil
		c.ownPending = false
		if c.ownN > 0 {
			c.msgsOut.Add(uint64(c.ownN))
			c.ownN = 0
		}
		if own != nil {
			if !c.closed {
				c.writeOut(own.B)
			}
			outPool.Put(own)
		}
		return
	}
	c.mu.Lock()
	out := c.out
	c.out = nil
	c.flushPending = false
	closed := c.closed
	c.mu.Unlock()
	if out == nil {
		return
	}
	if !closed {
		c.writeOut(out.B)
	}
	outPool.Put(out)
}

// fail handles a protocol error: one log line, a DISCONNECT with the reason
// code for v5 once connected, then close. Nothing else is affected.
func (c *client) fail(w *worker, err error) {
	var ce *codec.Error
	code := codec.UnspecifiedError
	if errors.As(err, &ce) {
		code = ce.Code
	}
	c.b.log.Info("protocol error, closing connection",
		"client", c.id, "remote", c.remote, "listener", c.lis.name, "err", err)
	switch code {
	case codec.MalformedPacket:
		c.setReason(metrics.CloseMalformedPacket)
	case codec.PacketTooLarge:
		c.setReason(metrics.ClosePacketTooLarge)
	default:
		c.setReason(metrics.CloseProtocolError)
	}
	if c.state == stateConnected && c.version == codec.V5 {
		c.sendDisconnect(w, code) // [MQTT-4.13.1-1]
	}
	c.state = stateClosing
}

// sendDisconnect queues a v5 DISCONNECT with reason code.
func (c *client) sendDisconnect(w *worker, code byte) {
	p := &w.pkt
	*p = codec.Packet{Type: codec.DISCONNECT, Version: codec.V5, ReasonCode: code}
	buf := codec.Encode(w.scratch[:0], p)
	c.send(w, buf)
	w.scratch = buf[:0]
}

// closeAsync closes c from any goroutine, first sending a v5 DISCONNECT with
// code when code != 0xff.
func (c *client) closeAsync(reason metrics.CloseReason, code byte) {
	c.tr.runOnOwner(func(w *worker) {
		if c.gone.Load() || c.state == stateClosing {
			return
		}
		c.setReason(reason)
		if code != 0xff && c.version == codec.V5 && c.state == stateConnected {
			c.sendDisconnect(w, code)
		}
		c.state = stateClosing
		c.tr.close()
	})
}

// setReason records why the connection ends; the first reason wins.
func (c *client) setReason(r metrics.CloseReason) {
	if !c.reasonSet {
		c.reasonSet = true
		c.closeReason = r
	}
}

// closed is called by the transport once the connection is gone, on the
// owner goroutine. It settles the session: will, expiry, takeover.
func (c *client) onClosed(w *worker, err error) {
	c.gone.Store(true)
	c.mu.Lock()
	c.closed = true
	if c.out != nil {
		outPool.Put(c.out)
		c.out = nil
	}
	c.mu.Unlock()
	if c.own != nil && c.w.el != nil {
		outPool.Put(c.own)
		c.own = nil
	}
	if x := c.rare; x != nil {
		if x.wsIn != nil {
			outPool.Put(x.wsIn)
			x.wsIn = nil
		}
		if x.wsConn != nil {
			x.wsConn.Release()
		}
	}
	if c.normalDisconnect {
		c.setReason(metrics.CloseNormal)
	}
	c.setReason(metrics.CloseClientGone)
	c.lis.metrics.Closed(c.closeReason)
	if c.sess == nil {
		return
	}
	if c.b.debug {
		c.b.log.Debug("client disconnected", "client", c.id, "remote", c.remote, "reason", c.closeReason.String(), "err", err)
	}
	c.b.detach(w, c)
}
