// Package router owns the broker's subscription index (who receives a
// PUBLISH), shared-subscription groups ($share/<group>/<filter>) with their
// round-robin choice, and the retained-message store.
//
// It must not parse packets, validate topic or filter syntax (the engine calls
// codec.ValidTopicFilter first; odd but valid-looking input such as `a//b`,
// `/` or 65k levels is handled without recursion proportional to the number
// of levels), enforce ACLs, queue or deliver messages, or know about sessions
// beyond the opaque Subscriber value. Its callers are the engine (Subscribe,
// Unsubscribe, Match on every PUBLISH from every event loop, Retained on
// PUBLISH with RETAIN and on SUBSCRIBE) and the admin console (Walk, Count).
//
// # Structure of the subscription index
//
//	Router
//	 ├─ exact[16]    shard = top 4 bits of xxhash(filter)       (filters without + or #)
//	 │    └─ HAMT: xxhash(filter) ──► tnode{subs}
//	 ├─ trie[16]     shard = top 4 bits of xxhash(first level)  (wildcard filters, literal first level)
//	 │    └─ root tnode
//	 │         └─ kids HAMT: xxhash(level) ──► tnode ─┬─ kids HAMT ──► ...
//	 │                                               ├─ plus  ──► tnode   ("+")
//	 │                                               └─ multi ──► tnode   ("#")
//	 └─ wild         one more trie for filters whose first level is + or #
//
//	tnode.subs ──► subList (immutable, see sublist.go)
//	                 dels/meta  tail chunk: []Delivery ready to hand out, []subMeta parallel
//	                 ext ──► body   full chunks of 128 before the tail (big lists only)
//	                         grps   shared groups on this filter
//	                                  └─ members ──► subList (immutable), next (round-robin counter)
//	                         idx    subscriber ──► position, for writers only
//
// A filter with a million subscribers is a spine of full chunks plus a tail:
// Subscribe appends in place where no reader can look (amortized O(1)),
// Unsubscribe finds the subscriber through idx and moves the last one into
// the hole, copying only the chunks it touches and the spine.
//
// A wildcard-free topic is looked up with one hash in the exact index, plus
// one walk of the trie shard of its first level and of the wild trie. A
// literal level with a million siblings (devices/<id>/+) lives in a hash
// array mapped trie (HAMT) of 32-way nodes, so adding or removing one child
// copies only the O(log32 n) nodes on its path, never a million-entry map.
//
// # Consistency: what a concurrent reader sees
//
// Match takes no lock. Every field a reader follows is an atomic pointer to
// immutable data (a HAMT node, a subList) or to a tnode, and writers never
// modify data that was published: they build a new version beside it and
// publish it with one atomic store (copy-on-write), holding only the mutex of
// their shard. (The one exception, appending to a list's tail chunk or spine,
// writes only slots beyond the length of every published version.) So a reader sees, for every node, either the whole old list or
// the whole new one, never a torn one. Subscribe creates missing trie nodes
// one at a time and links each into its parent before storing the subList
// that makes the subscription visible; a reader that meets a fresh node with
// no list yet simply finds nothing there. Unsubscribe stores the shortened
// list first, then unlinks nodes that became empty, bottom-up; a reader that
// still holds an unlinked node keeps reading its last (now empty or old)
// version, which is garbage collected once nobody references it. Writers
// always descend from the shard root under the shard mutex, so an unlinked
// node is never written again.
//
// One Match is thus linearizable per subscription, not one global snapshot:
// a Match racing two Subscribe calls on different filters may see either,
// both or none of them, like a PUBLISH arriving in between.
//
// Shared groups keep a stable *group whose member list is itself an immutable
// subList swapped atomically; the round-robin counter is an atomic that
// survives member changes.
//
// # Match results
//
// The result is a list of slices (Matches.Chunks). When exactly one node
// matched with non-shared subscribers, Match returns that node's immutable
// chunks as they are (no copy, no allocation), split around the publisher's
// own subscription if NoLocal leaves it out; one delivery per shared group is
// added as one more slice. When several nodes matched, it builds the result in
// the caller's Matches scratch, merging subscriptions of
// one subscriber through a small open-addressing table keyed by a hash of the
// subscriber's client id (collisions fall back to ==), so merging is linear in
// the number of matched subscriptions.
package router
