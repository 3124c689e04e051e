package router

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// Subscriber identifies the owner of subscriptions: the engine's session (a
// pointer type). Values are compared with ==.
type Subscriber interface{ SubscriberID() string } // client id, for listings

// Options are the subscription options of one subscription.
type Options struct {
	QoS               byte
	NoLocal           bool   // v5: do not deliver to the publisher itself
	RetainAsPublished bool   // v5
	RetainHandling    byte   // v5: stored for the engine; the router does not act on it
	SubID             uint32 // v5 subscription identifier, 0 = none
}

// Delivery is one subscriber a message goes to.
type Delivery struct {
	Sub               Subscriber
	QoS               byte     // maximum granted QoS over all merged subscriptions of this subscriber
	RetainAsPublished bool     // true if any merged subscription had it
	SubIDs            []uint32 // all non-zero subscription ids of the merged subscriptions; READ-ONLY, may alias router memory
	Shared            bool     // came through a $share group (never merged with non-shared ones)
}

const (
	shardBits  = 4
	shardCount = 1 << shardBits
	sharePfx   = "$share/"
)

// Router is the subscription index. Match is safe to call from any number of
// goroutines at once and takes no lock; Subscribe and Unsubscribe serialize
// per shard. See the package documentation for the structure.
type Router struct {
	exact [shardCount]exactShard
	trie  [shardCount]trieShard
	wild  trieShard // filters whose first level is + or #
	count atomic.Int64
}

type exactShard struct {
	mu   sync.Mutex // held by writers only
	root atomic.Pointer[hnode]
	_    [40]byte // keep shards on separate cache lines
}

type trieShard struct {
	mu   sync.Mutex // held by writers only
	root tnode
	_    [32]byte
}

// tnode is a node of a trie shard, or an entry of the exact index (then only
// path and subs are used). path is the filter that ends at this node (the
// part after "$share/<group>/" for shared ones), immutable once set; its last
// keyOff.. bytes are the level (or the whole filter for exact entries).
type tnode struct {
	path   string
	keyOff uint32
	hash   uint64 // xxhash of key()
	subs   atomic.Pointer[subList]
	kids   atomic.Pointer[hnode] // literal children, keyed by level
	plus   atomic.Pointer[tnode] // "+" child
	multi  atomic.Pointer[tnode] // "#" child
	// No parent pointer: Unsubscribe records the path while descending, which
	// keeps a node in the 64-byte size class.
}

func (n *tnode) key() string { return n.path[n.keyOff:] }

func (n *tnode) empty() bool {
	return n.subs.Load() == nil && n.kids.Load() == nil && n.plus.Load() == nil && n.multi.Load() == nil
}

// group is one shared subscription group on one filter. The object is stable
// for the group's life; its members are an immutable subList swapped
// atomically, and next is the round-robin cursor shared by all loops.
type group struct {
	name    string
	filter  string // "$share/<name>/<filter>" for listings
	next    atomic.Uint32
	members atomic.Pointer[subList]
}

// New returns an empty Router.
func New() *Router { return &Router{} }

// Count returns the number of subscriptions, shared ones included.
func (r *Router) Count() int { return int(r.count.Load()) }

// splitShared splits "$share/<group>/<filter>". A malformed one (no filter
// part) is treated as a plain filter: the engine rejects it before we see it
// [MQTT-4.8.2-1], and this keeps odd input from crashing the index.
func splitShared(filter string) (grp, f string, shared bool) {
	if !strings.HasPrefix(filter, sharePfx) {
		return "", filter, false
	}
	rest := filter[len(sharePfx):]
	i := strings.IndexByte(rest, '/')
	if i <= 0 {
		return "", filter, false
	}
	return rest[:i], rest[i+1:], true
}

// isWildcard reports whether filter has a "+" level or a final "#" level.
// A "#" that is not the last level is not a wildcard per [MQTT-4.7.1-1]; such
// filters are rejected by the engine, here they are matched literally.
func isWildcard(f string) bool {
	start := 0
	for i := 0; i <= len(f); i++ {
		if i == len(f) || f[i] == '/' {
			lv := f[start:i]
			if lv == "+" || (lv == "#" && i == len(f)) {
				return true
			}
			start = i + 1
		}
	}
	return false
}

