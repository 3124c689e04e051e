package auth

import (
	"net/netip"
	"testing"
	"time"
)

func TestRateLimiterBackoff(t *testing.T) {
	r := newRateLimiter(5, 10*time.Minute, 60*time.Second, 100)
	ip := netip.MustParseAddr("203.0.113.9")
	now := time.Unix(1_700_000_000, 0)
	for i := 0; i < 4; i++ {
		r.fail(ip, now)
	}
	if r.blocked(ip, now) {
		t.Fatal("blocked before the 5th failure")
	}
	r.fail(ip, now)
	if !r.blocked(ip, now) || !r.blocked(ip, now.Add(999*time.Millisecond)) {
		t.Fatal("5th failure must block for 1s")
	}
	if r.blocked(ip, now.Add(time.Second)) {
		t.Fatal("still blocked after 1s")
	}
	// Each further failure doubles the block: 2s, 4s, ... capped at 60s.
	want := []time.Duration{2, 4, 8, 16, 32, 60, 60}
	for _, w := range want {
		now = now.Add(2 * time.Minute)
		r.fail(ip, now)
		d := w * time.Second
		if !r.blocked(ip, now.Add(d-time.Millisecond)) || r.blocked(ip, now.Add(d)) {
			t.Fatalf("block after failure is not %v", d)
		}
	}
	// Quiet for longer than the window: the count starts afresh.
	now = now.Add(11 * time.Minute)
	r.fail(ip, now)
	if r.blocked(ip, now) {
		t.Fatal("old failures not forgotten after the window")
	}
	r.succeed(ip)
	if r.len() != 0 {
		t.Fatal("success did not forget the address")
	}
}

func TestRateLimiterKeys(t *testing.T) {
	r := newRateLimiter(1, time.Minute, time.Minute, 100)
	now := time.Unix(1_700_000_000, 0)
	r.fail(netip.MustParseAddr("::ffff:192.0.2.1"), now)
	if !r.blocked(netip.MustParseAddr("192.0.2.1"), now) {
		t.Error("IPv4-mapped IPv6 not treated as IPv4")
	}
	r.fail(netip.MustParseAddr("2001:db8:1:2::1"), now)
	if !r.blocked(netip.MustParseAddr("2001:db8:1:2:ffff::9"), now) {
		t.Error("IPv6 not tracked per /64")
	}
	if r.blocked(netip.MustParseAddr("2001:db8:1:3::1"), now) {
		t.Error("another /64 blocked")
	}
	r.fail(netip.Addr{}, now) // no address known: ignored
	if r.blocked(netip.Addr{}, now) || r.len() != 2 {
		t.Error("invalid address tracked")
	}
}

func TestRateLimiterBoundedMemory(t *testing.T) {
	const max = 64
	r := newRateLimiter(1, time.Minute, time.Minute, max)
	now := time.Unix(1_700_000_000, 0)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := 0; i < 10_000; i++ {
		r.fail(addr(i), now)
		if r.len() > max {
			t.Fatalf("%d entries tracked, max %d", r.len(), max)
		}
	}
	if !r.blocked(addr(9_999), now) || !r.blocked(addr(10_000-max), now) {
		t.Error("most recent addresses evicted")
	}
	if r.blocked(addr(0), now) || r.blocked(addr(10_000-max-1), now) {
		t.Error("oldest addresses not evicted")
	}
	// A repeated failure moves an address to the front.
	r.fail(addr(10_000-max), now)
	r.fail(addr(20_000), now)
	if !r.blocked(addr(10_000-max), now) || r.blocked(addr(10_000-max+1), now) {
		t.Error("eviction is not least-recently-failed")
	}
}
