//go:build !race

package engine

import (
	"fmt"
	"testing"

	"github.com/tsubame-mq/tsubame/codec"
)

// The publish path in steady state: decode, route, encode into every
// subscriber's buffer, flush. QoS 0 allocates nothing; QoS 1 allocates the
// one shared copy of the message that inflight tracking keeps (Clone: the
// struct and one block for topic, payload and properties).
func TestPublishPathAllocs(t *testing.T) {
	for _, tc := range []struct {
		ver  byte
		qos  byte
		want float64
	}{
		{codec.V311, 0, 0},
		{codec.V5, 0, 0},
		{codec.V311, 1, 2},
		{codec.V5, 1, 2},
	} {
		t.Run(fmt.Sprintf("v=%d/qos=%d", tc.ver, tc.qos), func(t *testing.T) {
			b, w, lis := benchBroker(t)
			var subs []*client
			var mts []*memTransport
			for i := 0; i < 10; i++ {
				c, mt := memClient(t, b, w, lis, fmt.Sprintf("s%d", i), tc.ver, "a/b", tc.qos)
				mt.autoAck = true
				subs, mts = append(subs, c), append(mts, mt)
			}
			pub, _ := memClient(t, b, w, lis, "p", tc.ver, "", 0)
			msg := codec.AppendPublish(nil, tc.ver, false, tc.qos, false, "a/b", 1, nil, make([]byte, 64))
			acks := make([][]byte, len(subs))
			round := func() {
				w.tick()
				pub.input(w, msg)
				w.flushTurn()
				for i, mt := range mts {
					// Acknowledge what arrived (QoS 1) with a reused buffer.
					acks[i], mt.acks = mt.acks, acks[i][:0]
					if len(acks[i]) > 0 {
						subs[i].input(w, acks[i])
					}
				}
				w.flushTurn()
			}
			for i := 0; i < 100; i++ {
				round() // warm buffers and pools
			}
			if got := testing.AllocsPerRun(200, round); got > tc.want {
				t.Fatalf("%.1f allocations per publish to 10 subscribers, want at most %.0f", got, tc.want)
			}
		})
	}
}
