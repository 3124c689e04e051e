package router

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// Retained is the retained-message store: at most one message per topic.
//
//	Retained
//	 └─ shards[64]   shard = xxhash(first level of the topic) % 64
//	      ├─ mu       RWMutex: Set/Delete write-lock one shard, Get/Match read-lock
//	      ├─ byTopic  map topic ──► *Message          (Get, Set, Delete)
//	      └─ root     trie of the topics' levels        (Match with wildcards)
//
// Sharding by first level keeps a topic's map entry and trie path under one
// lock, so a filter with a literal first level reads one shard and a filter
// starting with a wildcard reads each shard in turn. Match collects a shard's
// hits under its read lock and calls fn after releasing it, so fn may call
// back into the store. All methods are safe for concurrent use.
type Retained struct {
	shards [retShards]retShard
	n      atomic.Int64
}

const retShards = 64

type retShard struct {
	mu      sync.RWMutex
	byTopic map[string]*Message
	root    rnode
}

// rnode is one level of the retained trie. Lock: the shard's mu.
type rnode struct {
	key    string
	msg    *Message
	kids   map[string]*rnode
	parent *rnode
}

// NewRetained returns an empty store.
func NewRetained() *Retained {
	r := &Retained{}
	for i := range r.shards {
		r.shards[i].byTopic = make(map[string]*Message)
	}
	return r
}

func (r *Retained) shard(topic string) *retShard {
	return &r.shards[xxhash.Sum64String(firstLevel(topic))%retShards]
}

// Set stores m as the retained message of m.Topic, replacing the previous one
// [MQTT-3.3.1-5]; an empty payload deletes it instead [MQTT-3.3.1-6] and is
// never stored itself [MQTT-3.3.1-7]. m is stored as is: the caller passes a
// Clone and does not modify it afterwards.
func (r *Retained) Set(m *Message) {
	if len(m.Payload) == 0 {
		r.Delete(m.Topic)
		return
	}
	sh := r.shard(m.Topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.byTopic[m.Topic]; !ok {
		r.n.Add(1)
	}
	sh.byTopic[m.Topic] = m
	n := &sh.root
	t := m.Topic
	start := 0
	for i := 0; i <= len(t); i++ {
		if i != len(t) && t[i] != '/' {
			continue
		}
		lv := t[start:i]
		c := n.kids[lv]
		if c == nil {
			if n.kids == nil {
				n.kids = make(map[string]*rnode)
			}
			c = &rnode{key: lv, parent: n}
			n.kids[lv] = c
		}
		n = c
		start = i + 1
	}
	n.msg = m
}

// Delete removes the retained message of topic and reports whether there was
// one.
func (r *Retained) Delete(topic string) bool {
	sh := r.shard(topic)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.byTopic[topic]; !ok {
		return false
	}
	delete(sh.byTopic, topic)
	r.n.Add(-1)
	n := &sh.root
	start := 0
	for i := 0; i <= len(topic) && n != nil; i++ {
		if i == len(topic) || topic[i] == '/' {
			n = n.kids[topic[start:i]]
			start = i + 1
		}
	}
	if n == nil { // map and trie disagree: cannot happen, keep going safely
		return true
	}
	n.msg = nil
	for n.parent != nil && n.msg == nil && len(n.kids) == 0 {
		delete(n.parent.kids, n.key)
		n = n.parent
	}
	return true
}

// Get returns the retained message of topic, or nil.
func (r *Retained) Get(topic string) *Message {
	sh := r.shard(topic)
	sh.mu.RLock()
	m := sh.byTopic[topic]
	sh.mu.RUnlock()
	return m
}

// Len returns the number of retained messages.
func (r *Retained) Len() int { return int(r.n.Load()) }

// Walk calls fn for every retained message until fn returns false. Each
// shard is copied under its read lock and fn runs unlocked.
func (r *Retained) Walk(fn func(*Message) bool) {
	var batch []*Message
	for i := range r.shards {
		sh := &r.shards[i]
		batch = batch[:0]
		sh.mu.RLock()
		for _, m := range sh.byTopic {
			batch = append(batch, m)
		}
		sh.mu.RUnlock()
		for _, m := range batch {
			if !fn(m) {
				return
			}
		}
	}
}

// Match calls fn for every retained message whose topic matches filter
// (wildcards and the '$' rule [MQTT-4.7.2-1], as in MatchTopic) until fn
// returns false. A "$share/..." filter is taken literally: MQTT 5.0 sends no
// retained messages for a new shared subscription (section 4.8.2), and the
// engine decides that before calling.
func (r *Retained) Match(filter string, fn func(*Message) bool) {
	fl := firstLevel(filter)
	if fl != "+" && !(fl == "#" && len(fl) == len(filter)) {
		sh := r.shard(filter)
		var batch []*Message
		sh.mu.RLock()
		batch = sh.root.match(filter, batch)
		sh.mu.RUnlock()
		for _, m := range batch {
			if !fn(m) {
				return
			}
		}
		return
	}
	var batch []*Message
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		batch = sh.root.match(filter, batch[:0])
		sh.mu.RUnlock()
		for _, m := range batch {
			if !fn(m) {
				return
			}
		}
	}
}

type rframe struct {
	n     *rnode
	start int // offset of the next filter level; > len(filter) when consumed
}

// match appends the messages under root (a shard root) matching filter. It
// walks with an explicit stack, so deep topics cost no goroutine stack. Lock:
// the shard's mu, at least for reading.
func (root *rnode) match(filter string, out []*Message) []*Message {
	stack := []rframe{{root, 0}}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if f.start > len(filter) { // every level consumed
			if f.n.msg != nil {
				out = append(out, f.n.msg)
			}
			continue
		}
		end := indexSlash(filter, f.start)
		lv := filter[f.start:end]
		atRoot := f.n == root
		switch {
		case lv == "#" && end == len(filter):
			// The parent level itself ("a/#" matches "a") and everything below.
			if !atRoot && f.n.msg != nil {
				out = append(out, f.n.msg)
			}
			sub := make([]*rnode, 0, len(f.n.kids))
			for k, c := range f.n.kids {
				if atRoot && strings.HasPrefix(k, "$") {
					continue // [MQTT-4.7.2-1]
				}
				sub = append(sub, c)
			}
			for len(sub) > 0 {
				n := sub[len(sub)-1]
				sub = sub[:len(sub)-1]
				if n.msg != nil {
					out = append(out, n.msg)
				}
				for _, c := range n.kids {
					sub = append(sub, c)
				}
			}
		case lv == "+":
			for k, c := range f.n.kids {
				if atRoot && strings.HasPrefix(k, "$") {
					continue // [MQTT-4.7.2-1]
				}
				stack = append(stack, rframe{c, end + 1})
			}
		default:
			if c := f.n.kids[lv]; c != nil {
				stack = append(stack, rframe{c, end + 1})
			}
		}
	}
	return out
}
