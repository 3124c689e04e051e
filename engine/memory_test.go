package engine

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/codec"
)

// idleConnHeapBudget is what the Go heap may hold per idle connection
// (CONNECT accepted, keepalive 60, no subscriptions), counting every object
// the broker and gnet allocate for it and nothing the test's own client
// sockets allocate. See MEMORY.md for the table behind the figure.
const idleConnHeapBudget = 1024

// TestIdleConnHeap accounts exactly for the heap objects one idle connection
// keeps: it profiles every allocation (runtime.MemProfileRate = 1), opens N
// connections, and reports the live bytes each allocation site added, per
// connection. TSUBAME_MEMCONN=N sets N (default 2000); TSUBAME_MEMCONN_TABLE=1
// prints the table. Fails when the total passes idleConnHeapBudget.
func TestIdleConnHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	n := 2000
	if s := os.Getenv("TSUBAME_MEMCONN"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			t.Fatalf("TSUBAME_MEMCONN=%q: want a positive count", s)
		}
		n = v
	}
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()

	b := testBroker(t, nil)
	addr := b.Addr("tcp")
	// Warm up: per-loop buffers, pools and the registry shards' maps are
	// allocated once, not per connection.
	warm := memDialIdle(t, addr, "warm", 64)
	before := memLiveSites()
	conns := memDialIdle(t, addr, "idle", n)
	deadline := time.Now().Add(10 * time.Second)
	for b.sessions.count() < n+len(warm) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := b.sessions.count(); got != n+len(warm) {
		t.Fatalf("registry holds %d sessions, want %d", got, n+len(warm))
	}
	after := memLiveSites()
	runtime.KeepAlive(conns)
	runtime.KeepAlive(warm)

	type row struct {
		site         string
		bytes, objs  float64
		clientSocket bool
	}
	var rows []row
	var total, totalObjs float64
	for k, a := range after {
		d := a
		if p, ok := before[k]; ok {
			d.bytes -= p.bytes
			d.objs -= p.objs
		}
		if d.bytes == 0 {
			continue
		}
		r := row{site: k, bytes: float64(d.bytes) / float64(n), objs: float64(d.objs) / float64(n), clientSocket: a.client}
		rows = append(rows, r)
		if !r.clientSocket {
			total += r.bytes
			totalObjs += r.objs
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].bytes > rows[j].bytes })
	if os.Getenv("TSUBAME_MEMCONN_TABLE") != "" {
		for _, r := range rows {
			if r.bytes < 0.5 && r.bytes > -0.5 {
				continue
			}
			who := "broker"
			if r.clientSocket {
				who = "test client"
			}
			t.Logf("%8.1f B %5.2f obj  %-11s %s", r.bytes, r.objs, who, r.site)
		}
	}
	t.Logf("broker heap per idle connection: %.0f B in %.2f objects (N=%d)", total, totalObjs, n)
	if total > idleConnHeapBudget {
		t.Errorf("idle connection holds %.0f B of heap, budget %d B (MEMORY.md)", total, idleConnHeapBudget)
	}
}

type memSite struct {
	bytes, objs int64
	client      bool // allocated by the test's own dialing code
}

// memLiveSites returns the live heap by allocation site, after enough
// collections that the profile is current (it lags up to two cycles).
func memLiveSites() map[string]memSite {
	for range 3 {
		runtime.GC()
	}
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		n, ok = runtime.MemProfile(recs, true)
		if ok {
			recs = recs[:n]
			break
		}
	}
	out := make(map[string]memSite)
	for i := range recs {
		r := &recs[i]
		key, client := memSiteName(r.Stack())
		s := out[key]
		s.bytes += r.InUseBytes()
		s.objs += r.InUseObjects()
		s.client = s.client || client
		out[key] = s
	}
	return out
}

// memSiteName names an allocation by its innermost frame and the innermost
// frame of this module or gnet that led to it (the owner).
func memSiteName(stk []uintptr) (string, bool) {
	frames := runtime.CallersFrames(stk)
	var first, owner string
	client := false
	for {
		f, more := frames.Next()
		fn := f.Function
		if first == "" {
			first = fn
		}
		if strings.Contains(fn, "engine.memDialIdle") || strings.Contains(fn, "testing.") {
			client = true
		}
		if owner == "" && f.Line > 0 && (strings.Contains(fn, "tsubame/") || strings.Contains(fn, "gnet/")) {
			owner = fmt.Sprintf("%s:%d", fn[strings.LastIndex(fn, "/")+1:], f.Line)
		}
		if !more {
			break
		}
	}
	if owner == "" {
		owner = "(runtime)"
	}
	return first[strings.LastIndex(first, "/")+1:] + " <- " + owner, client
}

// memDialIdle opens n MQTT 3.1.1 connections (keepalive 60, clean session)
// and waits for each CONNACK.
func memDialIdle(t *testing.T, addr, prefix string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	buf := make([]byte, 4)
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		p := codec.Packet{Type: codec.CONNECT, Version: codec.V311, ProtocolName: []byte("MQTT"),
			ClientID: []byte(prefix + "-" + strconv.Itoa(i)), CleanStart: true, KeepAlive: 60}
		if _, err := c.Write(codec.Encode(nil, &p)); err != nil {
			t.Fatalf("CONNECT %d: %v", i, err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadFull(c, buf); err != nil || buf[0] != 0x20 || buf[3] != 0 {
			t.Fatalf("CONNACK %d: % x %v", i, buf, err)
		}
	}
	return conns
}
