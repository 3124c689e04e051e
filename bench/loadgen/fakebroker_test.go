package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tsubame-mq/tsubame/codec"
)

// fault is what the fake broker does to one delivery, chosen from the
// message's sequence number.
type fault int

const (
	deliver fault = iota
	drop
	duplicate
	holdBack // send after the next message to the same subscriber
)

// fakeBroker speaks just enough MQTT (through the codec) for the load
// generator: CONNECT, SUBSCRIBE, PUBLISH at QoS 0/1/2 both ways, PINGREQ,
// DISCONNECT, over TCP or WebSocket. faults, when set, decides per delivered
// message whether to drop, duplicate or reorder it.
type fakeBroker struct {
	t      *testing.T
	ln     net.Listener
	ws     bool
	faults func(seq uint64) fault

	connack codec.Properties // v5 CONNACK properties to announce
	pings   atomic.Int64     // PINGREQs received

	mu   sync.Mutex
	subs []*fakeSub
	wg   sync.WaitGroup
	all  []net.Conn
}

type fakeSub struct {
	filter string
	qos    byte
	c      *fakeConn
	held   []byte // a held-back PUBLISH, sent after the next one
}

// fakeConn queues outbound bytes for a writer goroutine, so the fake never
// blocks a read on a write (a client blocked writing acks to us while we
// block writing publishes to it would deadlock both).
type fakeConn struct {
	nc      net.Conn
	rw      io.ReadWriter
	version byte
	nextID  uint16 // guarded by fakeBroker.mu

	wmu     sync.Mutex
	pending []byte
	notify  chan struct{}
}

func (c *fakeConn) write(b []byte) {
	c.wmu.Lock()
	c.pending = append(c.pending, b...)
	c.wmu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *fakeConn) writer(done <-chan struct{}) {
	var buf []byte
	for {
		select {
		case <-done:
			return
		case <-c.notify:
		}
		c.wmu.Lock()
		buf, c.pending = c.pending, buf[:0]
		c.wmu.Unlock()
		if _, err := c.rw.Write(buf); err != nil {
			return
		}
	}
}

func startFakeBroker(t *testing.T, ws bool, faults func(uint64) fault, opts ...func(*fakeBroker)) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBroker{t: t, ln: ln, ws: ws, faults: faults}
	for _, o := range opts {
		o(b)
	}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.close)
	return b
}

func (b *fakeBroker) addr() string { return b.ln.Addr().String() }

func (b *fakeBroker) close() {
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.all {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *fakeBroker) accept() {
	defer b.wg.Done()
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.all = append(b.all, nc)
		b.mu.Unlock()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer nc.Close()
			b.serve(nc)
		}()
	}
}

func topicMatch(filter, topic string) bool {
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, part := range f {
		if part == "#" {
			return true
		}
		if i >= len(t) || part != "+" && part != t[i] {
			return false
		}
	}
	return len(f) == len(t)
}

func (b *fakeBroker) serve(nc net.Conn) {
	c := &fakeConn{nc: nc, rw: nc, notify: make(chan struct{}, 1)}
	if b.ws {
		rw, err := wsServerHandshake(nc)
		if err != nil {
			return
		}
		c.rw = rw
	}
	done := make(chan struct{})
	defer close(done)
	go c.writer(done)
	buf := make([]byte, 64<<10)
	var out []byte
	var p codec.Packet
	r, w := 0, 0
	for {
		for r < w {
			n, err := codec.Decode(buf[r:w], c.version, 0, &p)
			if err != nil {
				b.t.Errorf("fake broker: decode: %v", err)
				return
			}
			if n == 0 {
				break
			}
			r += n
			switch p.Type {
			case codec.CONNECT:
				c.version = p.Version
				out = codec.Encode(out, &codec.Packet{Type: codec.CONNACK, Version: c.version, Props: b.connack})
			case codec.SUBSCRIBE:
				codes := make([]byte, len(p.Subscriptions))
				for i, s := range p.Subscriptions {
					codes[i] = s.QoS
					b.mu.Lock()
					b.subs = append(b.subs, &fakeSub{filter: string(s.Filter), qos: s.QoS, c: c})
					b.mu.Unlock()
				}
				out = codec.Encode(out, &codec.Packet{Type: codec.SUBACK, Version: c.version, PacketID: p.PacketID, ReasonCodes: codes})
			case codec.PUBLISH:
				b.route(&p)
				switch p.QoS {
				case 1:
					out = codec.AppendAck(out, c.version, codec.PUBACK, p.PacketID, 0, nil)
				case 2:
					out = codec.AppendAck(out, c.version, codec.PUBREC, p.PacketID, 0, nil)
				}
			case codec.PUBREL:
				out = codec.AppendAck(out, c.version, codec.PUBCOMP, p.PacketID, 0, nil)
			case codec.PUBREC:
				out = codec.AppendAck(out, c.version, codec.PUBREL, p.PacketID, 0, nil)
			case codec.PINGREQ:
				b.pings.Add(1)
				out = append(out, 0xD0, 0)
			case codec.DISCONNECT:
				if len(out) > 0 {
					c.write(out)
				}
				return // the writer may drop what is queued; the client is leaving
			}
		}
		if len(out) > 0 {
			c.write(out)
			out = out[:0]
		}
		if r == w {
			r, w = 0, 0
		} else if w == len(buf) {
			w = copy(buf, buf[r:w])
			r = 0
		}
		n, err := c.rw.Read(buf[w:])
		if err != nil {
			return
		}
		w += n
	}
}

