package router

import (
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// hnode is one immutable node of a hash array mapped trie (HAMT) mapping a
// string key, with its precomputed 64-bit xxhash, to a *tnode. It is held by
// value in its parent's slot array, so descending one level costs one memory
// load of that array, not a node header and then an array:
//
//	bits == 0   leaf: p is the *tnode
//	bits != 0   inner node: p is the first element of its slot array, one
//	            hnode per set bit (bit i = hash bits [shift, shift+5) == i)
//	            below shift 64, or len(slots) == bits in a collision node
//	            (shift >= 64, all 64 hash bits equal, leaves compared by key)
//	p == nil    empty (only as a whole tree)
//
// Each level consumes 5 bits of the hash from the low end. Nodes are never
// modified once published: insert and remove copy the slot arrays on the
// path to the change (at most 14 levels of at most 32 slots) and the writer
// publishes the new root with one atomic store, so readers need no lock. A
// node left with a single leaf collapses into that leaf, since a leaf may sit
// at any depth along its hash path.
type hnode struct {
	p    unsafe.Pointer
	bits uint32
}

const hashBits = 5

func leafNode(l *tnode) hnode { return hnode{p: unsafe.Pointer(l)} }

func mkNode(slots []hnode, bits uint32) hnode {
	return hnode{p: unsafe.Pointer(unsafe.SliceData(slots)), bits: bits}
}

// slots returns the slot array of inner node n at depth shift.
func (n hnode) slots(shift uint) []hnode {
	c := n.bits
	if shift < 64 {
		c = uint32(bits.OnesCount32(n.bits))
	}
	return unsafe.Slice((*hnode)(n.p), c)
}

func slotIndex(bitmap, bit uint32) int { return bits.OnesCount32(bitmap & (bit - 1)) }

// hload returns the tree published in root (empty if none).
func hload(root *atomic.Pointer[hnode]) hnode {
	if p := root.Load(); p != nil {
		return *p
	}
	return hnode{}
}

// hstore publishes tree n in root; an empty tree is stored as nil.
func hstore(root *atomic.Pointer[hnode], n hnode) {
	if n.p == nil {
		root.Store(nil)
	} else {
		root.Store(&n)
	}
}

// hlookup finds key in the tree published in root. Safe for concurrent
// readers; allocates nothing.
func hlookup(root *atomic.Pointer[hnode], h uint64, key string) *tnode {
	if p := root.Load(); p != nil {
		return hget(*p, h, key)
	}
	return nil
}

func hget(n hnode, h uint64, key string) *tnode {
	for shift := uint(0); n.p != nil; shift += hashBits {
		if n.bits == 0 {
			if l := (*tnode)(n.p); l.hash == h && l.key() == key {
				return l
			}
			return nil
		}
		if shift >= 64 {
			for _, s := range n.slots(shift) {
				if l := (*tnode)(s.p); l.key() == key {
					return l
				}
			}
			return nil
		}
		bit := uint32(1) << ((h >> shift) & 31)
		if n.bits&bit == 0 {
			return nil
		}
		n = *(*hnode)(unsafe.Add(n.p, uintptr(slotIndex(n.bits, bit))*unsafe.Sizeof(hnode{})))
	}
	return nil
}

// hinsert returns a new tree with leaf added; the caller has checked that
// leaf's key is absent. Depth is bounded by 64/5+1, so recursion is fine.
func hinsert(n hnode, shift uint, leaf *tnode) hnode {
	if n.p == nil {
		return leafNode(leaf)
	}
	if n.bits == 0 {
		return hpair((*tnode)(n.p), leaf, shift)
	}
	old := n.slots(shift)
	if shift >= 64 {
		s := make([]hnode, len(old)+1)
		copy(s, old)
		s[len(old)] = leafNode(leaf)
		return mkNode(s, uint32(len(s)))
	}
	bit := uint32(1) << ((leaf.hash >> shift) & 31)
	i := slotIndex(n.bits, bit)
	if n.bits&bit == 0 {
		s := make([]hnode, len(old)+1)
		copy(s, old[:i])
		s[i] = leafNode(leaf)
		copy(s[i+1:], old[i:])
		return mkNode(s, n.bits|bit)
	}
	s := make([]hnode, len(old))
	copy(s, old)
	s[i] = hinsert(old[i], shift+hashBits, leaf)
	return mkNode(s, n.bits)
}

// hpair builds the subtree at depth shift holding two leaves.
func hpair(a, b *tnode, shift uint) hnode {
	if shift >= 64 {
		return mkNode([]hnode{leafNode(a), leafNode(b)}, 2)
	}
	ia, ib := (a.hash>>shift)&31, (b.hash>>shift)&31
	if ia == ib {
		return mkNode([]hnode{hpair(a, b, shift+hashBits)}, 1<<ia)
	}
	if ia > ib {
		a, b = b, a
		ia, ib = ib, ia
	}
	return mkNode([]hnode{leafNode(a), leafNode(b)}, 1<<ia|1<<ib)
}

// hremove returns a new tree without leaf (compared by identity) and whether
// it was there.
func hremove(n hnode, shift uint, leaf *tnode) (hnode, bool) {
	if n.p == nil {
		return n, false
	}
	if n.bits == 0 {
		if (*tnode)(n.p) == leaf {
			return hnode{}, true
		}
		return n, false
	}
	old := n.slots(shift)
	var i int
	var repl hnode
	var bit uint32
	if shift >= 64 {
		for i = 0; i < len(old) && (*tnode)(old[i].p) != leaf; i++ {
		}
		if i == len(old) {
			return n, false
		}
	} else {
		bit = uint32(1) << ((leaf.hash >> shift) & 31)
		if n.bits&bit == 0 {
			return n, false
		}
		i = slotIndex(n.bits, bit)
		var ok bool
		if repl, ok = hremove(old[i], shift+hashBits, leaf); !ok {
			return n, false
		}
	}
	if repl.p != nil {
		s := make([]hnode, len(old))
		copy(s, old)
		s[i] = repl
		if len(s) == 1 && repl.bits == 0 {
			return repl, true // a lone leaf moves up
		}
		return mkNode(s, n.bits), true
	}
	// Drop slot i.
	switch len(old) {
	case 1:
		return hnode{}, true
	case 2:
		if other := old[1-i]; other.bits == 0 {
			return other, true // a lone leaf moves up
		}
	}
	s := make([]hnode, 0, len(old)-1)
	s = append(append(s, old[:i]...), old[i+1:]...)
	if shift >= 64 {
		return mkNode(s, uint32(len(s))), true
	}
	return mkNode(s, n.bits&^bit), true
}

// hrange calls fn for every leaf until fn returns false; it reports whether
// it ran to the end. Depth is bounded by the hash width.
func hrange(n hnode, shift uint, fn func(*tnode) bool) bool {
	if n.p == nil {
		return true
	}
	if n.bits == 0 {
		return fn((*tnode)(n.p))
	}
	for _, s := range n.slots(shift) {
		if !hrange(s, shift+hashBits, fn) {
			return false
		}
	}
	return true
}
