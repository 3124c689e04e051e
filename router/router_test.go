package router

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/tsubame-mq/tsubame/codec"
)

// TestConcurrentMatchChurn runs Match on several goroutines while others
// subscribe, replace and unsubscribe. Stable subscribers must be delivered
// exactly once on every Match; churning ones may or may not appear, but what
// appears must be one whole version of their subscription (QoS q always with
// subscription id 100+q), never a torn or merged-twice one.
func TestConcurrentMatchChurn(t *testing.T) {
	r := New()
	const nStable, nChurn = 50, 50
	stable := make([]*client, nStable)
	for i := range stable {
		stable[i] = &client{id: fmt.Sprintf("s%d", i)}
		filters := []string{"a/b/c", "a/+/c", "a/#", "+/b/+"}
		r.Subscribe(stable[i], filters[i%len(filters)], Options{QoS: 1, SubID: uint32(1 + i%len(filters))})
	}
	g1, g2 := &client{id: "g1"}, &client{id: "g2"}
	r.Subscribe(g1, "$share/grp/a/+/c", Options{QoS: 1})
	r.Subscribe(g2, "$share/grp/a/+/c", Options{QoS: 1})
	churn := make([]*client, nChurn)
	isChurn := map[Subscriber]bool{}
	for i := range churn {
		churn[i] = &client{id: fmt.Sprintf("c%d", i)}
		isChurn[churn[i]] = true
	}
	churnFilters := []string{"a/b/c", "a/+/c", "a/#", "#", "+/b/c", "a/b/+", "x/y", "a/b/c/d"}

	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			for !stop.Load() {
				c := churn[rng.IntN(nChurn)]
				f := churnFilters[rng.IntN(len(churnFilters))]
				switch rng.IntN(3) {
				case 0, 1:
					q := byte(rng.IntN(3))
					// A churner may hold several overlapping filters; each
					// carries QoS q with id 100+q, checked after merging.
					r.Subscribe(c, f, Options{QoS: q, SubID: 100 + uint32(q)})
				default:
					r.Unsubscribe(c, f)
				}
			}
		}(uint64(w))
	}
	var errs atomic.Int64
	var rounds atomic.Int64
	for p := 0; p < 2; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var m Matches
			for !stop.Load() {
				r.Match([]byte("a/b/c"), nil, &m)
				rounds.Add(1)
				seen := map[Subscriber]int{}
				shared := 0
				for _, d := range flat(&m) {
					if d.Shared {
						shared++
						if d.Sub != g1 && d.Sub != g2 {
							errs.Add(1)
						}
						continue
					}
					seen[d.Sub]++
					if isChurn[d.Sub] {
						// Every merged churn subscription has QoS q and id 100+q,
						// so the max QoS must equal the largest id minus 100.
						maxID := uint32(0)
						for _, id := range d.SubIDs {
							if id < 100 || id > 102 {
								errs.Add(1)
							}
							maxID = max(maxID, id)
						}
						if len(d.SubIDs) == 0 || uint32(d.QoS)+100 != maxID {
							errs.Add(1)
						}
					} else if d.QoS != 1 || len(d.SubIDs) != 1 {
						errs.Add(1)
					}
				}
				if shared != 1 {
					errs.Add(1)
				}
				for _, s := range stable {
					if seen[s] != 1 {
						errs.Add(1)
					}
				}
				for s, n := range seen {
					if n != 1 {
						t.Errorf("%s delivered %d times", s.SubscriberID(), n)
					}
				}
			}
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for rounds.Load() < 20000 && time.Now().Before(deadline) {
		if t.Failed() {
			break
		}
		runtimeGosched()
	}
	stop.Store(true)
	wg.Wait()
	if n := errs.Load(); n > 0 {
		t.Fatalf("%d inconsistent results in %d matches", n, rounds.Load())
	}
	// Remove every churn subscription and check the count comes back.
	for _, c := range churn {
		for _, f := range churnFilters {
			r.Unsubscribe(c, f)
		}
	}
	if got := r.Count(); got != nStable+2 {
		t.Fatalf("Count() = %d after churn, want %d", got, nStable+2)
	}
}