func (b *fakeBroker) route(p *codec.Packet) {
	topic := string(p.Topic)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.subs {
		if !topicMatch(s.filter, topic) {
			continue
		}
		qos := min(p.QoS, s.qos)
		var id uint16
		if qos > 0 {
			s.c.nextID++
			if s.c.nextID == 0 {
				s.c.nextID = 1
			}
			id = s.c.nextID
		}
		f := deliver
		if b.faults != nil && len(p.Payload) >= stampSize {
			f = b.faults(binary.BigEndian.Uint64(p.Payload[4:12]))
		}
		pkt := codec.AppendPublish(nil, s.c.version, false, qos, false, topic, id, nil, p.Payload)
		switch f {
		case drop:
		case duplicate:
			s.c.write(pkt)
			s.c.write(pkt)
		case holdBack:
			s.held = pkt
		default:
			s.c.write(pkt)
		}
		if f != holdBack && s.held != nil {
			s.c.write(s.held)
			s.held = nil
		}
	}
}

// wsServer is the server end of a WebSocket for the fake broker: it reads
// masked frames and writes unmasked binary frames.
type wsServer struct {
	nc     net.Conn
	br     *bufio.Reader
	remain int
	key    [4]byte
	off    int
}

func wsServerHandshake(nc net.Conn) (*wsServer, error) {
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + wsGUID))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(h[:]) + "\r\nSec-WebSocket-Protocol: " + req.Header.Get("Sec-WebSocket-Protocol") + "\r\n\r\n"
	if _, err := io.WriteString(nc, resp); err != nil {
		return nil, err
	}
	// Greet with a ping so the client's pong path runs too.
	if _, err := nc.Write([]byte{0x89, 0x02, 'h', 'i'}); err != nil {
		return nil, err
	}
	return &wsServer{nc: nc, br: br}, nil
}

func (s *wsServer) Read(p []byte) (int, error) {
	for s.remain == 0 {
		var h [2]byte
		if _, err := io.ReadFull(s.br, h[:]); err != nil {
			return 0, err
		}
		if h[1]&0x80 == 0 {
			return 0, io.ErrUnexpectedEOF // clients must mask
		}
		n := int(h[1] & 0x7F)
		switch n {
		case 126:
			var l [2]byte
			io.ReadFull(s.br, l[:])
			n = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			var l [8]byte
			io.ReadFull(s.br, l[:])
			n = int(binary.BigEndian.Uint64(l[:]))
		}
		if _, err := io.ReadFull(s.br, s.key[:]); err != nil {
			return 0, err
		}
		s.off = 0
		if op := h[0] & 0x0F; op != wsBinary && op != wsContinuation {
			if _, err := io.CopyN(io.Discard, s.br, int64(n)); err != nil { // pong, close
				return 0, err
			}
			if op == wsClose {
				return 0, io.EOF
			}
			continue
		}
		s.remain = n
	}
	if len(p) > s.remain {
		p = p[:s.remain]
	}
	n, err := s.br.Read(p)
	for i := 0; i < n; i++ {
		p[i] ^= s.key[(s.off+i)&3]
	}
	s.off += n
	s.remain -= n
	return n, err
}

func (s *wsServer) Write(p []byte) (int, error) {
	f := []byte{0x82}
	switch n := len(p); {
	case n < 126:
		f = append(f, byte(n))
	case n <= 0xFFFF:
		f = append(f, 126, byte(n>>8), byte(n))
	default:
		f = append(f, 127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	if _, err := s.nc.Write(append(f, p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}
