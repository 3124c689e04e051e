package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"syscall"
	"time"

	"github.com/tsubame-mq/tsubame/engine/config"
)

// broker is what the command needs from *engine.Broker.
type broker interface {
	Start() error
	Shutdown(ctx context.Context) error
	Reload() error
}

type newBrokerFunc func(*config.Config, *slog.Logger) (broker, error)

// shutdownTimeout bounds a graceful shutdown; shutdownGrace is how long
// serve waits past it for a Shutdown that ignores its context.
var (
	shutdownTimeout = 10 * time.Second
	shutdownGrace   = 2 * time.Second
)

// serve starts the broker and the pprof endpoint, then handles signals
// until shutdown. It returns the exit code.
func serve(cfg *config.Config, log *slog.Logger, newBroker newBrokerFunc, sigs <-chan os.Signal) int {
	b, err := newBroker(cfg, log)
	if err != nil {
		log.Error("cannot start: " + oneLine(err))
		return 1
	}
	var pp *http.Server
	if cfg.Pprof != "" {
		if pp, _, err = startPprof(cfg.Pprof, log); err != nil {
			log.Error("cannot start pprof: " + oneLine(err))
			return 1
		}
		defer pp.Close()
	}
	if err := b.Start(); err != nil {
		log.Error("cannot start: " + oneLine(err))
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		_ = b.Shutdown(ctx) // close the listeners that did open
		return 1
	}
	admin := "off"
	if cfg.AdminEnabled() {
		admin = cfg.Admin.Address
	}
	log.Info("tsubame started", "version", buildVersion(), "listeners", listenerList(cfg), "admin", admin, "pprof", cfg.Pprof)

	for sig := range sigs {
		if sig == syscall.SIGHUP {
			reload(b, log)
			continue
		}
		return shutdown(b, log, sig, sigs)
	}
	return shutdown(b, log, nil, sigs) // signal channel closed: treat as a stop request
}

func reload(b broker, log *slog.Logger) {
	start := time.Now()
	if err := b.Reload(); err != nil {
		log.Error("reload failed, keeping the previous password and ACL files", "err", oneLine(err))
		return
	}
	log.Info("reloaded password and ACL files", "took", time.Since(start))
}

// shutdown runs Shutdown with shutdownTimeout; another SIGINT or SIGTERM
// meanwhile exits at once.
func shutdown(b broker, log *slog.Logger, sig os.Signal, sigs <-chan os.Signal) int {
	log.Info("shutting down", "signal", fmt.Sprint(sig), "timeout", shutdownTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Shutdown(ctx) }()
	hardStop := time.NewTimer(shutdownTimeout + shutdownGrace)
	defer hardStop.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				log.Error("shutdown incomplete", "err", oneLine(err))
				return 1
			}
			log.Info("stopped")
			return 0
		case s, ok := <-sigs:
			if !ok {
				sigs = nil // closed: keep waiting for Shutdown
				continue
			}
			if s == syscall.SIGHUP {
				continue
			}
			log.Warn("second signal: exiting without waiting for shutdown", "signal", s.String())
			return 1
		case <-hardStop.C:
			log.Error("shutdown did not finish in time", "timeout", shutdownTimeout)
			return 1
		}
	}
}

// listenerList describes each listener for the startup line: its URL,
// prefixed by its name when the name is not the URL.
func listenerList(cfg *config.Config) []string {
	out := make([]string, len(cfg.Listeners))
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		out[i] = l.URL()
		if l.Name != out[i] {
			out[i] = l.Name + "=" + out[i]
		}
	}
	return out
}

// startPprof serves net/http/pprof on its own mux (not http.DefaultServeMux)
// at addr. The address is bound before it returns, so a taken port is an
// error at start. It returns the bound address.
func startPprof(addr string, log *slog.Logger) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	if host, _, _ := net.SplitHostPort(addr); !config.IsLoopback(host) {
		log.Warn("pprof is reachable from other hosts and has no authentication", "address", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof server stopped", "err", err)
		}
	}()
	log.Info("pprof listening", "address", ln.Addr().String())
	return srv, ln.Addr().String(), nil
}
