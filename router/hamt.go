package router

import "math/bits"

// hnode is one immutable node of a hash array mapped trie mapping a string
// key (with its precomputed 64-bit xxhash) to a *tnode. Each level consumes 5
// bits of the hash from the low end; once all 64 bits are used, keys that
// still collide go to a collision node scanned linearly.
//
// Nodes are never modified after they are published: insert and remove copy
// the path from the root to the changed slot (at most 14 nodes of at most 32
// slots) and return a new root, which the writer publishes with one atomic
// store. Readers therefore need no lock.
type hnode struct {
	bitmap uint32
	coll   bool    // collision node: slots are all leaves, searched by key
	slots  []hslot // one per set bit of bitmap, in bit order
}

// hslot holds exactly one of sub or leaf.
type hslot struct {
	sub  *hnode
	leaf *tnode
}

const hashBits = 5

func slotIndex(bitmap, bit uint32) int { return bits.OnesCount32(bitmap & (bit - 1)) }

// hget finds key in the HAMT rooted at n. Safe for concurrent readers.
func hget(n *hnode, h uint64, key string) *tnode {
	for shift := uint(0); n != nil; shift += hashBits {
		if n.coll {
			for _, s := range n.slots {
				if s.leaf.key() == key {
					return s.leaf
				}
			}
			return nil
		}
		bit := uint32(1) << ((h >> shift) & 31)
		if n.bitmap&bit == 0 {
			return nil
		}
		s := n.slots[slotIndex(n.bitmap, bit)]
		if s.leaf != nil {
			if s.leaf.hash == h && s.leaf.key() == key {
				return s.leaf
			}
			return nil
		}
		n = s.sub
	}
	return nil
}

// hinsert returns a new root with leaf added; the caller has checked that
// leaf's key is absent. Depth is bounded by 64/5+1, so recursion is fine.
func hinsert(n *hnode, shift uint, leaf *tnode) *hnode {
	if n == nil {
		if shift >= 64 {
			return &hnode{coll: true, slots: []hslot{{leaf: leaf}}}
		}
		return &hnode{bitmap: 1 << ((leaf.hash >> shift) & 31), slots: []hslot{{leaf: leaf}}}
	}
	if n.coll {
		slots := make([]hslot, len(n.slots), len(n.slots)+1)
		copy(slots, n.slots)
		return &hnode{coll: true, slots: append(slots, hslot{leaf: leaf})}
	}
	bit := uint32(1) << ((leaf.hash >> shift) & 31)
	i := slotIndex(n.bitmap, bit)
	if n.bitmap&bit == 0 {
		slots := make([]hslot, len(n.slots)+1)
		copy(slots, n.slots[:i])
		slots[i] = hslot{leaf: leaf}
		copy(slots[i+1:], n.slots[i:])
		return &hnode{bitmap: n.bitmap | bit, slots: slots}
	}
	slots := make([]hslot, len(n.slots))
	copy(slots, n.slots)
	if old := n.slots[i].leaf; old != nil {
		slots[i] = hslot{sub: hpair(old, leaf, shift+hashBits)}
	} else {
		slots[i] = hslot{sub: hinsert(n.slots[i].sub, shift+hashBits, leaf)}
	}
	return &hnode{bitmap: n.bitmap, slots: slots}
}

// hpair builds the subtree holding two leaves whose hashes agree below shift.
func hpair(a, b *tnode, shift uint) *hnode {
	if shift >= 64 {
		return &hnode{coll: true, slots: []hslot{{leaf: a}, {leaf: b}}}
	}
	ia, ib := (a.hash>>shift)&31, (b.hash>>shift)&31
	if ia == ib {
		return &hnode{bitmap: 1 << ia, slots: []hslot{{sub: hpair(a, b, shift+hashBits)}}}
	}
	if ia > ib {
		a, b = b, a
	}
	return &hnode{bitmap: 1<<ia | 1<<ib, slots: []hslot{{leaf: a}, {leaf: b}}}
}

// hremove returns a new root without leaf (compared by identity) and whether
// it was there. An emptied node becomes nil and disappears from its parent.
func hremove(n *hnode, shift uint, leaf *tnode) (*hnode, bool) {
	if n == nil {
		return nil, false
	}
	if n.coll {
		for i, s := range n.slots {
			if s.leaf == leaf {
				if len(n.slots) == 1 {
					return nil, true
				}
				slots := make([]hslot, 0, len(n.slots)-1)
				slots = append(slots, n.slots[:i]...)
				return &hnode{coll: true, slots: append(slots, n.slots[i+1:]...)}, true
			}
		}
		return n, false
	}
	bit := uint32(1) << ((leaf.hash >> shift) & 31)
	if n.bitmap&bit == 0 {
		return n, false
	}
	i := slotIndex(n.bitmap, bit)
	s := n.slots[i]
	var repl *hnode
	if s.leaf != nil {
		if s.leaf != leaf {
			return n, false
		}
	} else {
		var ok bool
		if repl, ok = hremove(s.sub, shift+hashBits, leaf); !ok {
			return n, false
		}
	}
	if repl == nil { // drop the slot
		if len(n.slots) == 1 {
			return nil, true
		}
		slots := make([]hslot, 0, len(n.slots)-1)
		slots = append(slots, n.slots[:i]...)
		return &hnode{bitmap: n.bitmap &^ bit, slots: append(slots, n.slots[i+1:]...)}, true
	}
	slots := make([]hslot, len(n.slots))
	copy(slots, n.slots)
	slots[i] = hslot{sub: repl}
	return &hnode{bitmap: n.bitmap, slots: slots}, true
}

// hrange calls fn for every leaf until fn returns false; it reports whether
// it ran to the end. Depth is bounded by the hash width.
func hrange(n *hnode, fn func(*tnode) bool) bool {
	if n == nil {
		return true
	}
	for _, s := range n.slots {
		if s.leaf != nil {
			if !fn(s.leaf) {
				return false
			}
		} else if !hrange(s.sub, fn) {
			return false
		}
	}
	return true
}
