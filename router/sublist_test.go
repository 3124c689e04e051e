package router

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBigListModel drives many subscribers on one filter through random
// subscribes, replaces and unsubscribes, crossing chunk boundaries both ways,
// and compares every Match with a map: each subscriber exactly once, with
// its latest options [MQTT-3.8.4-3], NoLocal applied [MQTT-3.8.3-3], and
// unsubscribed ones gone [MQTT-3.10.4-1].
func TestBigListModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	r := New()
	const pool = 3*chunkSize + 17
	cs := make([]*client, pool)
	for i := range cs {
		cs[i] = &client{id: fmt.Sprintf("c%d", i)}
	}
	model := map[*client]Options{}
	var m Matches
	check := func(step int, pub *client) {
		t.Helper()
		var p Subscriber
		if pub != nil {
			p = pub
		}
		r.Match([]byte("news/all"), p, &m)
		seen := map[Subscriber]bool{}
		for _, d := range flat(&m) {
			c := d.Sub.(*client)
			if seen[c] {
				t.Fatalf("step %d: %s delivered twice", step, c.id)
			}
			seen[c] = true
			o, ok := model[c]
			if !ok {
				t.Fatalf("step %d: %s delivered but not subscribed", step, c.id)
			}
			if c == pub && o.NoLocal {
				t.Fatalf("step %d: NoLocal publisher %s got its own message", step, c.id)
			}
			if d.QoS != o.QoS || (o.SubID == 0) != (len(d.SubIDs) == 0) || (o.SubID != 0 && d.SubIDs[0] != o.SubID) {
				t.Fatalf("step %d: %s got QoS %d ids %v, want %+v", step, c.id, d.QoS, d.SubIDs, o)
			}
		}
		want := len(model)
		if pub != nil && model[pub].NoLocal {
			if _, ok := model[pub]; ok {
				want--
			}
		}
		if len(seen) != want || m.Len() != want {
			t.Fatalf("step %d: %d delivered, want %d", step, len(seen), want)
		}
		if r.Count() != len(model) {
			t.Fatalf("step %d: Count %d, want %d", step, r.Count(), len(model))
		}
	}
	for step := 0; step < 20_000; step++ {
		c := cs[rng.IntN(pool)]
		// Bias towards growth, then towards shrinking, so the list passes
		// through every size from 0 to pool several times.
		grow := (step/2500)%2 == 0
		if rng.IntN(10) < 7 == grow {
			o := Options{QoS: byte(rng.IntN(3)), NoLocal: rng.IntN(4) == 0}
			if rng.IntN(2) == 0 {
				o.SubID = uint32(1 + rng.IntN(1000))
			}
			_, had := model[c]
			if existed := r.Subscribe(c, "news/all", o); existed != had {
				t.Fatalf("step %d: Subscribe existed=%v, want %v", step, existed, had)
			}
			model[c] = o
		} else {
			_, had := model[c]
			if ok := r.Unsubscribe(c, "news/all"); ok != had {
				t.Fatalf("step %d: Unsubscribe=%v, want %v", step, ok, had)
			}
			delete(model, c)
		}
		if step%7 == 0 {
			check(step, nil)
			check(step, cs[rng.IntN(pool)])
		}
	}
	for _, c := range cs {
		r.Unsubscribe(c, "news/all")
	}
	r.Walk(func(f string, n int) bool { t.Errorf("left behind: %s %d", f, n); return true })
}

