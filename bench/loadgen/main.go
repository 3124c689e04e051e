// Command loadgen is Tsubame's MQTT load generator. It owns the client side
// of every benchmark: it opens connections (TCP or WebSocket, MQTT 3.1, 3.1.1
// or 5.0), publishes stamped payloads, and measures what subscribers receive:
// rates, end-to-end latency percentiles, lost, duplicated and reordered
// messages, plus the broker's CPU and RSS from /proc and its own CPU share.
//
// It must not become the bottleneck it measures: publishers batch many
// messages per write, subscribers decode in place from large reads, and the
// per-message path allocates nothing. It must not import the broker
// (engine/...): it speaks MQTT through the codec package only, so it can
// measure any broker. bench/run calls it and parses its -json output; the
// CLI and JSON field names are a contract (see README.md).
//
// Usage: loadgen SCENARIO [flags]   (loadgen -h lists the flags)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // the run measured a failure: loss, QoS 2 dups, connect failure
	exitUsage  = 2 // bad flags, or the fd limit cannot hold the connections
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return exitUsage
	}
	if err := checkFDLimit(cfg); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, runErr := Run(ctx, cfg, stderr)
	if res != nil {
		if cfg.JSON {
			enc := json.NewEncoder(stdout)
			if err := enc.Encode(res); err != nil {
				fmt.Fprintln(stderr, "loadgen: writing result:", err)
				return exitFailed
			}
		} else {
			res.WriteText(stdout)
		}
	}
	if runErr != nil {
		fmt.Fprintln(stderr, "loadgen:", runErr)
		return exitFailed
	}
	return exitOK
}
