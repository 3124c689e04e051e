package router

// Subscriber lists: chunked, copy-on-write, append in place.
//
// A filter with a million subscribers (a broadcast topic like news/all) must
// not copy a million entries per Subscribe. A subList stores its
// non-shared subscriptions as full chunks of chunkSize entries ("body")
// followed by one partly filled chunk ("tail"):
//
//	subList ─┬─ dels/meta  tail: positions nb*chunkSize .. n-1, len >= 1 when body is not empty
//	         └─ ext ──► body []chunk ──► chunk{dels *[chunkSize]Delivery, meta *[chunkSize]subMeta}
//	                    grps []*group
//	                    idx  *map[Subscriber]int32   writer-only position index
//
// Published arrays are never modified, except in one way: a writer may store
// into a slot of a backing array (tail arrays, body spine) at an index no
// published version can see, then publish a version whose length covers it.
// This is safe because such an array only ever appears in versions with a
// length <= the newest one: every operation that shortens a tail or a spine,
// or changes an entry a reader may see, copies that array first. So
//
//	Subscribe (append)  O(1) amortized: store into the tail, a new chunk every chunkSize
//	Subscribe (replace) O(chunkSize + n/chunkSize): copy one chunk (and the spine)
//	Unsubscribe         O(chunkSize + n/chunkSize): the last entry moves into the
//	                    hole (swap-remove), copying the two chunks touched and the spine
//
// and the writer finds a subscriber through idx instead of a scan once the
// list has outgrown one chunk (idx is built then, kept while the list lives,
// and touched by writers only, under the shard mutex).
//
// Readers (Match, Walk) see each version whole: Match hands out the chunks
// themselves (Matches.Chunks), so a fan-out to a million subscribers copies
// nothing.

// chunkSize is the number of subscriptions per chunk. It bounds what one
// replace or remove copies (chunkSize Deliveries plus n/chunkSize spine
// entries) and is the largest result the single-chunk fast path returns as
// one slice. 128 keeps a chunk copy around 9 KB.
const chunkSize = 128

// chunk is a full, immutable run of chunkSize subscriptions.
type chunk struct {
	dels *[chunkSize]Delivery
	meta *[chunkSize]subMeta
}

// subExt holds what most lists (one subscriber, no groups) do without, so a
// one-subscriber list stays in the 128-byte size class.
type subExt struct {
	body []chunk   // full chunks before the tail; append-in-place, see above
	grps []*group  // shared groups on this filter; immutable
	idx  *subIndex // writer-only; shared by all versions of one list
}

// subIndex maps a subscriber to its position in a list. Lock: the shard
// mutex; readers never touch it.
type subIndex map[Subscriber]int32

// subMeta is what Match needs beside the Delivery of one subscription.
type subMeta struct {
	h       uint32    // hash of the owner's client id, for merging
	subID   [1]uint32 // backing array of Delivery.SubIDs for a single subscription
	noLocal bool
	rh      byte // retain handling, kept for Options round trips
}

// subList is the immutable set of subscriptions on one filter: non-shared
// subscribers (body chunks then the tail dels/meta, parallel) and shared
// groups. Every change publishes a new subList; see the file comment for
// what the versions share. A one-subscriber list keeps its tail inline.
type subList struct {
	dels    []Delivery // tail chunk
	meta    []subMeta
	ext     *subExt // nil: no body, no groups, no index
	one     [1]Delivery
	oneMeta [1]subMeta
	noLocal int32 // number of subscriptions with noLocal
}

// groups returns the shared groups of sl (nil-safe).
func (sl *subList) groups() []*group {
	if sl == nil || sl.ext == nil {
		return nil
	}
	return sl.ext.grps
}

// body returns the full chunks of sl (nil-safe).
func (sl *subList) body() []chunk {
	if sl == nil || sl.ext == nil {
		return nil
	}
	return sl.ext.body
}

// len returns the number of non-shared subscriptions (nil-safe).
func (sl *subList) len() int {
	if sl == nil {
		return 0
	}
	return len(sl.body())*chunkSize + len(sl.dels)
}

// at returns the subscription at position p.
func (sl *subList) at(p int) (*Delivery, *subMeta) {
	body := sl.body()
	if k := p / chunkSize; k < len(body) {
		return &body[k].dels[p%chunkSize], &body[k].meta[p%chunkSize]
	}
	p -= len(body) * chunkSize
	return &sl.dels[p], &sl.meta[p]
}

