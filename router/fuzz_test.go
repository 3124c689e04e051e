package router

import (
	"strings"
	"testing"
)

// FuzzMatch checks that the router, the retained store and MatchTopic agree
// on whether a filter matches a topic, for arbitrary strings (valid or not),
// and that subscribing, matching and unsubscribing odd input never panics.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"a/+/c", "a/b/c"}, {"a/#", "a"}, {"#", "$SYS/x"}, {"+/+", "/"},
		{"a//b", "a//b"}, {"$SYS/#", "$SYS"}, {"a/#/b", "a/#/b"}, {"+", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if strings.HasPrefix(filter, sharePfx) {
			return // shared filters are split before matching; MatchTopic takes the inner filter
		}
		want := MatchTopic(filter, topic)
		r := New()
		c := &client{id: "c"}
		r.Subscribe(c, filter, Options{QoS: 1})
		var m Matches
		r.Match([]byte(topic), nil, &m)
		if got := m.Len() == 1; got != want {
			t.Fatalf("router match(%q, %q) = %v, MatchTopic = %v", filter, topic, got, want)
		}
		if !r.Unsubscribe(c, filter) || r.Count() != 0 {
			t.Fatalf("unsubscribe %q failed", filter)
		}
		if isWildcard(filter) || filter == topic || topic == "" {
			ret := NewRetained()
			ret.Set(&Message{Topic: topic, Payload: []byte{1}})
			got := false
			ret.Match(filter, func(*Message) bool { got = true; return true })
			if got != want {
				t.Fatalf("retained match(%q, %q) = %v, MatchTopic = %v", filter, topic, got, want)
			}
		}
	})
}