// TestBigListChunks checks the shape of a big result: a fan-out larger than
// a chunk comes back as the router's own chunks (nothing copied), and the
// merge and shared-group paths still see every chunk.
func TestBigListChunks(t *testing.T) {
	r := New()
	const n = 5*chunkSize + 3
	cs := make([]*client, n)
	for i := range cs {
		cs[i] = &client{id: fmt.Sprintf("c%d", i)}
		r.Subscribe(cs[i], "news/all", Options{QoS: 1})
	}
	var m Matches
	r.Match([]byte("news/all"), nil, &m)
	if got := len(m.Chunks()); got != 6 || m.Len() != n {
		t.Fatalf("%d chunks, %d deliveries; want 6, %d", got, m.Len(), n)
	}
	var m2 Matches
	r.Match([]byte("news/all"), nil, &m2)
	for i, p := range m.Chunks() {
		if &p[0] != &m2.Chunks()[i][0] {
			t.Fatalf("chunk %d is a copy, want the router's own memory", i)
		}
	}
	// Overlap: every subscriber also on news/+ (merge over all chunks).
	for i, c := range cs {
		r.Subscribe(c, "news/+", Options{QoS: 2, SubID: uint32(i + 1)})
	}
	r.Match([]byte("news/all"), nil, &m)
	if m.Len() != n {
		t.Fatalf("overlap: %d deliveries, want %d", m.Len(), n)
	}
	for _, d := range flat(&m) {
		if d.QoS != 2 || len(d.SubIDs) != 1 { // [MQTT-3.3.4-2]
			t.Fatalf("overlap: %+v", d)
		}
	}
	// A shared group whose members span several chunks: round robin reaches
	// all of them [MQTT-4.8.2-3].
	for _, c := range cs {
		r.Subscribe(c, "$share/g/grp/t", Options{QoS: 1})
	}
	got := map[Subscriber]bool{}
	for range n {
		r.Match([]byte("grp/t"), nil, &m)
		if m.Len() != 1 || !flat(&m)[0].Shared {
			t.Fatalf("shared: %+v", flat(&m))
		}
		got[flat(&m)[0].Sub] = true
	}
	if len(got) != n {
		t.Fatalf("round robin reached %d of %d members", len(got), n)
	}
}

// TestBigListConcurrentChurn runs Match on several goroutines while writers
// add, replace and remove subscribers of one big list (several chunks, the
// tail crossing chunk boundaries both ways). Stable subscribers must be
// delivered exactly once on every Match, and nobody twice: a swap-remove
// moving the last subscriber into a hole must never show it in both places
// or in neither.
func TestBigListConcurrentChurn(t *testing.T) {
	r := New()
	const nStable, nChurn = 4 * chunkSize, 2 * chunkSize
	stable := make([]*client, nStable)
	churn := make([]*client, nChurn)
	for i := range stable {
		stable[i] = &client{id: fmt.Sprintf("s%d", i)}
	}
	for i := range churn {
		churn[i] = &client{id: fmt.Sprintf("x%d", i)}
	}
	// Interleave so stable subscribers sit in every chunk and get moved by
	// swap-removes.
	for i := range stable {
		r.Subscribe(stable[i], "news/all", Options{QoS: 1})
		if i < nChurn {
			r.Subscribe(churn[i], "news/all", Options{QoS: 1})
		}
	}
	isStable := map[Subscriber]bool{}
	for _, s := range stable {
		isStable[s] = true
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 5))
			for !stop.Load() {
				c := churn[rng.IntN(nChurn)]
				switch rng.IntN(3) {
				case 0:
					r.Subscribe(c, "news/all", Options{QoS: byte(rng.IntN(3)), SubID: 7})
				case 1:
					r.Unsubscribe(c, "news/all")
				default: // replace a stable one: copies its chunk
					r.Subscribe(stable[rng.IntN(nStable)], "news/all", Options{QoS: 1})
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
			seen := map[Subscriber]int{}
			for !stop.Load() {
				r.Match([]byte("news/all"), nil, &m)
				rounds.Add(1)
				clear(seen)
				for _, ds := range m.Chunks() {
					for i := range ds {
						seen[ds[i].Sub]++
						d := &ds[i]
						if isStable[d.Sub] && (d.QoS != 1 || d.SubIDs != nil) ||
							!isStable[d.Sub] && d.SubIDs != nil && (len(d.SubIDs) != 1 || d.SubIDs[0] != 7) {
							errs.Add(1) // a torn Delivery
						}
					}
				}
				for s, k := range seen {
					if k != 1 {
						errs.Add(1)
						t.Errorf("%s delivered %d times", s.SubscriberID(), k)
					}
				}
				for _, s := range stable {
					if seen[s] != 1 {
						errs.Add(1)
						t.Errorf("stable %s delivered %d times", s.id, seen[s])
						break
					}
				}
				if errs.Load() > 5 {
					return
				}
			}
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for rounds.Load() < 2000 && time.Now().Before(deadline) && !t.Failed() {
		runtimeGosched()
	}
	stop.Store(true)
	wg.Wait()
	if errs.Load() != 0 {
		t.Fatalf("%d inconsistent matches", errs.Load())
	}
}