// find returns the position of s's subscription. Lock: the shard mutex.
func (sl *subList) find(s Subscriber) (int, bool) {
	if sl == nil {
		return 0, false
	}
	if sl.ext != nil && sl.ext.idx != nil {
		p, ok := (*sl.ext.idx)[s]
		return int(p), ok
	}
	for i := range sl.dels { // no index: the tail is the whole list
		if sl.dels[i].Sub == s {
			return i, true
		}
	}
	return 0, false
}

// next returns a new version sharing everything with sl (nil gives an empty
// list); call ownExt before changing ext's fields.
func (sl *subList) next() *subList {
	nl := &subList{}
	if sl != nil {
		nl.dels, nl.meta, nl.noLocal, nl.ext = sl.dels, sl.meta, sl.noLocal, sl.ext
	}
	return nl
}

// ownExt gives nl, a version being built, an ext of its own to change.
func (nl *subList) ownExt() *subExt {
	e := &subExt{}
	if nl.ext != nil {
		*e = *nl.ext
	}
	nl.ext = e
	return e
}

// finish drops an ext that carries nothing and returns nil for an empty
// list.
func (nl *subList) finish() *subList {
	if nl.ext != nil && len(nl.ext.body) == 0 && len(nl.ext.grps) == 0 && nl.ext.idx == nil {
		nl.ext = nil
	}
	if len(nl.dels) == 0 && len(nl.groups()) == 0 {
		return nil
	}
	return nl
}

// withGroups returns a copy of sl with shared groups gs (nil if that leaves
// it empty); gs must not share a backing array with a published list.
func (sl *subList) withGroups(gs []*group) *subList {
	nl := sl.next()
	nl.ownExt().grps = gs
	if len(gs) == 0 {
		nl.ext.grps = nil
	}
	return nl.finish()
}

// copyRun copies dels/meta into fresh arrays of capacity c (the list's own
// inline array when c is 1) and points each SubIDs at its new meta.
func (nl *subList) copyRun(dels []Delivery, meta []subMeta, c int) ([]Delivery, []subMeta) {
	var nd []Delivery
	var nm []subMeta
	if c <= 1 {
		nd, nm = nl.one[:0], nl.oneMeta[:0]
	} else {
		nd, nm = make([]Delivery, 0, c), make([]subMeta, 0, c)
	}
	nd, nm = append(nd, dels...), append(nm, meta...)
	for i := range nd {
		setSubIDs(&nd[i], &nm[i])
	}
	return nd, nm
}

// setSubIDs points d.SubIDs at m's own storage (nil without an id).
func setSubIDs(d *Delivery, m *subMeta) {
	if m.subID[0] != 0 {
		d.SubIDs = m.subID[:]
	} else {
		d.SubIDs = nil
	}
}

// with returns a copy of sl with d (owner d.Sub) added or replaced
// [MQTT-3.8.4-3], and whether it replaced one. Lock: the shard mutex.
func (sl *subList) with(d Delivery, m subMeta) (*subList, bool) {
	if p, ok := sl.find(d.Sub); ok {
		return sl.replaced(p, d, m), true
	}
	return sl.appended(d, m), false
}

// appended adds a subscription at the end, in place where no reader can see.
func (sl *subList) appended(d Delivery, m subMeta) *subList {
	nl := sl.next()
	if len(nl.dels) == chunkSize { // tail full: it becomes a body chunk
		nl.ownExt()
		if nl.ext.idx == nil { // first time past one chunk: index the list
			idx := make(subIndex, 2*chunkSize)
			for i := range nl.dels {
				idx[nl.dels[i].Sub] = int32(i)
			}
			nl.ext.idx = &idx
		}
		nl.ext.body = append(nl.ext.body, chunk{(*[chunkSize]Delivery)(nl.dels), (*[chunkSize]subMeta)(nl.meta)})
		nl.dels, nl.meta = make([]Delivery, 0, chunkSize), make([]subMeta, 0, chunkSize)
	} else if len(nl.dels) == cap(nl.dels) { // grow the first chunk 1, 2, 4 .. chunkSize
		nl.dels, nl.meta = nl.copyRun(nl.dels, nl.meta, min(max(2*cap(nl.dels), 1), chunkSize))
	}
	pos := nl.len()
	nl.dels, nl.meta = append(nl.dels, d), append(nl.meta, m)
	setSubIDs(&nl.dels[len(nl.dels)-1], &nl.meta[len(nl.meta)-1])
	if m.noLocal {
		nl.noLocal++
	}
	if nl.ext != nil && nl.ext.idx != nil {
		(*nl.ext.idx)[d.Sub] = int32(pos)
	}
	return nl
}

