package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tsubame-mq/tsubame/engine/config"
)

// fakeBroker records the calls serve makes.
type fakeBroker struct {
	mu          sync.Mutex
	calls       []string
	startErr    error
	reloadErr   error
	shutdownErr error
	block       chan struct{} // Shutdown waits on it when non-nil
	inShutdown  chan struct{}
}

func (f *fakeBroker) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeBroker) Calls() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, ",")
}

func (f *fakeBroker) Start() error  { f.record("start"); return f.startErr }
func (f *fakeBroker) Reload() error { f.record("reload"); return f.reloadErr }
func (f *fakeBroker) Shutdown(ctx context.Context) error {
	f.record("shutdown")
	if f.inShutdown != nil {
		close(f.inShutdown)
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.shutdownErr
}

func factory(f *fakeBroker, gotCfg **config.Config) newBrokerFunc {
	return func(cfg *config.Config, _ *slog.Logger) (broker, error) {
		if gotCfg != nil {
			*gotCfg = cfg
		}
		return f, nil
	}
}

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type result struct {
	code           int
	stdout, stderr string
}

// start runs the command in the background.
func start(t *testing.T, args []string, f *fakeBroker, sigs chan os.Signal) (<-chan result, *syncBuffer) {
	t.Helper()
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	out := make(chan result, 1)
	go func() {
		code := run(args, strings.NewReader(""), &stdout, stderr, sigs, factory(f, nil))
		out <- result{code, stdout.String(), stderr.String()}
	}()
	return out, stderr
}

func wait(t *testing.T, out <-chan result) result {
	t.Helper()
	select {
	case r := <-out:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("command did not exit")
		return result{}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("mqtt:\n  receive_maximum: 0\n  max_qos: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrHas  string
		stderrLine bool // stderr must be exactly one line
	}{
		{"version", []string{"-version"}, 0, "tsubame ", "", false},
		{"help", []string{"-h"}, 0, "", "usage: tsubame [-config FILE]", false},
		{"unknown flag", []string{"-bogus"}, 2, "", "flag provided but not defined: -bogus", false},
		{"stray argument", []string{"extra"}, 2, "", `unexpected argument "extra"`, false},
		{"missing config file", []string{"-config", filepath.Join(dir, "none.yaml")}, 1, "", "no such file or directory", true},
		{"invalid config is one line", []string{"-config", bad}, 1, "", "CONNACK); config: invalid value: mqtt.max_qos: 7", true},
		{"bad pprof flag", []string{"-pprof", "nowhere"}, 1, "", `pprof: "nowhere" is not host:port`, true},
		{"passwd dispatch", []string{"passwd"}, 2, "", "usage: tsubame passwd", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeBroker{}
			r := wait(t, func() <-chan result { o, _ := start(t, tc.args, f, make(chan os.Signal)); return o }())
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, tc.stdout) {
				t.Errorf("stdout %q, want prefix %q", r.stdout, tc.stdout)
			}
			if !strings.Contains(r.stderr, tc.stderrHas) {
				t.Errorf("stderr %q, want it to contain %q", r.stderr, tc.stderrHas)
			}
			if tc.stderrLine && (strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "tsubame: ")) {
				t.Errorf("stderr %q is not one \"tsubame: ...\" line", r.stderr)
			}
			if f.Calls() != "" {
				t.Errorf("broker was used: %s", f.Calls())
			}
		})
	}
}

func TestSignals(t *testing.T) {
	f := &fakeBroker{reloadErr: nil}
	sigs := make(chan os.Signal, 1)
	out, logs := start(t, nil, f, sigs)
	waitFor(t, "startup line", func() bool { return strings.Contains(logs.String(), "tsubame started") })
	for _, want := range []string{"listeners=[tcp://127.0.0.1:1883]", "admin=127.0.0.1:18083", "using built-in defaults"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q does not contain %q", logs.String(), want)
		}
	}
	sigs <- syscall.SIGHUP
	waitFor(t, "reload", func() bool { return strings.Contains(logs.String(), "reloaded password and ACL files") })
	f.reloadErr = errors.New("acl: line 3: bad pattern")
	sigs <- syscall.SIGHUP
	waitFor(t, "failed reload", func() bool { return strings.Contains(logs.String(), "reload failed") })
	sigs <- syscall.SIGTERM
	r := wait(t, out)
	if r.code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0; log:\n%s", r.code, r.stderr)
	}
	if got := f.Calls(); got != "start,reload,reload,shutdown" {
		t.Errorf("calls %s", got)
	}
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	f := &fakeBroker{block: make(chan struct{}), inShutdown: make(chan struct{})}
	defer close(f.block)
	sigs := make(chan os.Signal, 1)
	out, logs := start(t, nil, f, sigs)
	waitFor(t, "startup", func() bool { return strings.Contains(logs.String(), "tsubame started") })
	sigs <- syscall.SIGINT
	<-f.inShutdown
	sigs <- syscall.SIGHUP // ignored while shutting down
	sigs <- syscall.SIGINT
	r := wait(t, out)
	if r.code != 1 || !strings.Contains(r.stderr, "second signal") {
		t.Errorf("exit code %d, log:\n%s", r.code, r.stderr)
	}
}

