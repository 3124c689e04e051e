package router

import (
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Matches is a reusable result buffer: the engine keeps one per event loop.
// It is not safe for concurrent use; one Matches per goroutine.
type Matches struct {
	parts  [][]Delivery // the result: see Chunks
	buf    []Delivery   // built results
	lists  []*subList   // matched non-shared lists
	groups []*group     // matched shared groups
	stack  []frame      // trie walk
	lv     []int32      // start offset of each topic level, plus a sentinel
	table  []int32      // open addressing: position in buf + 1, 0 = empty
	nids   []int32      // per position in buf: number of subscription ids
	pairs  []idPair     // subscription ids of deliveries with more than one
	ids    []uint32     // backing store for merged SubIDs
}

type frame struct {
	n *tnode
	d int32 // levels consumed
}

type idPair struct {
	pos int32
	id  uint32
}

// Chunks returns the deliveries of the last Match as consecutive slices,
// each subscriber once: usually one slice, one per chunk of subscribers when
// a filter with more than a chunk (128) of them matched without merging, so
// that a fan-out to a million subscribers copies none of them. READ-ONLY: the
// slices may alias immutable router memory; valid until the next Match into
// the same Matches. Iterate as
//
//	for _, ds := range m.Chunks() {
//		for i := range ds { d := &ds[i]; ... }
//	}
func (m *Matches) Chunks() [][]Delivery { return m.parts }

// Len returns the number of deliveries of the last Match.
func (m *Matches) Len() int {
	n := 0
	for _, p := range m.parts {
		n += len(p)
	}
	return n
}

// Match finds who gets a message published to topic by publisher (may be
// nil) and stores the result in m (see Chunks). See the package
// documentation for the aliasing rules. It takes no lock and, once m's
// scratch has grown to the largest result seen, allocates nothing.
func (r *Router) Match(topic []byte, publisher Subscriber, m *Matches) {
	m.lists = m.lists[:0]
	m.groups = m.groups[:0]
	m.parts = m.parts[:0]

	// Wildcard-free filters: one lookup of the whole topic.
	h := xxhash.Sum64(topic)
	key := unsafe.String(unsafe.SliceData(topic), len(topic)) // does not escape hget
	if n := hlookup(&r.exact[h>>(64-shardBits)].root, h, key); n != nil {
		m.collect(n)
	}

	// Wildcard filters: the trie of the first level, and the one of filters
	// starting with a wildcard unless the topic starts with '$' [MQTT-4.7.2-1].
	m.levels(topic)
	first := topic[:m.lv[1]-1]
	m.walk(&r.trie[xxhash.Sum64(first)>>(64-shardBits)].root, topic)
	if len(topic) == 0 || topic[0] != '$' {
		m.walk(&r.wild.root, topic)
	}

	m.buf = m.buf[:0]
	switch {
	case len(m.lists) == 1 && (publisher == nil || m.lists[0].noLocal == 0):
		// Fast path: one node, nothing to merge or filter: hand out its
		// immutable chunks.
		m.parts = m.lists[0].chunks(m.parts)
	case len(m.lists) == 1: // one node: each subscriber appears once, only NoLocal to apply
		m.chunksWithout(m.lists[0], publisher)
	case len(m.lists) > 1:
		m.merge(publisher)
	}
	// One delivery per matching shared group, to one member chosen round
	// robin; each member gets its own granted QoS [MQTT-4.8.2-3].
	for _, g := range m.groups {
		mem := g.members.Load()
		n := mem.len()
		if n == 0 {
			continue
		}
		i := g.next.Add(1) - 1
		d, _ := mem.at(int(i % uint32(n)))
		m.buf = append(m.buf, *d)
	}
	if len(m.buf) > 0 {
		m.parts = append(m.parts, m.buf)
	}
}

// chunksWithout appends the chunks of sl to m.parts, leaving out the
// publisher's own subscription if it has NoLocal [MQTT-3.8.3-3]: the chunk
// holding it is split around it, so nothing is copied. A subscriber has at
// most one subscription per list, so the scan stops at the first hit.
func (m *Matches) chunksWithout(sl *subList, publisher Subscriber) {
	found := false
	emit := func(dels []Delivery, meta []subMeta) {
		if !found {
			for i := range dels {
				if meta[i].noLocal && dels[i].Sub == publisher {
					found = true
					if i > 0 {
						m.parts = append(m.parts, dels[:i])
					}
					if i+1 < len(dels) {
						m.parts = append(m.parts, dels[i+1:])
					}
					return
				}
			}
		}
		if len(dels) > 0 {
			m.parts = append(m.parts, dels)
		}
	}
	for _, c := range sl.body() {
		emit(c.dels[:], c.meta[:])
	}
	emit(sl.dels, sl.meta)
}

// levels records the start offset of every level of topic in m.lv, followed
// by len(topic)+1, so level i is topic[lv[i] : lv[i+1]-1].
func (m *Matches) levels(topic []byte) {
	m.lv = append(m.lv[:0], 0)
	for i, c := range topic {
		if c == '/' {
			m.lv = append(m.lv, int32(i+1))
		}
	}
	m.lv = append(m.lv, int32(len(topic)+1))
}

func (m *Matches) collect(n *tnode) {
	sl := n.subs.Load()
	if sl == nil {
		return
	}
	if len(sl.dels) > 0 { // the tail is empty only when the whole list is
		m.lists = append(m.lists, sl)
	}
	if sl.ext != nil && len(sl.ext.grps) > 0 {
		m.groups = append(m.groups, sl.ext.grps...)
	}
}

// walk matches topic against the trie below root with an explicit stack: no
// recursion, so the depth of the topic does not matter. A node reached after
// consuming d levels matches if d == all levels; its "#" child matches at any
// d, including the parent level itself ("a/#" matches "a").
func (m *Matches) walk(root *tnode, topic []byte) {
	nlev := int32(len(m.lv) - 1)
	m.stack = append(m.stack[:0], frame{root, 0})
	for len(m.stack) > 0 {
		f := m.stack[len(m.stack)-1]
		m.stack = m.stack[:len(m.stack)-1]
		if c := f.n.multi.Load(); c != nil {
			m.collect(c)
		}
		if f.d == nlev {
			m.collect(f.n)
			continue
		}
		if kids := f.n.kids.Load(); kids != nil {
			lv := topic[m.lv[f.d] : m.lv[f.d+1]-1]
			if c := hget(*kids, xxhash.Sum64(lv), unsafe.String(unsafe.SliceData(lv), len(lv))); c != nil {
				m.stack = append(m.stack, frame{c, f.d + 1})
			}
		}
		if c := f.n.plus.Load(); c != nil {
			m.stack = append(m.stack, frame{c, f.d + 1})
		}
	}
}

// merge builds one Delivery per subscriber over several lists: maximum QoS
// [MQTT-3.3.4-2], RetainAsPublished if any, and every subscription id
// [MQTT-3.3.4-3] [MQTT-3.3.4-4]. Subscribers are found in an open-addressing
// table keyed by their client-id hash, so the work is linear in the number of
// subscriptions.
func (m *Matches) merge(publisher Subscriber) {
	total := 0
	for _, sl := range m.lists {
		total += sl.len()
	}
	size := 8
	for size < 2*total {
		size <<= 1
	}
	if cap(m.table) < size {
		m.table = make([]int32, size)
	}
	m.table = m.table[:size]
	clear(m.table)
	mask := uint32(size - 1)
	m.nids = m.nids[:0]
	m.pairs = m.pairs[:0]

	for _, sl := range m.lists {
		body := sl.body()
		for k := 0; k <= len(body); k++ {
			dels, meta := sl.dels, sl.meta
			if k < len(body) {
				dels, meta = body[k].dels[:], body[k].meta[:]
			}
			m.mergeRun(dels, meta, publisher, mask)
		}
	}
	if len(m.pairs) == 0 {
		return
	}
	// Deliveries with several ids get contiguous slices of m.ids: the
	// per-position counts give each its range, then one pass fills them.
	if cap(m.ids) < len(m.pairs) {
		m.ids = make([]uint32, len(m.pairs), 2*len(m.pairs))
	}
	m.ids = m.ids[:len(m.pairs)]
	off := int32(0)
	for p, n := range m.nids {
		if n > 1 {
			m.nids[p] = off // start, advanced while filling
			m.buf[p].SubIDs = m.ids[off : off+n : off+n]
			off += n
		}
	}
	for _, pr := range m.pairs {
		m.ids[m.nids[pr.pos]] = pr.id
		m.nids[pr.pos]++
	}
}

// mergeRun merges one run (chunk) of a list into m.buf; see merge.
func (m *Matches) mergeRun(dels []Delivery, meta []subMeta, publisher Subscriber, mask uint32) {
	for i := range dels {
		e := &dels[i]
		if meta[i].noLocal && publisher != nil && e.Sub == publisher { // [MQTT-3.8.3-3]
			continue
		}
		j := meta[i].h & mask
		for {
			p := m.table[j]
			if p == 0 { // first subscription of this subscriber
				m.table[j] = int32(len(m.buf) + 1)
				m.buf = append(m.buf, *e)
				m.nids = append(m.nids, int32(len(e.SubIDs)))
				break
			}
			d := &m.buf[p-1]
			if d.Sub != e.Sub {
				j = (j + 1) & mask
				continue
			}
			if e.QoS > d.QoS {
				d.QoS = e.QoS // [MQTT-3.3.4-2]
			}
			d.RetainAsPublished = d.RetainAsPublished || e.RetainAsPublished
			if len(e.SubIDs) > 0 { // [MQTT-3.3.4-3]
				switch m.nids[p-1] {
				case 0:
					d.SubIDs = e.SubIDs
				case 1:
					m.pairs = append(m.pairs, idPair{p - 1, d.SubIDs[0]})
					fallthrough
				default:
					m.pairs = append(m.pairs, idPair{p - 1, e.SubIDs[0]})
				}
				m.nids[p-1]++
			}
			break
		}
	}
}
