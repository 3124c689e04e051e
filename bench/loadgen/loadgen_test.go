package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func testConfig(t *testing.T, addr string, args ...string) *Config {
	t.Helper()
	cfg, err := parseConfig(append(args, "-addr", addr, "-client-id", t.Name()), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// everyHundred injects one drop, one duplicate and one reorder per 100
// messages: seq%100 == 7 dropped, 13 duplicated, 20 held back behind 21.
func everyHundred(seq uint64) fault {
	switch seq % 100 {
	case 7:
		return drop
	case 13:
		return duplicate
	case 20:
		return holdBack
	}
	return deliver
}

func dupOnly(seq uint64) fault {
	if seq%50 == 3 {
		return duplicate
	}
	return deliver
}

func TestAccountingMatchesInjectedFaults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		qos     string
		faults  func(uint64) fault
		lost    uint64
		dup     uint64
		reorder uint64
		wantErr error
	}{
		{"qos0 drop dup reorder", "0", everyHundred, 10, 10, 10, nil},
		{"qos1 loss fails the run", "1", everyHundred, 10, 10, 10, errLost},
		{"qos1 dups allowed", "1", dupOnly, 0, 20, 0, nil},
		{"qos2 dups fail the run", "2", dupOnly, 0, 20, 0, errQoS2Dup},
		{"qos2 clean", "2", nil, 0, 0, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startFakeBroker(t, false, tc.faults)
			cfg := testConfig(t, b.addr(), "p2p", "-qos", tc.qos, "-count", "1000", "-duration", "5s", "-warmup", "0", "-drain", "2s")
			res, err := Run(context.Background(), cfg, io.Discard)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Run error %v, want %v", err, tc.wantErr)
			}
			if res.Sent != 1000 || res.Expected != 1000 {
				t.Errorf("sent %d expected %d, want 1000 each", res.Sent, res.Expected)
			}
			if res.Lost != tc.lost || res.Duplicated != tc.dup || res.Reordered != tc.reorder {
				t.Errorf("lost %d dup %d reordered %d, want %d %d %d", res.Lost, res.Duplicated, res.Reordered, tc.lost, tc.dup, tc.reorder)
			}
			if want := 1000 - tc.lost + tc.dup; res.Delivered != want {
				t.Errorf("delivered %d, want %d", res.Delivered, want)
			}
			if res.LatencyUS.P50 <= 0 || res.LatencyUS.Max < res.LatencyUS.P99 {
				t.Errorf("latency %+v", res.LatencyUS)
			}
		})
	}
}

func TestExitStatusOnQoS1Loss(t *testing.T) {
	b := startFakeBroker(t, false, everyHundred)
	var out, errb bytes.Buffer
	code := run([]string{"fanout", "-addr", b.addr(), "-qos", "1", "-count", "200", "-warmup", "0", "-drain", "1s", "-json"}, &out, &errb)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFailed, errb.String())
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("JSON: %v: %s", err, out.String())
	}
	if res.Lost != 2 || !strings.Contains(res.Failure, "lost") {
		t.Errorf("lost %d failure %q", res.Lost, res.Failure)
	}
}

var jsonFields = []string{"scenario", "transport", "version", "qos", "size", "pubs", "subs", "pairs", "conns", "duration_s",
	"sent", "delivered", "expected", "sent_rate", "delivered_rate", "lost", "duplicated", "reordered", "latency_us",
	"conn_rate", "conn_latency_us", "broker_cpu_us_per_msg", "broker_rss_bytes", "broker_rss_per_conn_bytes", "loadgen_cpu_pct", "errors"}

func TestEveryScenarioProducesJSON(t *testing.T) {
	cases := []struct {
		args      []string
		delivered bool
	}{
		{[]string{"pub", "-pubs", "2", "-qos", "1"}, false},
		{[]string{"fanin", "-pubs", "3", "-qos", "1"}, true},
		{[]string{"fanin", "-pubs", "3", "-shared-topic"}, true},
		{[]string{"fanout", "-subs", "3", "-qos", "2", "-v", "5"}, true},
		{[]string{"p2p", "-pairs", "3", "-v", "3"}, true},
		{[]string{"wild", "-pubs", "2", "-subs", "3", "-qos", "1"}, true},
		{[]string{"fanout", "-subs", "2", "-transport", "ws", "-qos", "1"}, true},
		{[]string{"conn", "-conns", "50", "-conn-rate", "500", "-keepalive", "1"}, false},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			b := startFakeBroker(t, strings.Contains(strings.Join(tc.args, " "), "ws"), nil)
			var out, errb bytes.Buffer
			args := append(tc.args, "-addr", b.addr(), "-duration", "1s", "-warmup", "300ms", "-rate", "2000", "-json", "-pid", "1", "-client-id", "x")
			if code := run(args, &out, &errb); code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s\nstdout: %s", code, errb.String(), out.String())
			}
			var m map[string]any
			if err := json.Unmarshal(out.Bytes(), &m); err != nil {
				t.Fatalf("not one JSON object: %v: %q", err, out.String())
			}
			for _, f := range jsonFields {
				if _, ok := m[f]; !ok {
					t.Errorf("missing field %q", f)
				}
			}
			var res Result
			_ = json.Unmarshal(out.Bytes(), &res)
			if res.Scenario != tc.args[0] || res.Errors != 0 {
				t.Errorf("scenario %q errors %d", res.Scenario, res.Errors)
			}
			if res.Scenario == scConn {
				if res.ConnRate <= 0 || res.ConnLatencyUS.P50 <= 0 || res.BrokerRSSBytes <= 0 {
					t.Errorf("conn figures missing: %+v", res)
				}
				return
			}
			if res.Sent == 0 || res.SentRate <= 0 || res.LoadgenCPUPct <= 0 {
				t.Errorf("nothing sent: %+v", res)
			}
			if tc.delivered && (res.Delivered != res.Expected || res.Lost != 0 || res.DeliveredRate <= 0 || res.LatencyUS.P99 <= 0) {
				t.Errorf("delivery: %+v", res)
			}
			if !strings.Contains(errb.String(), "sent/s=") {
				t.Errorf("no progress line on stderr: %q", errb.String())
			}
		})
	}
}

