package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/engine"
	"github.com/tsubame-mq/tsubame/engine/config"
)

// Timeouts are short on purpose: every flow here is a handful of loopback
// round trips, so anything slower than this is a hang, not a slow machine.
const (
	waitShort = 5 * time.Second  // one exchange (CONNACK, SUBACK, one message)
	waitLong  = 15 * time.Second // a whole batch or an external process
)

// msgCount is how many messages each round trip publishes: enough to show
// reordering or loss, small enough for the package to stay under a minute.
const msgCount = 50

// startBroker starts a broker with the default config on 127.0.0.1:0 and
// returns its TCP address; it is shut down when the test ends.
func startBroker(t testing.TB) string {
	t.Helper()
	cfg := config.Default()
	cfg.Listeners = []config.Listener{{Type: config.TypeTCP, Address: "127.0.0.1:0"}}
	cfg.Admin.Address = ""
	cfg.SysInterval = 0
	var logOut io.Writer = io.Discard
	if os.Getenv("TSUBAME_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// engine.Start resolves port 0 by binding, closing and re-binding the
	// port, so another socket can take it in between ("address already in
	// use"); that race is the engine's, not what these tests check, so try
	// again with a new port.
	var b *engine.Broker
	for attempt := 1; ; attempt++ {
		var err error
		b, err = engine.New(cfg, log)
		if err != nil {
			t.Fatalf("engine.New: %v", err)
		}
		err = b.Start()
		if err == nil {
			break
		}
		if attempt == 3 || !(errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")) {
			t.Fatalf("Start (attempt %d): %v", attempt, err)
		}
		t.Logf("Start (attempt %d): %v; retrying", attempt, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	addr := b.Addr("tcp")
	if addr == "" {
		t.Fatal("broker has no tcp listener address")
	}
	return addr
}

// hostPort splits addr for clients that take host and port separately.
func hostPort(t testing.TB, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("split %q: %v", addr, err)
	}
	return h, p
}

var topicSeq atomic.Uint64

// uniqueTopic returns a topic no other test uses, so retained messages and
// sessions from one test never leak into another sharing the broker.
func uniqueTopic(prefix string) string {
	return fmt.Sprintf("interop/%s/%d", prefix, topicSeq.Add(1))
}

// uniqueID returns a client id unique within the test binary run.
func uniqueID(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), topicSeq.Add(1))
}

// payloads returns the numbered payloads "m-000" .. of one batch.
func payloads(n int) []string {
	p := make([]string, n)
	for i := range p {
		p[i] = fmt.Sprintf("m-%03d", i)
	}
	return p
}

// collector gathers received payloads from client callbacks.
type collector struct {
	mu   sync.Mutex
	got  []string
	more chan struct{}
}

func newCollector() *collector { return &collector{more: make(chan struct{}, 1)} }

func (c *collector) add(p string) {
	c.mu.Lock()
	c.got = append(c.got, p)
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
}

// wait returns the payloads once n have arrived, or what arrived by the
// deadline.
func (c *collector) wait(n int, d time.Duration) []string {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		if len(c.got) >= n {
			out := append([]string(nil), c.got...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-deadline.C:
			c.mu.Lock()
			defer c.mu.Unlock()
			return append([]string(nil), c.got...)
		}
	}
}

// checkBatch fails the test unless got is exactly want, in order: nothing
// lost, nothing duplicated, nothing reordered [MQTT-4.6.0-6].
func checkBatch(t testing.TB, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("received %d messages, want %d (first: %v)", len(got), len(want), head(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("message %d is %q, want %q: order broken [MQTT-4.6.0-6]", i, got[i], want[i])
		}
	}
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }
