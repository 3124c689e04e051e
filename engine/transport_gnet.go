package engine

import (
	"context"
	"net"

	"github.com/panjf2000/gnet/v2"
)

// gnetHandler serves the TCP and WebSocket listeners on gnet event loops.
// Every callback runs on the loop that owns the connection and must never
// block (gnet issue 518): no locks held long, no I/O but the connection's own.
type gnetHandler struct {
	gnet.BuiltinEventEngine
	b *Broker
}

func (h *gnetHandler) OnBoot(eng gnet.Engine) gnet.Action {
	h.b.eng = eng
	close(h.b.booted)
	return gnet.None
}

func (h *gnetHandler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	b := h.b
	if b.shutting.Load() {
		return nil, gnet.Close
	}
	lis := b.byPort[localPort(gc.LocalAddr())]
	if lis == nil {
		return nil, gnet.Close
	}
	w := b.workerFor(gc.EventLoop())
	w.tick()
	c := newGnetClient(b, w, gc, lis)
	gc.SetContext(c)
	lis.metrics.Opened()
	b.wheel.add(c, c.acceptedAt+b.lim.connectTimeout)
	return nil, gnet.None
}

func (h *gnetHandler) OnTraffic(gc gnet.Conn) (action gnet.Action) {
	c, ok := gc.Context().(*client)
	if !ok {
		return gnet.Close
	}
	w := c.w
	defer c.contain(w, &action)
	w.tick()
	buf, _ := gc.Peek(-1)
	n, closeNow := c.input(w, buf)
	if n > 0 {
		// Discard(0) discards everything buffered: a packet that spans
		// reads (any packet over the 64 KiB read buffer) would be cut.
		_, _ = gc.Discard(n)
	}
	w.flushTurn()
	if closeNow {
		return gnet.Close
	}
	return gnet.None
}

func (h *gnetHandler) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*client)
	if !ok {
		return gnet.None
	}
	gc.SetContext(nil)
	w := c.w
	w.tick()
	c.onClosed(w, err)
	w.flushTurn()
	return gnet.None
}

func localPort(a net.Addr) int {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.Port
	}
	return 0
}

// newGnetClient creates the client of an event-loop connection, with its
// transport embedded so an idle connection costs one allocation less.
func newGnetClient(b *Broker, w *worker, gc gnet.Conn, lis *listener) *client {
	gt := &gnetClient{}
	gt.gnetTransport = gnetTransport{c: gc, w: w}
	gt.client.init(b, w, &gt.gnetTransport, lis)
	return &gt.client
}

// gnetClient co-allocates a client with its event-loop transport.
type gnetClient struct {
	client
	gnetTransport
}

// gnetTransport is a connection on an event loop.
type gnetTransport struct {
	c gnet.Conn
	w *worker
}

func (t *gnetTransport) write(b []byte) { _, _ = t.c.Write(b) }
func (t *gnetTransport) buffered() int  { return t.c.OutboundBuffered() }
func (t *gnetTransport) wake()          {}
func (t *gnetTransport) close()         { _ = t.c.Close() }
func (t *gnetTransport) remoteAddr() net.Addr {
	if a := t.c.RemoteAddr(); a != nil {
		return a
	}
	return &net.TCPAddr{}
}

func (t *gnetTransport) runOnOwner(fn func(w *worker)) {
	w := t.w
	_ = w.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		w.tick()
		fn(w)
		w.flushTurn()
		return nil
	}))
}
