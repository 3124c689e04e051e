//go:build !race

package router

import (
	"fmt"
	"testing"
)

// TestMatchAllocs requires Match to allocate nothing once the Matches scratch
// has grown: on the aliasing fast path, a wildcard walk, an overlap merge
// with several subscription ids, NoLocal filtering and shared groups.
func TestMatchAllocs(t *testing.T) {
	r := New()
	cs := make([]*client, 100)
	for i := range cs {
		cs[i] = &client{id: fmt.Sprintf("c%d", i)}
	}
	for i, c := range cs {
		r.Subscribe(c, fmt.Sprintf("dev/%d/status", i), Options{QoS: 1})
		r.Subscribe(c, "over/lap", Options{QoS: 0, SubID: 1})
		r.Subscribe(c, "over/+", Options{QoS: 1, SubID: 2})
		r.Subscribe(c, "over/#", Options{QoS: 2, SubID: 3, NoLocal: true})
		r.Subscribe(c, "$share/g/over/lap", Options{QoS: 1})
		r.Subscribe(c, "wild/+/x/#", Options{QoS: 1})
		r.Subscribe(c, "nl/t", Options{QoS: 1, NoLocal: true})
	}
	cases := []struct {
		name  string
		topic string
		pub   Subscriber
		want  int
	}{
		{"exact", "dev/7/status", nil, 1},
		{"wildcard", "wild/a/x/y/z", nil, 100},
		{"overlap", "over/lap", nil, 101},
		{"overlap-nolocal", "over/lap", cs[3], 101},
		{"nolocal", "nl/t", cs[5], 99},
		{"none", "no/such/topic", nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m Matches
			topic := []byte(tc.topic)
			r.Match(topic, tc.pub, &m)
			if m.Len() != tc.want {
				t.Fatalf("got %d deliveries, want %d", m.Len(), tc.want)
			}
			if a := testing.AllocsPerRun(200, func() { r.Match(topic, tc.pub, &m) }); a != 0 {
				t.Fatalf("Match allocates %.1f times per call", a)
			}
		})
	}
}

func TestMatchTopicAllocs(t *testing.T) {
	if a := testing.AllocsPerRun(100, func() { MatchTopic("a/+/c/#", "a/b/c/d/e") }); a != 0 {
		t.Fatalf("MatchTopic allocates %.1f", a)
	}
}

// TestMatchAllocsBigList: a fan-out over several chunks, with and without a
// NoLocal publisher to leave out [MQTT-3.8.3-3], allocates nothing either.
func TestMatchAllocsBigList(t *testing.T) {
	r := New()
	cs := make([]*client, 3*chunkSize+5)
	for i := range cs {
		cs[i] = &client{id: fmt.Sprintf("c%d", i)}
		r.Subscribe(cs[i], "news/all", Options{QoS: 1, NoLocal: i == chunkSize+1})
	}
	topic := []byte("news/all")
	for _, pub := range []Subscriber{nil, cs[chunkSize+1]} {
		var m Matches
		r.Match(topic, pub, &m)
		want := len(cs)
		if pub != nil {
			want--
		}
		if m.Len() != want {
			t.Fatalf("publisher %v: %d deliveries, want %d", pub, m.Len(), want)
		}
		if a := testing.AllocsPerRun(200, func() { r.Match(topic, pub, &m) }); a != 0 {
			t.Fatalf("Match allocates %.1f times per call", a)
		}
	}
}
