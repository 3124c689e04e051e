package auth

import (
	"net/netip"
	"sync"
	"time"
)

// rateLimiter tracks failed logins per remote address. After maxFailures
// failures, each further failure blocks the address for
// blockBase << (failures - maxFailures), capped at maxBlock. A failure older
// than window (counted from the latest one) starts the count afresh; a
// successful login forgets the address.
//
// Memory is bounded: at most maxEntries addresses are tracked, in a
// least-recently-failed list; the oldest is evicted when full. IPv6 addresses
// are tracked per /64, since one host usually owns a whole /64.
//
// It is touched once per CONNECT, so a single mutex is enough.
type rateLimiter struct {
	mu          sync.Mutex
	entries     map[netip.Addr]*failEntry
	head, tail  *failEntry // head: most recent failure
	maxFailures int
	window      time.Duration
	maxBlock    time.Duration
	maxEntries  int
}

type failEntry struct {
	key          netip.Addr
	failures     int
	last         time.Time
	blockedUntil time.Time
	prev, next   *failEntry
}

const blockBase = time.Second

func newRateLimiter(maxFailures int, window, maxBlock time.Duration, maxEntries int) *rateLimiter {
	if maxFailures <= 0 {
		maxFailures = 5
	}
	if window <= 0 {
		window = 10 * time.Minute
	}
	if maxBlock <= 0 {
		maxBlock = 60 * time.Second
	}
	if maxEntries <= 0 {
		maxEntries = 1 << 16
	}
	return &rateLimiter{
		entries:     make(map[netip.Addr]*failEntry),
		maxFailures: maxFailures, window: window, maxBlock: maxBlock, maxEntries: maxEntries,
	}
}

func limiterKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

func (r *rateLimiter) blocked(ip netip.Addr, now time.Time) bool {
	if !ip.IsValid() {
		return false
	}
	k := limiterKey(ip)
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[k]
	return e != nil && now.Before(e.blockedUntil)
}

func (r *rateLimiter) fail(ip netip.Addr, now time.Time) {
	if !ip.IsValid() {
		return
	}
	k := limiterKey(ip)
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[k]
	if e == nil {
		if len(r.entries) >= r.maxEntries {
			old := r.tail
			r.unlink(old)
			delete(r.entries, old.key)
		}
		e = &failEntry{key: k}
		r.entries[k] = e
	} else {
		r.unlink(e)
		if now.Sub(e.last) > r.window && !now.Before(e.blockedUntil) {
			e.failures = 0
		}
	}
	r.pushFront(e)
	e.failures++
	e.last = now
	if over := e.failures - r.maxFailures; over >= 0 {
		d := r.maxBlock
		if over < 30 {
			if b := blockBase << over; b < d {
				d = b
			}
		}
		e.blockedUntil = now.Add(d)
	}
}

func (r *rateLimiter) succeed(ip netip.Addr) {
	if !ip.IsValid() {
		return
	}
	k := limiterKey(ip)
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.entries[k]; e != nil {
		r.unlink(e)
		delete(r.entries, k)
	}
}

func (r *rateLimiter) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// Lock should be held.
func (r *rateLimiter) unlink(e *failEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		r.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		r.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

// Lock should be held.
func (r *rateLimiter) pushFront(e *failEntry) {
	e.next = r.head
	if r.head != nil {
		r.head.prev = e
	}
	r.head = e
	if r.tail == nil {
		r.tail = e
	}
}