// TestSubScenarioIsPassive runs a pub process and a sub process against the
// same broker: the subscriber accounts for publishers it did not start.
func TestSubScenarioIsPassive(t *testing.T) {
	b := startFakeBroker(t, false, everyHundred)
	subDone := make(chan *Result)
	go func() {
		cfg := testConfig(t, b.addr(), "sub", "-subs", "2", "-topic", "bench/#", "-duration", "1500ms", "-warmup", "0", "-drain", "200ms")
		res, _ := Run(context.Background(), cfg, io.Discard)
		subDone <- res
	}()
	time.Sleep(300 * time.Millisecond) // let the subscriptions land
	cfg := testConfig(t, b.addr(), "pub", "-pubs", "2", "-topic", "bench/x", "-count", "300", "-warmup", "0", "-id-base", "100")
	if _, err := Run(context.Background(), cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	res := <-subDone
	// 2 subscribers x 2 publishers x 300: 3 drops, 3 dups, 3 reorders per
	// stream; the tail is complete, so nothing else is missing.
	if res.Expected != 1200 || res.Lost != 12 || res.Duplicated != 12 || res.Reordered != 12 {
		t.Errorf("expected %d lost %d dup %d reordered %d", res.Expected, res.Lost, res.Duplicated, res.Reordered)
	}
}

func TestFDLimitRefusal(t *testing.T) {
	err := fdCheck(19990, 20000, 0)
	want := "19990 connections need 20054 file descriptors; the limit here is 20000"
	if !errors.Is(err, errFDLimit) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
	if err := fdCheck(19000, 20000, 0); err != nil {
		t.Fatalf("19000 of 20000 refused: %v", err)
	}
	if err := fdCheck(500, 20000, 100); !errors.Is(err, errFDLimit) {
		t.Fatalf("-max-conns not enforced: %v", err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"conn", "-conns", "1000000"}, &out, &errb); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(errb.String(), "1000000 connections need 1000064 file descriptors; the limit here is") {
		t.Errorf("message: %q", errb.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nope"},
		{"pub", "-qos", "3"},
		{"pub", "-v", "6"},
		{"pub", "-size", "19"},
		{"pub", "-transport", "quic"},
		{"pub", "-inflight", "0"},
		{"pub", "-inflight", "70000"},
		{"pub", "-topic", "a/+"},
		{"pub", "-pubs", "0"},
		{"pub", "-P", "x"},
		{"pub", "extra"},
	} {
		var errb bytes.Buffer
		if code := run(args, io.Discard, &errb); code != exitUsage || errb.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q; want a clear usage error", args, code, errb.String())
		}
	}
}

func TestSetupFailureExitsNonZero(t *testing.T) {
	var errb bytes.Buffer
	// A listener that is closed: nothing accepts.
	b := startFakeBroker(t, false, nil)
	addr := b.addr()
	b.close()
	if code := run([]string{"fanout", "-addr", addr, "-duration", "100ms"}, io.Discard, &errb); code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	if !strings.Contains(errb.String(), "connection setup failed") {
		t.Errorf("stderr %q", errb.String())
	}
}

func TestUSLatencyConversion(t *testing.T) {
	r := &Result{}
	w0 := sample{at: time.Unix(0, 0)}
	w1 := sample{at: time.Unix(2, 0), sent: 200, delivered: 100}
	h := histOf(1000, 2000, 3000, 4000) // ns
	r.fill(w0, w1, 200, 100, h)
	if r.LatencyUS.P50 != 2 || r.LatencyUS.Max != 4 || r.LatencyUS.Mean != 2.5 {
		t.Errorf("latency %+v", r.LatencyUS)
	}
	if r.SentRate != 100 || r.DeliveredRate != 50 || r.DurationS != 2 {
		t.Errorf("rates %v %v %v", r.SentRate, r.DeliveredRate, r.DurationS)
	}
}

// TestStuckBrokerDoesNotHang: a broker that accepts CONNECT and then stops
// reading must not hang the run: publishers blocked in a write are cut off
// after -drain.
func TestStuckBrokerDoesNotHang(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			buf := make([]byte, 512)
			_, _ = c.Read(buf)                    // CONNECT
			_, _ = c.Write([]byte{0x20, 2, 0, 0}) // CONNACK accepted; never read again
		}
	}()
	cfg := testConfig(t, ln.Addr().String(), "pub", "-duration", "300ms", "-warmup", "0", "-drain", "300ms")
	start := time.Now()
	res, err := Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("run took %v with a broker that stopped reading", d)
	}
	if res.Sent == 0 || res.Errors != 0 {
		t.Errorf("sent %d errors %d", res.Sent, res.Errors)
	}
	ln.Close()
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
}
