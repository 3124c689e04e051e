package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a fake broker and a fake loadgen, chosen by
// TSUBAME_BENCH_FAKE, so the runner is tested end to end without mosquitto,
// tsubame or the real loadgen.
func TestMain(m *testing.M) {
	switch os.Getenv("TSUBAME_BENCH_FAKE") {
	case "broker":
		fakeBroker()
		return
	case "loadgen":
		os.Exit(fakeLoadgen(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeBroker listens on -tcp and -ws and greets each connection with
// "speed=N", so the fake loadgen can tell brokers apart.
func fakeBroker() {
	fs := flag.NewFlagSet("fake-broker", flag.ExitOnError)
	tcp := fs.Int("tcp", 0, "")
	ws := fs.Int("ws", 0, "")
	speed := fs.Int("speed", 1, "")
	_ = fs.Parse(os.Args[1:])
	for _, port := range []int{*tcp, *ws} {
		if port == 0 {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "speed=%d\n", *speed)
				_ = c.Close()
			}
		}()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}

// fakeLoadgen checks the flags the runner must pass and prints a result
// scaled by the broker's speed.
func fakeLoadgen(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "fake loadgen: no scenario")
		return 2
	}
	scenario := args[0]
	fs := flag.NewFlagSet("fake-loadgen", flag.ContinueOnError)
	addr := fs.String("addr", "", "")
	pid := fs.Int("pid", 0, "")
	js := fs.Bool("json", false, "")
	rate := fs.Float64("rate", 0, "")
	transport := fs.String("transport", "tcp", "")
	for _, f := range []string{"subs", "pubs", "pairs", "conns", "qos", "size"} {
		fs.Int(f, 0, "")
	}
	fs.Duration("duration", 0, "")
	fs.Duration("warmup", 0, "")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *addr == "" || *pid == 0 || !*js {
		fmt.Fprintln(os.Stderr, "fake loadgen: -addr, -pid and -json are required")
		return 2
	}
	c, err := net.Dial("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	_ = c.Close()
	speed, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "speed="))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake loadgen: bad greeting", line)
		return 1
	}
	if speed == 0 { // a broker that never answers properly: loadgen fails without a result
		fmt.Fprintln(os.Stderr, "fake loadgen: broker protocol error")
		return 1
	}
	res := map[string]any{
		"scenario": scenario, "transport": *transport,
		"delivered_rate":            1000 * speed,
		"broker_cpu_us_per_msg":     10.0 / float64(speed),
		"latency_us":                map[string]float64{"p50": 100.0 / float64(speed), "p90": 200, "p99": 400, "p999": 800, "max": 1000},
		"conn_rate":                 500 * speed,
		"broker_rss_per_conn_bytes": 4096 / speed,
		"sent_rate":                 *rate, // echoes -rate so the test can check it
	}
	b, _ := json.Marshal(res)
	fmt.Fprintln(os.Stderr, "progress goes to stderr")
	fmt.Println(string(b))
	return 0
}

func fakeBrokerDef(name string, speed int, ws bool) *Broker {
	return &Broker{Name: name, WS: ws, Start: func(ctx context.Context, tcp, wsPort int, _ string) (*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, os.Args[0], "-tcp", strconv.Itoa(tcp), "-ws", strconv.Itoa(wsPort), "-speed", strconv.Itoa(speed))
		// A race-enabled binary sleeps 1 s at exit unless told not to.
		cmd.Env = append(os.Environ(), "TSUBAME_BENCH_FAKE=broker", "GORACE=atexit_sleep_ms=0")
		return cmd, nil
	}}
}