// TestHAMT checks insert, lookup, remove and iteration over many keys, and
// that removals prune the structure back to empty.
func TestHAMT(t *testing.T) {
	var root hnode
	const n = 20000
	nodes := make([]*tnode, n)
	for i := range nodes {
		k := fmt.Sprintf("k%d", i)
		nodes[i] = &tnode{path: k, hash: hashString(k)}
		root = hinsert(root, 0, nodes[i])
	}
	for i, nd := range nodes {
		if hget(root, nd.hash, nd.key()) != nd {
			t.Fatalf("key %d not found", i)
		}
	}
	if hget(root, hashString("nope"), "nope") != nil {
		t.Fatal("found absent key")
	}
	count := 0
	hrange(root, 0, func(*tnode) bool { count++; return true })
	if count != n {
		t.Fatalf("hrange visited %d, want %d", count, n)
	}
	for i := 0; i < n; i += 2 {
		var ok bool
		if root, ok = hremove(root, 0, nodes[i]); !ok {
			t.Fatalf("remove %d failed", i)
		}
	}
	for i, nd := range nodes {
		if got := hget(root, nd.hash, nd.key()); (got != nil) != (i%2 == 1) {
			t.Fatalf("after removals key %d present=%v", i, got != nil)
		}
	}
	for i := 1; i < n; i += 2 {
		root, _ = hremove(root, 0, nodes[i])
	}
	if root.p != nil {
		t.Fatal("HAMT not empty after removing every key")
	}
}

// TestHAMTFullCollision forces keys with identical 64-bit hashes into the
// collision nodes below the last level.
func TestHAMTFullCollision(t *testing.T) {
	var root hnode
	a := &tnode{path: "a", hash: 42}
	b := &tnode{path: "b", hash: 42}
	c := &tnode{path: "c", hash: 42}
	for _, x := range []*tnode{a, b, c} {
		root = hinsert(root, 0, x)
	}
	for _, x := range []*tnode{a, b, c} {
		if hget(root, 42, x.key()) != x {
			t.Fatalf("%s not found", x.key())
		}
	}
	if hget(root, 42, "d") != nil {
		t.Fatal("found absent key with colliding hash")
	}
	root, _ = hremove(root, 0, b)
	if hget(root, 42, "b") != nil || hget(root, 42, "a") != a || hget(root, 42, "c") != c {
		t.Fatal("wrong state after removing from a collision node")
	}
	root, _ = hremove(root, 0, a)
	root, _ = hremove(root, 0, c)
	if root.p != nil {
		t.Fatal("not empty")
	}
}

// TestDeepTopic subscribes and matches a 65k-level topic: the walk is
// iterative, so this must neither overflow nor take long.
func TestDeepTopic(t *testing.T) {
	topic := strings.Repeat("a/", 65534) + "a"
	r := New()
	c := &client{id: "c"}
	r.Subscribe(c, topic, Options{QoS: 1})
	r.Subscribe(c, strings.Repeat("+/", 65534)+"#", Options{QoS: 2})
	r.Subscribe(c, "a/#", Options{QoS: 0})
	var m Matches
	r.Match([]byte(topic), nil, &m)
	if m.Len() != 1 || flat(&m)[0].QoS != 2 {
		t.Fatalf("got %+v", flat(&m))
	}
	if !MatchTopic(strings.Repeat("+/", 65534)+"#", topic) {
		t.Fatal("MatchTopic on deep topic")
	}
	if !r.Unsubscribe(c, strings.Repeat("+/", 65534)+"#") || !r.Unsubscribe(c, topic) {
		t.Fatal("unsubscribe deep filters")
	}
	ret := NewRetained()
	ret.Set(&Message{Topic: topic, Payload: []byte("x")})
	n := 0
	ret.Match(strings.Repeat("+/", 65534)+"+", func(*Message) bool { n++; return true })
	if n != 1 {
		t.Fatalf("retained deep match found %d", n)
	}
}

// TestPruneOnUnsubscribe checks that removing the last subscription unlinks
// the trie path and the exact entry, so memory returns.
func TestPruneOnUnsubscribe(t *testing.T) {
	r := New()
	c := &client{id: "c"}
	r.Subscribe(c, "p/q/+/r/#", Options{})
	r.Subscribe(c, "p/q/s", Options{})
	r.Unsubscribe(c, "p/q/+/r/#")
	r.Unsubscribe(c, "p/q/s")
	for i := range r.trie {
		if r.trie[i].root.kids.Load() != nil {
			t.Fatal("trie shard not pruned")
		}
		if r.exact[i].root.Load() != nil {
			t.Fatal("exact shard not pruned")
		}
	}
}

func TestWalkStops(t *testing.T) {
	r := New()
	c := &client{id: "c"}
	for _, f := range []string{"a", "b", "c/+", "d/#"} {
		r.Subscribe(c, f, Options{})
	}
	n := 0
	r.Walk(func(string, int) bool { n++; return false })
	if n != 1 {
		t.Fatalf("Walk called fn %d times after false", n)
	}
}