// replaced returns a copy of sl with position p set to d, m.
func (sl *subList) replaced(p int, d Delivery, m subMeta) *subList {
	nl := sl.next()
	if _, om := sl.at(p); om.noLocal {
		nl.noLocal--
	}
	if m.noLocal {
		nl.noLocal++
	}
	nl.set(p, d, m)
	return nl
}

// set stores d, m at position p of nl, a version being built, copying the
// chunk (and spine) or the tail that holds p first.
func (nl *subList) set(p int, d Delivery, m subMeta) {
	body := nl.body()
	if k := p / chunkSize; k < len(body) {
		c := chunk{new([chunkSize]Delivery), new([chunkSize]subMeta)}
		*c.dels, *c.meta = *body[k].dels, *body[k].meta
		for i := range c.dels {
			setSubIDs(&c.dels[i], &c.meta[i])
		}
		c.dels[p%chunkSize], c.meta[p%chunkSize] = d, m
		setSubIDs(&c.dels[p%chunkSize], &c.meta[p%chunkSize])
		nb := append([]chunk(nil), body...)
		nb[k] = c
		nl.ownExt().body = nb
		return
	}
	p -= len(body) * chunkSize
	nl.dels, nl.meta = nl.copyRun(nl.dels, nl.meta, cap(nl.dels))
	nl.dels[p], nl.meta[p] = d, m
	setSubIDs(&nl.dels[p], &nl.meta[p])
}

// without returns a copy of sl without s's subscription (nil if that leaves
// the list empty) and whether s was there. The last subscription moves into
// the hole. Lock: the shard mutex.
func (sl *subList) without(s Subscriber) (*subList, bool) {
	p, ok := sl.find(s)
	if !ok {
		return sl, false
	}
	nl := sl.next()
	if _, om := sl.at(p); om.noLocal {
		nl.noLocal--
	}
	last := sl.len() - 1
	ld, lm := sl.at(last) // in the tail: it is never empty while the list is not
	ld2, lm2 := *ld, *lm
	// A fresh, shorter tail: the old one's last slot stays visible to readers
	// of sl, so it must never be written again.
	nl.dels, nl.meta = nl.copyRun(sl.dels[:len(sl.dels)-1], sl.meta[:len(sl.meta)-1], cap(sl.dels))
	if p != last {
		if off := len(nl.body()) * chunkSize; p >= off { // the new tail is ours: write it
			nl.dels[p-off], nl.meta[p-off] = ld2, lm2
			setSubIDs(&nl.dels[p-off], &nl.meta[p-off])
		} else {
			nl.set(p, ld2, lm2)
		}
	}
	if nl.ext != nil && nl.ext.idx != nil {
		if p != last {
			(*nl.ext.idx)[ld2.Sub] = int32(p)
		}
		delete(*nl.ext.idx, s)
	}
	if body := nl.body(); len(nl.dels) == 0 && len(body) > 0 {
		// The tail ran empty: the last chunk becomes the tail (copied, so it
		// may be appended to) and the spine is copied shorter.
		c := body[len(body)-1]
		nl.dels, nl.meta = nl.copyRun(c.dels[:], c.meta[:], chunkSize)
		nl.ownExt().body = append([]chunk(nil), body[:len(body)-1]...)
	}
	if nl.len() == 0 && nl.ext != nil && nl.ext.idx != nil {
		nl.ownExt().idx = nil // a list that empties starts over small
	}
	return nl.finish(), true
}

// chunks appends the subscriptions of sl to parts as consecutive slices of
// immutable router memory.
func (sl *subList) chunks(parts [][]Delivery) [][]Delivery {
	for _, c := range sl.body() {
		parts = append(parts, c.dels[:])
	}
	if len(sl.dels) > 0 {
		parts = append(parts, sl.dels)
	}
	return parts
}
