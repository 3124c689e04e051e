package engine

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// TLS and WSS listeners run on goroutines: gnet has no TLS (gnet issues 16,
// 496, 749), and crypto/tls wants a blocking net.Conn. Each connection gets a
// reader goroutine, which is the connection's owner (it holds mu while it
// runs broker code), and a writer goroutine that drains client.out. The
// protocol code above sees the same transport interface as on an event loop.
//
// This path costs two goroutines and a read buffer per connection; TLS is
// for the connections that need it, not for the million idle ones.
type goTransport struct {
	conn net.Conn
	w    *worker
	cl   *client
	mu   sync.Mutex // held by whoever runs broker code for this connection

	wmu     sync.Mutex
	pend    []byte // bytes accepted by write, not yet written
	wakeCh  chan struct{}
	closing atomic.Bool
	done    chan struct{}
}

func (b *Broker) startTLS(l *listener) error {
	lc := l.cfg
	cert, err := tls.LoadX509KeyPair(lc.Cert, lc.Key)
	if err != nil {
		return fmt.Errorf("listener %s: %w", l.name, err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if lc.CACert != "" {
		pem, err := os.ReadFile(lc.CACert)
		if err != nil {
			return fmt.Errorf("listener %s: %w", l.name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("listener %s: no certificates in %s", l.name, lc.CACert)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	if lc.RequireCertificate {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("listener %s: %w", l.name, err)
	}
	l.ln = ln
	l.addr = ln.Addr().String()
	l.port = ln.Addr().(*net.TCPAddr).Port
	l.metrics = b.metrics.Listener(l.name, l.typ, l.addr, l.tls)
	b.stopped.Add(1)
	go func() {
		defer b.stopped.Done()
		b.acceptTLS(l, ln, tc)
	}()
	return nil
}

func (b *Broker) closeTLSListeners() {
	for _, l := range b.listeners {
		if l.ln != nil {
			_ = l.ln.Close()
		}
	}
}

func (b *Broker) acceptTLS(l *listener, ln net.Listener, tc *tls.Config) {
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			b.log.Warn("accept failed", "listener", l.name, "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetNoDelay(true)
		}
		go b.serveTLS(l, tls.Server(conn, tc))
	}
}

// serveTLS runs the handshake, then becomes the connection's reader.
func (b *Broker) serveTLS(l *listener, conn *tls.Conn) {
	_ = conn.SetDeadline(time.Now().Add(time.Duration(b.lim.connectTimeout) * time.Second))
	if err := conn.Handshake(); err != nil {
		b.log.Info("TLS handshake failed", "listener", l.name, "remote", conn.RemoteAddr(), "err", err)
		_ = conn.Close()
		return
	}
	_ = conn.SetDeadline(time.Time{})
	t := &goTransport{conn: conn, wakeCh: make(chan struct{}, 1), done: make(chan struct{})}
	t.w = newWorker(b, -1, nil)
	t.w.ms = b.metrics.Shard(int(time.Now().UnixNano()))
	c := newClient(b, t.w, t, l)
	t.cl = c
	if l.certUser {
		if st := conn.ConnectionState(); len(st.PeerCertificates) > 0 {
			c.x().certUser = st.PeerCertificates[0].Subject.CommonName
		}
	}
	b.tlsMu.Lock()
	if b.shutting.Load() {
		b.tlsMu.Unlock()
		_ = conn.Close()
		return
	}
	b.tlsConns[t] = struct{}{}
	b.tlsMu.Unlock()
	l.metrics.Opened()
	b.wheel.add(c, c.acceptedAt+b.lim.connectTimeout)
	go t.writeLoop()
	t.readLoop()
	b.tlsMu.Lock()
	delete(b.tlsConns, t)
	b.tlsMu.Unlock()
}

func (t *goTransport) readLoop() {
	c := t.cl
	maxBuf := int(c.b.lim.maxPacketSize) + 64<<10
	buf := make([]byte, 0, 4<<10)
	var rerr error
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= maxBuf {
				rerr = errors.New("read buffer limit reached")
				break
			}
			nb := make([]byte, len(buf), min(2*cap(buf), maxBuf))
			copy(nb, buf)
			buf = nb
		}
		n, err := t.conn.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			buf = buf[:len(buf)+n]
			used, closeNow := t.process(buf)
			if closeNow {
				t.mu.Lock()
				c.state = stateClosing
				t.close()
				t.mu.Unlock()
			}
			buf = buf[:copy(buf, buf[used:])]
			if cap(buf) > 64<<10 && len(buf) < 4<<10 {
				buf = append(make([]byte, 0, 4<<10), buf...) // give a large packet's memory back
			}
		}
		if err != nil {
			rerr = err
			break
		}
	}
	t.closing.Store(true)
	t.mu.Lock()
	t.w.tick()
	c.onClosed(t.w, rerr)
	t.w.flushTurn()
	t.mu.Unlock()
	t.wake()
	<-t.done
}

// process runs broker code for one read, holding the connection's lock and
// containing a panic to this connection.
func (t *goTransport) process(buf []byte) (used int, closeNow bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var action gnet.Action
	defer func() {
		if action == gnet.Close {
			used, closeNow = len(buf), true
		}
	}()
	defer t.cl.contain(t.w, &action)
	t.w.tick()
	used, closeNow = t.cl.input(t.w, buf)
	t.w.flushTurn()
	return used, closeNow
}

// writeLoop writes whatever the client accumulated each time it is woken,
// and closes the connection once closing is set and everything is written.
func (t *goTransport) writeLoop() {
	defer close(t.done)
	var local []byte
	for range t.wakeCh {
		t.cl.flush()
		t.wmu.Lock()
		local, t.pend = t.pend, local[:0]
		t.wmu.Unlock()
		if len(local) > 0 {
			_ = t.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := t.conn.Write(local); err != nil {
				t.closing.Store(true) // the reader sees the closed socket and settles the session
			}
		}
		t.cl.sockPending.Store(int64(t.buffered()))
		if t.closing.Load() {
			_ = t.conn.Close()
			// Drain wakes until the reader has finished.
			if t.cl.gone.Load() {
				return
			}
		}
	}
}

func (t *goTransport) write(b []byte) {
	t.wmu.Lock()
	t.pend = append(t.pend, b...)
	t.wmu.Unlock()
	t.wake()
}

func (t *goTransport) buffered() int {
	t.wmu.Lock()
	n := len(t.pend)
	t.wmu.Unlock()
	return n
}

func (t *goTransport) wake() {
	select {
	case t.wakeCh <- struct{}{}:
	default:
	}
}

// close makes the writer flush what is pending, then close the socket.
func (t *goTransport) close() {
	t.closing.Store(true)
	t.wake()
}

func (t *goTransport) runOnOwner(fn func(w *worker)) {
	t.mu.Lock()
	t.w.tick()
	fn(t.w)
	t.w.flushTurn()
	t.mu.Unlock()
}

func (t *goTransport) remoteAddr() net.Addr { return t.conn.RemoteAddr() }