func TestRetainedStopAndWalk(t *testing.T) {
	ret := NewRetained()
	for i := 0; i < 100; i++ {
		ret.Set(&Message{Topic: fmt.Sprintf("t/%d", i), Payload: []byte("x")})
	}
	n := 0
	ret.Match("t/+", func(*Message) bool { n++; return n < 5 })
	if n != 5 {
		t.Fatalf("Match did not stop: %d", n)
	}
	n = 0
	ret.Walk(func(*Message) bool { n++; return true })
	if n != 100 || ret.Len() != 100 {
		t.Fatalf("Walk %d Len %d", n, ret.Len())
	}
	if !ret.Delete("t/5") || ret.Delete("t/5") || ret.Len() != 99 {
		t.Fatal("Delete")
	}
	// fn may call back into the store without deadlock.
	ret.Match("t/#", func(m *Message) bool { ret.Delete(m.Topic); return true })
	if ret.Len() != 0 {
		t.Fatalf("Len %d after deleting from Match", ret.Len())
	}
}

func TestClone(t *testing.T) {
	buf := []byte("topic/xpayloadctrtcdaiamadrisrrsukuv")
	m := &Message{
		Topic:   string(buf[:7]),
		Payload: buf[7:14],
		QoS:     1,
		Props: codec.Properties{
			ContentType:     buf[14:16],
			ResponseTopic:   buf[16:18],
			CorrelationData: buf[18:20],
			SubscriptionIDs: []uint32{3, 4},
			User:            []codec.UserProperty{{Key: buf[32:34], Value: buf[34:36]}},
			MessageExpiry:   9,
		},
		Origin: "o",
	}
	c := m.Clone()
	for i := range buf {
		buf[i] = 'Z'
	}
	m.Props.SubscriptionIDs[0] = 99
	if c.Topic != "topic/x" || string(c.Payload) != "payload" ||
		string(c.Props.ContentType) != "ct" || string(c.Props.ResponseTopic) != "rt" ||
		string(c.Props.CorrelationData) != "cd" || c.Props.SubscriptionIDs[0] != 3 ||
		c.Props.SubscriptionIDs[1] != 4 || string(c.Props.User[0].Key) != "uk" ||
		string(c.Props.User[0].Value) != "uv" || c.Props.MessageExpiry != 9 || c.QoS != 1 || c.Origin != "o" {
		t.Fatalf("clone aliases or lost data: %+v", c)
	}
	if c.Props.AuthData != nil {
		t.Fatal("nil field became non-nil")
	}
	// Appending to a cloned slice must not overwrite its neighbour.
	_ = append(c.Payload, 'X')
	if string(c.Props.ContentType) != "ct" {
		t.Fatal("cloned slices share capacity")
	}
}

// TestNodeSizes pins the size classes the per-subscription memory figure
// depends on: a node in 64 bytes and a one-subscriber list in 128.
func TestNodeSizes(t *testing.T) {
	if s := unsafe.Sizeof(tnode{}); s > 64 {
		t.Errorf("tnode is %d bytes, want <= 64", s)
	}
	if s := unsafe.Sizeof(subList{}); s > 128 {
		t.Errorf("subList is %d bytes, want <= 128", s)
	}
}

// TestHAMTRandomized compares the HAMT with a map under random inserts and
// removes, with hashes drawn from a tiny set so that shared prefixes, full
// 64-bit collisions and collapsing leaves are all exercised.
func TestHAMTRandomized(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	hashes := []uint64{0, 1, 32, 1 << 63, 1<<63 | 1, 42, 42 | 1<<40}
	var root hnode
	live := map[string]*tnode{}
	for step := 0; step < 20000; step++ {
		k := "k" + strconv.Itoa(rng.IntN(200))
		if nd, ok := live[k]; ok && rng.IntN(2) == 0 {
			var removed bool
			if root, removed = hremove(root, 0, nd); !removed {
				t.Fatalf("step %d: remove %s failed", step, k)
			}
			delete(live, k)
		} else if !ok {
			nd := &tnode{path: k, hash: hashes[rng.IntN(len(hashes))]}
			root = hinsert(root, 0, nd)
			live[k] = nd
		}
		if step%500 == 0 {
			n := 0
			hrange(root, 0, func(l *tnode) bool {
				if live[l.key()] != l {
					t.Fatalf("step %d: stray leaf %s", step, l.key())
				}
				n++
				return true
			})
			if n != len(live) {
				t.Fatalf("step %d: %d leaves, want %d", step, n, len(live))
			}
			for k, nd := range live {
				if hget(root, nd.hash, k) != nd {
					t.Fatalf("step %d: %s not found", step, k)
				}
			}
		}
	}
}
