package engine

import (
	"sync"
	"testing"

	"github.com/tsubame-mq/tsubame/codec"
)

var (
	fuzzOnce    sync.Once
	fuzzBroker  *Broker
	fuzzWorker  *worker
	fuzzLis     *listener
	fuzzMu      sync.Mutex
	fuzzPub     *client
	fuzzSubSeen *memTransport
)

// FuzzClientInput feeds arbitrary bytes, split in two reads at every
// position the fuzzer picks, to a fresh connection of a real (not
// listening) broker, then closes it. Whatever the bytes, the broker must
// not panic, must stop processing once it decided to close, and must keep
// serving: a healthy client on the same broker still gets its messages.
func FuzzClientInput(f *testing.F) {
	connect := codec.Encode(nil, &codec.Packet{Type: codec.CONNECT, Version: codec.V5, ProtocolName: []byte("MQTT"), ClientID: []byte("fz"), CleanStart: true, KeepAlive: 30})
	connect311 := codec.Encode(nil, &codec.Packet{Type: codec.CONNECT, Version: codec.V311, ProtocolName: []byte("MQTT"), ClientID: []byte("fz"), KeepAlive: 30,
		WillFlag: true, WillTopic: []byte("w"), WillPayload: []byte("x")})
	sub := codec.Encode(nil, &codec.Packet{Type: codec.SUBSCRIBE, Version: codec.V5, PacketID: 1, Subscriptions: []codec.Subscription{{Filter: []byte("a/#"), QoS: 2}}})
	pub := codec.AppendPublish(nil, codec.V5, false, 2, true, "a/b", 7, nil, []byte("hi"))
	rel := codec.AppendAck(nil, codec.V5, codec.PUBREL, 7, 0, nil)
	f.Add(append(append(append(append([]byte{}, connect...), sub...), pub...), rel...), uint16(3))
	f.Add(append(append([]byte{}, connect311...), 0xe0, 0x00), uint16(5))
	f.Add([]byte{0x10, 0xff, 0xff, 0xff, 0x7f}, uint16(1))
	f.Add(append(append([]byte{}, connect...), 0x30, 0x03, 0x00, 0x00, 0x00), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		fuzzOnce.Do(func() {
			fuzzBroker, fuzzWorker, fuzzLis = benchBroker(t)
			_, fuzzSubSeen = memClient(t, fuzzBroker, fuzzWorker, fuzzLis, "healthy-sub", codec.V311, "health", 0)
			fuzzPub, _ = memClient(t, fuzzBroker, fuzzWorker, fuzzLis, "healthy-pub", codec.V311, "", 0)
		})
		fuzzMu.Lock()
		defer fuzzMu.Unlock()
		b, w := fuzzBroker, fuzzWorker
		mt := &memTransport{}
		c2 := newClient(b, w, mt, fuzzLis)
		mt.c = c2
		at := int(cut) % (len(data) + 1)
		closed := false
		for _, part := range [][]byte{data[:at], data[at:]} {
			if closed || len(part) == 0 {
				continue
			}
			n, closeNow := c2.input(w, part)
			if n < 0 || n > len(part) {
				t.Fatalf("consumed %d of %d", n, len(part))
			}
			closed = closeNow
			w.flushTurn()
		}
		c2.onClosed(w, nil)
		w.flushTurn()

		// One bad client never harms another.
		before := fuzzSubSeen.pubs
		ping := codec.AppendPublish(nil, codec.V311, false, 0, false, "health", 0, nil, []byte("ok"))
		if n, closeNow := fuzzPub.input(w, ping); n != len(ping) || closeNow {
			t.Fatal("healthy publisher was refused")
		}
		w.flushTurn()
		if fuzzSubSeen.pubs != before+1 {
			t.Fatal("healthy subscriber did not get its message")
		}
	})
}
