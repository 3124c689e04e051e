package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsubame-mq/tsubame/bench/loadgen/internal/stats"
	"github.com/tsubame-mq/tsubame/codec"
)

// idleReadBuffer is the read buffer of a held connection: it only ever
// receives PINGRESP, so 19k of them cost little.
const idleReadBuffer = 256

// runConn is the conn scenario: open -conns connections at -conn-rate, hold
// them idle for -duration with keepalive pings, and measure connect rate,
// connect latency and the broker's RSS per connection.
func runConn(ctx context.Context, cfg *Config, log io.Writer) (*Result, error) {
	r := &runner{cfg: cfg, log: log}
	res := newResult(cfg)
	stopPing := make(chan struct{})
	defer func() {
		close(stopPing)
		r.closeAll()
	}()
	var before procSample
	if cfg.PID > 0 {
		var err error
		if before, err = readProc(cfg.PID); err != nil {
			return res.fail(err)
		}
	}
	self0 := selfCPU()
	var hist stats.Histogram
	var connected atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var lastDone atomic.Int64

	// Progress while connecting.
	progressDone := make(chan struct{})
	var pwg sync.WaitGroup
	pwg.Add(1)
	go func() {
		defer pwg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := int64(0)
		for {
			select {
			case <-progressDone:
				return
			case <-t.C:
				n := connected.Load()
				r.logf("conn %4.0fs connected=%d (+%d/s) held=%d connect-p99=%.0fus errors=%d", time.Since(start).Seconds(), n, n-last,
					n-int64(r.errs.Load()), float64(hist.Quantile(0.99))/1e3, failed.Load()+int64(r.errs.Load()))
				last = n
			}
		}
	}()

	// Pings start with the first connection: a slow ramp must not let the
	// early connections outlive their keepalive.
	go r.pinger(stopPing)
	_ = parallel(ctx, cfg.Conns, func(i int) error {
		if cfg.ConnRate > 0 {
			at := start.Add(time.Duration(float64(i) / cfg.ConnRate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				time.Sleep(d)
			}
		}
		t := time.Now()
		c, err := dialBroker(cfg, idleReadBuffer)
		if err == nil {
			if err = c.connect(cfg, fmt.Sprintf("%s-c%d", cfg.ClientID, i)); err != nil {
				c.nc.Close()
			}
		}
		if err != nil {
			if failed.Add(1) == 1 {
				firstErr.Store(err)
			}
			r.errorf("connection %d failed: %v", i, err)
			return nil // keep going: the count of failures is the result
		}
		hist.Record(time.Since(t).Nanoseconds())
		lastDone.Store(time.Now().UnixNano())
		connected.Add(1)
		r.track(c)
		go idleReader(c, r)
		return nil
	})
	n := connected.Load()
	setup := time.Duration(lastDone.Load() - start.UnixNano())
	if n > 0 && setup > 0 {
		res.ConnRate = float64(n) / setup.Seconds()
	}
	res.ConnLatencyUS = ConnLatency{
		P50: float64(hist.Quantile(0.5)/100) / 10, P99: float64(hist.Quantile(0.99)/100) / 10, Max: float64(hist.Max()/100) / 10,
	}
	holdStart := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(cfg.Duration):
	}
	close(progressDone)
	pwg.Wait()
	res.DurationS = time.Since(holdStart).Seconds()
	wall := time.Since(start)
	res.LoadgenCPUPct = 100 * (selfCPU() - self0).Seconds() / wall.Seconds() / float64(numCPU())
	if cfg.PID > 0 {
		after, err := readProc(cfg.PID)
		if err != nil {
			r.logf("reading broker after the hold: %v", err)
		} else {
			res.BrokerRSSBytes = after.rss
			if n > 0 {
				res.BrokerRSSPerConnBytes = float64(after.rss-before.rss) / float64(n)
			}
		}
	}
	res.Errors = uint64(failed.Load()) + r.errs.Load()
	if ctx.Err() != nil {
		return res.fail(ctx.Err())
	}
	if f := failed.Load(); f > 0 {
		return res.fail(fmt.Errorf("%w: %d of %d connections failed; first: %v", errSetup, f, cfg.Conns, firstErr.Load()))
	}
	if e := r.errs.Load(); e > 0 {
		return res.fail(fmt.Errorf("%w: %d held connections dropped or misbehaved", errSetup, e))
	}
	return res, nil
}

// idleReader consumes PINGRESP on a held connection and counts anything
// else, or an unexpected close, as an error.
func idleReader(c *client, r *runner) {
	for {
		pk, err := c.next()
		if err != nil {
			if !r.closing.Load() {
				r.errs.Add(1)
				r.errorf("held connection lost: %v", err)
			}
			return
		}
		if pk.Type != codec.PINGRESP {
			r.errs.Add(1)
			r.errorf("held connection got packet type %d (reason 0x%02x)", pk.Type, pk.ReasonCode)
			if pk.Type == codec.DISCONNECT {
				return
			}
		}
	}
}