func TestShutdownTimeout(t *testing.T) {
	old, oldGrace := shutdownTimeout, shutdownGrace
	shutdownTimeout, shutdownGrace = 50*time.Millisecond, 50*time.Millisecond
	defer func() { shutdownTimeout, shutdownGrace = old, oldGrace }()
	f := &fakeBroker{block: make(chan struct{})}
	defer close(f.block)
	sigs := make(chan os.Signal, 1)
	out, logs := start(t, nil, f, sigs)
	waitFor(t, "startup", func() bool { return strings.Contains(logs.String(), "tsubame started") })
	sigs <- syscall.SIGTERM
	r := wait(t, out)
	if r.code != 1 || !strings.Contains(r.stderr, "shutdown incomplete") || !strings.Contains(r.stderr, "deadline exceeded") {
		t.Errorf("exit code %d, log:\n%s", r.code, r.stderr)
	}
}

func TestStartFailure(t *testing.T) {
	f := &fakeBroker{startErr: errors.New("listen tcp 127.0.0.1:1883: bind: address already in use")}
	r := wait(t, func() <-chan result { o, _ := start(t, nil, f, make(chan os.Signal)); return o }())
	if r.code != 1 || !strings.Contains(r.stderr, "address already in use") {
		t.Errorf("exit code %d, log:\n%s", r.code, r.stderr)
	}
	if got := f.Calls(); got != "start,shutdown" {
		t.Errorf("calls %s, want start then shutdown to close what did open", got)
	}
	newErr := func(*config.Config, *slog.Logger) (broker, error) {
		return nil, errors.New("auth: password file: line 2: bad hash")
	}
	var stderr bytes.Buffer
	if code := run(nil, nil, io.Discard, &stderr, nil, newErr); code != 1 || !strings.Contains(stderr.String(), "bad hash") {
		t.Errorf("engine.New failure: exit %d, stderr %q", code, stderr.String())
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tsubame.yaml")
	yaml := "listeners:\n  - name: lan\n    type: tcp\n    address: 127.0.0.1:21883\nadmin:\n  enabled: false\nlog:\n  format: json\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fakeBroker{}
	var got *config.Config
	sigs := make(chan os.Signal, 1)
	stderr := &syncBuffer{}
	out := make(chan int, 1)
	go func() { out <- run([]string{"-config", path}, nil, io.Discard, stderr, sigs, factory(f, &got)) }()
	waitFor(t, "startup", func() bool { return strings.Contains(stderr.String(), "tsubame started") })
	if !strings.Contains(stderr.String(), `"listeners":["lan=tcp://127.0.0.1:21883"]`) || !strings.Contains(stderr.String(), `"admin":"off"`) {
		t.Errorf("JSON startup line: %s", stderr.String())
	}
	if got == nil || got.Listeners[0].Name != "lan" {
		t.Errorf("engine got config %+v", got)
	}
	sigs <- syscall.SIGTERM
	if code := <-out; code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestPprof(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, addr, err := startPprof("127.0.0.1:0", logger)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Errorf("GET /debug/pprof/: %d %q", resp.StatusCode, body)
	}
	// Its own mux: nothing else is served there.
	if resp, err = http.Get("http://" + addr + "/"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /: %v %v", resp, err)
	}
	resp.Body.Close()

	// -pprof on a taken port: the command fails at start, before the broker starts.
	f := &fakeBroker{}
	var stderr bytes.Buffer
	if code := run([]string{"-pprof", addr}, nil, io.Discard, &stderr, nil, factory(f, nil)); code != 1 ||
		!strings.Contains(stderr.String(), "cannot start pprof") || !strings.Contains(stderr.String(), "address already in use") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if strings.Contains(f.Calls(), "start") {
		t.Errorf("broker started although pprof failed: %s", f.Calls())
	}
}
