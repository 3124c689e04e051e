package admin

import (
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/tsubame-mq/tsubame/engine/metrics"
)

// fakeBroker is a Broker over plain slices, with a mutex the way an engine
// shard would have one.
type fakeBroker struct {
	mu       sync.Mutex
	clients  []Client
	subs     map[string][]ClientSubscription
	topics   []Topic
	retained []Retained
	kicked   []string
}

func newFakeBroker(nClients int) *fakeBroker {
	b := &fakeBroker{subs: map[string][]ClientSubscription{}}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < nClients; i++ {
		c := Client{
			ID:            fmt.Sprintf("client-%03d", i),
			User:          []string{"alice", "bob", ""}[i%3],
			RemoteAddr:    fmt.Sprintf("10.0.0.%d:5%04d", i%250, i),
			Listener:      []string{"tcp", "ws"}[i%2],
			ProtocolLevel: byte(3 + i%3),
			KeepAlive:     60,
			Connected:     i%5 != 4,
			ConnectedAt:   t0,
			CleanStart:    i%2 == 0,
			Subscriptions: i % 4,
			Inflight:      i % 7,
			Queued:        i % 11,
			MessagesIn:    uint64(i),
			MessagesOut:   uint64(2 * i),
			BytesIn:       uint64(100 * i),
			BytesOut:      uint64(200 * i),
		}
		b.clients = append(b.clients, c)
	}
	b.subs["client-001"] = []ClientSubscription{{Filter: "a/+", QoS: 1}, {Filter: "b/#", Group: "g1", QoS: 2, NoLocal: true}}
	b.topics = []Topic{
		{Filter: "a/+", Subscribers: 1, Consumers: []string{"client-001"}},
		{Filter: "b/#", Group: "g1", Subscribers: 2, Consumers: []string{"client-001", "client-002"}},
		{Filter: "sensors/+/temp", Subscribers: 40},
	}
	b.retained = []Retained{
		{Topic: "sensors/1/temp", Size: 5, QoS: 1, Created: time.Now().Add(-90 * time.Second)},
		{Topic: "a//b", Size: 1},
		{Topic: "/lead", Size: 2},
		{Topic: "status", Size: 3},
	}
	return b
}

func (b *fakeBroker) Clients() iter.Seq[*Client] {
	return func(yield func(*Client) bool) {
		b.mu.Lock()
		defer b.mu.Unlock()
		var scratch Client // reused, as the engine may do
		for i := range b.clients {
			scratch = b.clients[i]
			if !yield(&scratch) {
				return
			}
		}
	}
}

func (b *fakeBroker) Client(id string) (ClientDetail, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.clients {
		if c.ID == id {
			return ClientDetail{Client: c, SubscriptionList: b.subs[id]}, true
		}
	}
	return ClientDetail{}, false
}

func (b *fakeBroker) Kick(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, c := range b.clients {
		if c.ID == id && c.Connected {
			b.clients[i].Connected = false
			b.kicked = append(b.kicked, id)
			return true
		}
	}
	return false
}

func (b *fakeBroker) Topics() iter.Seq[*Topic] {
	return func(yield func(*Topic) bool) {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i := range b.topics {
			if !yield(&b.topics[i]) {
				return
			}
		}
	}
}

func (b *fakeBroker) Retained() iter.Seq[*Retained] {
	return func(yield func(*Retained) bool) {
		b.mu.Lock()
		defer b.mu.Unlock()
		for i := range b.retained {
			if !yield(&b.retained[i]) {
				return
			}
		}
	}
}

func (b *fakeBroker) DeleteRetained(topic string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, r := range b.retained {
		if r.Topic == topic {
			b.retained = append(b.retained[:i], b.retained[i+1:]...)
			return true
		}
	}
	return false
}

func newMetrics() *metrics.Metrics { return metrics.New(metrics.Config{Shards: 1, Version: "test"}) }