func TestRunMatrixWithFakes(t *testing.T) {
	dir := t.TempDir()
	fakeLG := filepath.Join(dir, "loadgen")
	script := fmt.Sprintf("#!/bin/sh\nTSUBAME_BENCH_FAKE=loadgen GORACE=atexit_sleep_ms=0 exec %q \"$@\"\n", os.Args[0])
	if err := os.WriteFile(fakeLG, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "BENCHMARKS.md")
	if err := os.WriteFile(out, []byte("x\n"+MachineBegin+"\n"+MachineEnd+"\n"+BenchBegin+"\n"+BenchEnd+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := Options{
		Root: dir, Reps: 2, Duration: time.Second, Warmup: 0,
		Only:    []string{"fanout", "fanin", "p2p-qos1", "fanout-ws"},
		Brokers: []string{"tsubame", "mosquitto", "mochi", "ceiling"},
		Loadgen: fakeLG, Out: out, Charts: filepath.Join(dir, "charts"), Raw: filepath.Join(dir, "raw.jsonl"),
	}
	var log strings.Builder
	r := &Runner{Opt: o, Bin: dir, Log: func(f string, a ...any) { fmt.Fprintf(&log, f+"\n", a...) },
		Brokers: map[string]*Broker{
			"tsubame":   fakeBrokerDef("tsubame", 8, true),
			"mosquitto": fakeBrokerDef("mosquitto", 2, true),
			"mochi":     fakeBrokerDef("mochi", 0, true), // every loadgen run against it fails
			"ceiling":   fakeBrokerDef("ceiling", 10, false),
		}}
	if err := r.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs, err := r.RunMatrix(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// fanout: 4 brokers; fanin, p2p-qos1: 3 (ceiling n/a); fanout-ws: 3 (ceiling has no WebSocket).
	if want := 2 * (4 + 3 + 3 + 3); len(recs) != want {
		t.Fatalf("%d records, want %d\n%s", len(recs), want, log.String())
	}
	// Interleaved: the first records are rep 1 of the first scenario, one per broker.
	for i, br := range []string{"tsubame", "mosquitto", "mochi", "ceiling"} {
		if recs[i].Rep != 1 || recs[i].Scenario != "fanout" || recs[i].Broker != br {
			t.Errorf("record %d = rep %d %s %s; want rep 1 fanout %s", i, recs[i].Rep, recs[i].Scenario, recs[i].Broker, br)
		}
	}
	for _, rec := range recs {
		switch {
		case rec.Broker == "mochi":
			if rec.OK() || !strings.Contains(rec.Error, "broker protocol error") {
				t.Errorf("mochi run should carry loadgen's error output: %+v", rec)
			}
		case !rec.OK():
			t.Errorf("run failed: %+v", rec)
		}
		if rec.Scenario == "p2p-qos1" && rec.OK() {
			// Calibration against the fake mosquitto: 2000 msg/s / 500 pairs / 2.
			if rec.Rate != 2 || rec.Result.SentRate != 2 {
				t.Errorf("p2p-qos1 rate = %v (loadgen got %v), want 2", rec.Rate, rec.Result.SentRate)
			}
		}
	}
	raw, err := ReadRecords(o.Raw)
	if err != nil || len(raw) != len(recs) {
		t.Fatalf("raw results: %d records, %v", len(raw), err)
	}
	if err := writeReport(o, raw, &Machine{}, func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	doc, _ := os.ReadFile(out)
	for _, want := range []string{
		"| fan-out 1→1000, QoS 0, 64 B | delivered msg/s | higher | 8.00k | 2.00k | failed | 10.0k | 80.0% | ×4.00 better (mosquitto) |",
		"| fan-in 100→1, QoS 1 | delivered msg/s | higher | 8.00k | 2.00k | failed | n/a | n/a | ×4.00 better (mosquitto) |",
		"(2.00 msg/s per publisher) | latency p50 µs | lower | 12.5 | 50.0 | failed | n/a |",
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("report lacks %q:\n%s", want, doc)
		}
	}
	if !strings.Contains(log.String(), "calibrating p2p-qos1") {
		t.Errorf("the runner did not say it calibrated:\n%s", log.String())
	}
}

func TestRunOneBrokerThatNeverListens(t *testing.T) {
	r := &Runner{Opt: Options{Duration: time.Second}, Log: func(string, ...any) {}, loadgen: "/bin/false"}
	b := &Broker{Name: "dud", Start: func(ctx context.Context, _, _ int, _ string) (*exec.Cmd, error) {
		return exec.CommandContext(ctx, "sh", "-c", "echo cannot bind >&2; exit 3"), nil
	}}
	_, errText := r.runOne(context.Background(), b, []string{"fanout"}, 0, "")
	if !strings.Contains(errText, "exited before listening") || !strings.Contains(errText, "cannot bind") {
		t.Fatalf("error = %q; want it to say the broker exited and show its output", errText)
	}
}

func TestParseResult(t *testing.T) {
	res, err := parseResult([]byte("noise\n{\"scenario\":\"fanout\",\"delivered_rate\":5}\n"))
	if err != nil || res.DeliveredRate != 5 {
		t.Fatalf("got %+v, %v", res, err)
	}
	for _, bad := range []string{"", "no json here\n", "{broken\n"} {
		if _, err := parseResult([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestWriteMosquittoConf(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "m.conf")
	if err := WriteMosquittoConf(filepath.Join("..", "peers", "mosquitto.conf"), dst, 40001, 40002); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(dst)
	for _, want := range []string{"listener 40001 127.0.0.1\nprotocol mqtt", "listener 40002 127.0.0.1\nprotocol websockets",
		"max_inflight_messages 20", "max_queued_messages 1000", "max_packet_size 1048576", "max_keepalive 60", "persistence false", "set_tcp_nodelay true", "allow_anonymous true"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config lacks %q", want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.conf")
	_ = os.WriteFile(bad, []byte("listener 1883 127.0.0.1\n"), 0o644)
	if err := WriteMosquittoConf(bad, dst, 1, 2); err == nil {
		t.Error("a config without the WebSocket listener line was accepted")
	}
}

// The checked-in mosquitto.conf must start Debian's mosquitto and serve both
// listeners. Skipped where mosquitto is not installed.
func TestMosquittoConfStarts(t *testing.T) {
	bin := mosquittoPath()
	if bin == "" {
		t.Skip("mosquitto not installed")
	}
	tcp, _ := freePort()
	ws, _ := freePort()
	conf := filepath.Join(t.TempDir(), "m.conf")
	if err := WriteMosquittoConf(filepath.Join("..", "peers", "mosquitto.conf"), conf, tcp, ws); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(filepath.Dir(conf), 0o755)
	cmd := exec.Command(bin, "-c", conf)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); <-exited }()
	for _, p := range []int{tcp, ws} {
		if err := waitListening(fmt.Sprintf("127.0.0.1:%d", p), exited, 10*time.Second); err != nil {
			t.Fatalf("%v\n%s", err, out.Bytes())
		}
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tcp))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	// CONNECT v3.1.1, clean session, keepalive 60, client id "t".
	if _, err := c.Write([]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 1, 't'}); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := c.Read(ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK %x, %v: anonymous access must be accepted", ack, err)
	}
}

func TestRunRejectsBadFlagsBeforeRunning(t *testing.T) {
	root := t.TempDir()
	noMarkers := filepath.Join(root, "B.md")
	_ = os.WriteFile(noMarkers, []byte("# nothing to replace\n"), 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown scenario", []string{"-only", "fanout,nope"}, `unknown scenario "nope"`},
		{"unknown broker", []string{"-brokers", "tsubame,emqx"}, `unknown broker "emqx"`},
		{"zero reps", []string{"-reps", "0"}, "need at least 1"},
		{"missing report file", []string{"-out", filepath.Join(root, "missing.md")}, "missing.md"},
		{"report without markers", []string{"-out", noMarkers}, "markers missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			err := run(append([]string{"-root", root, "-loadgen", "/bin/false"}, c.args...), &out)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}
