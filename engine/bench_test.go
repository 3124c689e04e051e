package engine

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// memTransport is an in-memory transport for benchmarks and allocation
// tests: writes are parsed for PUBLISH packets (counted, and acknowledged
// back when autoAck is set) and then discarded.
type memTransport struct {
	c       *client
	autoAck bool
	acks    []byte // acknowledgements to feed back after the turn
	pubs    int
	bytes   int
	pkt     codec.Packet
}

func (t *memTransport) write(b []byte) {
	t.bytes += len(b)
	for len(b) > 0 {
		n, err := codec.Decode(b, t.c.version, 0, &t.pkt)
		if err != nil || n == 0 {
			// Server-only packets (CONNACK, SUBACK) do not decode with the
			// server-side rules; skip them by their fixed header.
			_, rem, hl, _ := codec.DecodeFixedHeader(b, 0)
			if hl == 0 {
				return
			}
			b = b[hl+rem:]
			continue
		}
		if t.pkt.Type == codec.PUBLISH {
			t.pubs++
			if t.autoAck && t.pkt.QoS == 1 {
				t.acks = codec.AppendAck(t.acks, t.c.version, codec.PUBACK, t.pkt.PacketID, 0, nil)
			}
		}
		b = b[n:]
	}
}

func (t *memTransport) buffered() int                 { return 0 }
func (t *memTransport) wake()                         { t.c.flush() }
func (t *memTransport) close()                        {}
func (t *memTransport) runOnOwner(fn func(w *worker)) { fn(t.c.w) }
func (t *memTransport) remoteAddr() net.Addr          { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// benchBroker builds a broker that is not listening, with one worker that
// owns every in-memory client.
func benchBroker(tb testing.TB) (*Broker, *worker, *listener) {
	cfg := config.Default()
	cfg.Admin.Address = ""
	cfg.SysInterval = 0
	b, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	lis := b.listeners[0]
	lis.metrics = b.metrics.Listener(lis.name, lis.typ, lis.addr, false)
	w := newWorker(b, -1, nil)
	w.ms = b.metrics.Shard(0)
	return b, w, lis
}

// memClient connects an in-memory client and subscribes it to filter (if
// not empty) at qos.
func memClient(tb testing.TB, b *Broker, w *worker, lis *listener, id string, ver byte, filter string, qos byte) (*client, *memTransport) {
	t := &memTransport{}
	c := newClient(b, w, t, lis)
	t.c = c
	buf := codec.Encode(nil, &codec.Packet{Type: codec.CONNECT, Version: ver, ProtocolName: protoName(ver), ClientID: []byte(id), CleanStart: true, KeepAlive: 60})
	if filter != "" {
		buf = codec.Encode(buf, &codec.Packet{Type: codec.SUBSCRIBE, Version: ver, PacketID: 1, Subscriptions: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}})
	}
	if n, closeNow := c.input(w, buf); n != len(buf) || closeNow {
		tb.Fatalf("setup of %s failed", id)
	}
	w.flushTurn()
	return c, t
}

// BenchmarkPublish measures the broker's publish path without the network:
// decode, route, encode into every subscriber's buffer, flush. A "read"
// holds batch PUBLISH packets, as a busy publisher's socket read would.
func BenchmarkPublish(b *testing.B) {
	for _, ver := range []byte{codec.V311, codec.V5} {
		for _, qos := range []byte{0, 1} {
			for _, subs := range []int{1, 100, 1000} {
				name := fmt.Sprintf("v=%d/qos=%d/subs=%d/size=64b", ver, qos, subs)
				b.Run(name, func(b *testing.B) { benchPublish(b, ver, qos, subs, 64, 32) })
			}
		}
	}
}

func benchPublish(b *testing.B, ver, qos byte, subs, size, batch int) {
	br, w, lis := benchBroker(b)
	var mts []*memTransport
	var cls []*client
	for i := 0; i < subs; i++ {
		c, mt := memClient(b, br, w, lis, fmt.Sprintf("sub%d", i), ver, "bench/topic", qos)
		mt.autoAck = true
		mts = append(mts, mt)
		cls = append(cls, c)
	}
	pub, _ := memClient(b, br, w, lis, "pub", ver, "", 0)
	payload := make([]byte, size)
	var read []byte
	for i := 0; i < batch; i++ {
		read = codec.AppendPublish(read, ver, false, qos, false, "bench/topic", uint16(i+1), nil, payload)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(read)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.tick()
		if n, closeNow := pub.input(w, read); n != len(read) || closeNow {
			b.Fatal("publish failed")
		}
		w.flushTurn()
		for more := qos > 0; more; {
			// Acknowledge until every window drains (3.1.1 clients get
			// receive_maximum inflight, so one read may take several rounds).
			more = false
			for j, mt := range mts {
				if len(mt.acks) > 0 {
					acks := mt.acks
					mt.acks = nil
					cls[j].input(w, acks)
					more = true
				}
			}
			w.flushTurn()
		}
	}
	b.StopTimer()
	delivered := 0
	for _, mt := range mts {
		delivered += mt.pubs
	}
	if delivered < b.N*batch*subs {
		b.Fatalf("delivered %d of %d", delivered, b.N*batch*subs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(delivered), "ns/delivery")
	b.ReportMetric(float64(delivered)/b.Elapsed().Seconds(), "deliveries/s")
}
