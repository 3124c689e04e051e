package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:1883", "TCP address to listen on")
	loops := flag.Int("loops", runtime.NumCPU(), "number of event loops")
	flag.Parse()

	r := NewRelay(*loops)
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	}()
	fmt.Fprintf(os.Stderr, "ceiling relay (not a broker, QoS 0 only) on %s with %d loops\n", *addr, *loops)
	if err := r.Serve("tcp://" + *addr); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "ceiling: stopped; %d runs dropped for subscribers over %d pending bytes\n", r.Dropped(), maxOutbound)
}