func firstLevel(f string) string {
	if i := strings.IndexByte(f, '/'); i >= 0 {
		return f[:i]
	}
	return f
}

// Subscribe adds or replaces (same Sub, same filter string) a subscription
// [MQTT-3.8.4-3]. filter may be "$share/<group>/<filter>". existed reports
// that it replaced one (v5 Retain Handling 1 needs this).
func (r *Router) Subscribe(s Subscriber, filter string, o Options) (existed bool) {
	filter = strings.Clone(filter) // the caller's string may alias a read buffer
	grp, f, shared := splitShared(filter)
	meta := subMeta{h: uint32(xxhash.Sum64String(s.SubscriberID())), rh: o.RetainHandling}
	if !shared {
		meta.noLocal = o.NoLocal
	}
	if o.SubID != 0 {
		meta.subID[0] = o.SubID
	}
	d := Delivery{Sub: s, QoS: o.QoS, RetainAsPublished: o.RetainAsPublished, Shared: shared}

	var n *tnode
	var unlock func()
	if !isWildcard(f) {
		h := xxhash.Sum64String(f)
		sh := &r.exact[h>>(64-shardBits)]
		sh.mu.Lock()
		unlock = sh.mu.Unlock
		if n = hlookup(&sh.root, h, f); n == nil {
			n = &tnode{path: f, hash: h}
			hstore(&sh.root, hinsert(hload(&sh.root), 0, n))
		}
	} else {
		sh := r.trieFor(f)
		sh.mu.Lock()
		unlock = sh.mu.Unlock
		n = sh.root.descend(f, true, nil)
	}
	defer unlock()

	sl := n.subs.Load()
	if shared {
		var g *group
		if sl != nil {
			for _, x := range sl.groups() {
				if x.name == grp {
					g = x
					break
				}
			}
		}
		if g == nil {
			g = &group{name: grp, filter: filter}
			n.subs.Store(sl.withGroups(append(slices.Clip(sl.groups()), g)))
		}
		var nm *subList
		nm, existed = g.members.Load().with(d, meta)
		g.members.Store(nm)
	} else {
		var nl *subList
		nl, existed = sl.with(d, meta)
		n.subs.Store(nl)
	}
	if !existed {
		r.count.Add(1)
	}
	return existed
}

// Unsubscribe removes the subscription of s on filter (compared character by
// character [MQTT-3.10.4-1]) and reports whether it existed.
func (r *Router) Unsubscribe(s Subscriber, filter string) bool {
	grp, f, shared := splitShared(filter)
	var n *tnode
	var prune func()
	if !isWildcard(f) {
		h := xxhash.Sum64String(f)
		sh := &r.exact[h>>(64-shardBits)]
		sh.mu.Lock()
		defer sh.mu.Unlock()
		if n = hlookup(&sh.root, h, f); n == nil {
			return false
		}
		prune = func() {
			if nr, ok := hremove(hload(&sh.root), 0, n); ok {
				hstore(&sh.root, nr)
			}
		}
	} else {
		sh := r.trieFor(f)
		sh.mu.Lock()
		defer sh.mu.Unlock()
		var path []*tnode
		if n = sh.root.descend(f, false, &path); n == nil {
			return false
		}
		prune = func() { prunePath(path) }
	}
	sl := n.subs.Load()
	if sl == nil {
		return false
	}
	if shared {
		gi := -1
		for i, g := range sl.groups() {
			if g.name == grp {
				gi = i
				break
			}
		}
		if gi < 0 {
			return false
		}
		g := sl.groups()[gi]
		nm, ok := g.members.Load().without(s)
		if !ok {
			return false
		}
		g.members.Store(nm)
		if nm == nil { // last member gone: drop the group
			n.subs.Store(sl.withGroups(append(slices.Clip(sl.groups()[:gi]), sl.groups()[gi+1:]...)))
		}
	} else {
		nl, ok := sl.without(s)
		if !ok {
			return false
		}
		n.subs.Store(nl)
	}
	r.count.Add(-1)
	if n.subs.Load() == nil {
		prune()
	}
	return true
}

