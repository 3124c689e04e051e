package engine

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// TestSlowSubscriberHoldsPublishersNoLoss: publishers with an inflight
// window send QoS 1 faster than a slow subscriber acknowledges, with a tiny
// max_queued_messages. Instead of acknowledging and then dropping, the
// broker holds PUBACKs while the subscriber's queue drains, so every
// message arrives and every publish is acknowledged exactly once.
func TestSlowSubscriberHoldsPublishersNoLoss(t *testing.T) {
	b := testBroker(t, func(c *config.Config) {
		c.MQTT.MaxQueuedMessages = 10
		c.MQTT.ReceiveMaximum = 5
	})
	sub := connectWire(t, b.Addr("tcp"), "slow", codec.V311, true)
	subscribe(t, sub, 1, "fan/#", 1)

	const pubs, perPub, window = 3, 150, 8
	var wg sync.WaitGroup
	errs := make(chan error, pubs)
	for p := 0; p < pubs; p++ {
		pw := connectWire(t, b.Addr("tcp"), fmt.Sprintf("pub%d", p), codec.V311, true)
		wg.Add(1)
		go func(p int, pw *wire) {
			defer wg.Done()
			sent, acked := 0, 0
			for acked < perPub {
				for sent < perPub && sent-acked < window {
					pw.send(codec.Encode(nil, &codec.Packet{Type: codec.PUBLISH, Version: codec.V311, QoS: 1,
						PacketID: uint16(sent + 1), Topic: []byte(fmt.Sprintf("fan/%d", p)), Payload: []byte(fmt.Sprint(sent))}))
					sent++
				}
				raw, err := pw.readRaw(10 * time.Second)
				if err != nil {
					errs <- fmt.Errorf("publisher %d: %d of %d acknowledged: %v", p, acked, perPub, err)
					return
				}
				if raw[0] != 0x40 {
					errs <- fmt.Errorf("publisher %d: unexpected % x", p, raw)
					return
				}
				acked++
			}
		}(p, pw)
	}

	next := make([]int, pubs)
	for got := 0; got < pubs*perPub; got++ {
		raw, err := sub.readRaw(10 * time.Second)
		if err != nil {
			t.Fatalf("after %d messages: %v", got, err)
		}
		var p codec.Packet
		if _, err := codec.Decode(raw, codec.V311, 0, &p); err != nil || p.Type != codec.PUBLISH {
			t.Fatalf("unexpected % x", raw)
		}
		var from int
		fmt.Sscanf(string(p.Topic), "fan/%d", &from)
		if string(p.Payload) != fmt.Sprint(next[from]) {
			t.Fatalf("publisher %d: got %s, want %d (lost or reordered)", from, p.Payload, next[from])
		}
		next[from]++
		if got%7 == 0 {
			time.Sleep(time.Millisecond) // slow consumer
		}
		sub.sendPacket(&codec.Packet{Type: codec.PUBACK, PacketID: p.PacketID})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