func (r *Router) trieFor(f string) *trieShard {
	fl := firstLevel(f)
	if fl == "+" || (fl == "#" && len(fl) == len(f)) {
		return &r.wild
	}
	return &r.trie[xxhash.Sum64String(fl)>>(64-shardBits)]
}

// descend walks from root n along filter f, creating missing nodes when
// create is set (each linked into its parent with one atomic store before it
// is used). It returns nil if !create and a node is missing. If path is not
// nil it receives the nodes passed, root first, ending with the result.
// Iterative, so a filter of 65k levels costs no stack. Lock: the shard mutex
// must be held.
func (n *tnode) descend(f string, create bool, path *[]*tnode) *tnode {
	if path != nil {
		*path = append(*path, n)
	}
	start := 0
	for i := 0; i <= len(f); i++ {
		if i != len(f) && f[i] != '/' {
			continue
		}
		lv := f[start:i]
		var c *tnode
		switch {
		case lv == "+":
			if c = n.plus.Load(); c == nil && create {
				c = &tnode{path: f[:i], keyOff: uint32(start)}
				n.plus.Store(c)
			}
		case lv == "#" && i == len(f):
			if c = n.multi.Load(); c == nil && create {
				c = &tnode{path: f[:i], keyOff: uint32(start)}
				n.multi.Store(c)
			}
		default:
			h := xxhash.Sum64String(lv)
			if c = hlookup(&n.kids, h, lv); c == nil && create {
				c = &tnode{path: f[:i], keyOff: uint32(start), hash: h}
				hstore(&n.kids, hinsert(hload(&n.kids), 0, c))
			}
		}
		if c == nil {
			return nil
		}
		if path != nil {
			*path = append(*path, c)
		}
		n = c
		start = i + 1
	}
	return n
}

// prunePath unlinks the last node of path (root first) and then each
// ancestor that became empty, bottom-up; the root stays. Lock: the shard
// mutex must be held.
func prunePath(path []*tnode) {
	for i := len(path) - 1; i > 0 && path[i].empty(); i-- {
		n, p := path[i], path[i-1]
		switch {
		case p.plus.Load() == n:
			p.plus.Store(nil)
		case p.multi.Load() == n:
			p.multi.Store(nil)
		default:
			if nk, ok := hremove(hload(&p.kids), 0, n); ok {
				hstore(&p.kids, nk)
			}
		}
	}
}

// Walk lists filters with their subscriber counts for the admin console;
// shared groups are reported as "$share/<group>/<filter>". It takes no lock
// and never blocks Match or writers; what it reports is, per filter, the
// state at the moment it passed by. fn returning false stops the walk.
func (r *Router) Walk(fn func(filter string, subscribers int) bool) {
	visit := func(n *tnode) bool {
		sl := n.subs.Load()
		if sl == nil {
			return true
		}
		if k := sl.len(); k > 0 && !fn(n.path, k) {
			return false
		}
		for _, g := range sl.groups() {
			if m := g.members.Load(); m != nil && !fn(g.filter, m.len()) {
				return false
			}
		}
		return true
	}
	for i := range r.exact {
		if !hrange(hload(&r.exact[i].root), 0, visit) {
			return
		}
	}
	var stack []*tnode
	for i := 0; i <= shardCount; i++ {
		root := &r.wild.root
		if i < shardCount {
			root = &r.trie[i].root
		}
		stack = append(stack[:0], root)
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !visit(n) {
				return
			}
			hrange(hload(&n.kids), 0, func(c *tnode) bool { stack = append(stack, c); return true })
			if c := n.plus.Load(); c != nil {
				stack = append(stack, c)
			}
			if c := n.multi.Load(); c != nil {
				stack = append(stack, c)
			}
		}
	}
}
