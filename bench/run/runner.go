package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Broker says how to start one broker on given ports.
type Broker struct {
	Name string
	// Start launches the broker listening on 127.0.0.1:tcp (and :ws for
	// WebSocket, when it has a WebSocket listener); pprof is an address for
	// net/http/pprof or "".
	Start func(ctx context.Context, tcp, ws int, pprof string) (*exec.Cmd, error)
	WS    bool  // has a WebSocket listener on path /mqtt
	Err   error // set when the broker could not be built or installed
}

// Runner runs the matrix.
type Runner struct {
	Opt     Options
	Bin     string // where binaries and per-run configs go
	Log     func(string, ...any)
	Brokers map[string]*Broker // filled by Prepare; tests may fill it themselves
	loadgen string
	machine *Machine
}

const pprofAddr = "127.0.0.1:6060"

// loadgenGrace is how long loadgen may run past warm-up + duration (its own
// drain is 5 s; connection setup of 19000 clients takes a few more) before
// the run is killed and recorded as failed.
const loadgenGrace = 90 * time.Second

// Prepare builds the binaries and installs mosquitto if it is missing.
func (r *Runner) Prepare(ctx context.Context) error {
	o := r.Opt
	r.machine = CollectMachine(o.Root)
	r.loadgen = o.Loadgen
	if r.loadgen == "" {
		r.loadgen = filepath.Join(r.Bin, "loadgen")
		r.Log("building loadgen (./bench/loadgen)")
		if err := goBuild(ctx, o.Root, r.loadgen, "./bench/loadgen"); err != nil {
			return fmt.Errorf("loadgen does not build, nothing can be measured: %w", err)
		}
	}
	if r.Brokers != nil {
		return nil
	}
	r.Brokers = map[string]*Broker{}
	for _, name := range o.Brokers {
		b := &Broker{Name: name}
		r.Brokers[name] = b
		switch name {
		case "tsubame":
			bin := filepath.Join(r.Bin, "tsubame")
			r.Log("building tsubame (./cmd/tsubame)")
			b.Err = goBuild(ctx, o.Root, bin, "./cmd/tsubame")
			b.WS = true
			b.Start = func(ctx context.Context, tcp, ws int, pprof string) (*exec.Cmd, error) {
				conf := filepath.Join(r.Bin, fmt.Sprintf("tsubame-%d.yaml", tcp))
				if err := os.WriteFile(conf, []byte(TsubameConfig(tcp, ws)), 0o644); err != nil {
					return nil, err
				}
				args := []string{"-config", conf}
				if pprof != "" {
					args = append(args, "-pprof", pprof)
				}
				return exec.CommandContext(ctx, bin, args...), nil
			}
		case "ceiling":
			bin := filepath.Join(r.Bin, "ceiling")
			r.Log("building the ceiling relay (./bench/peers/ceiling)")
			b.Err = goBuild(ctx, o.Root, bin, "./bench/peers/ceiling")
			b.Start = func(ctx context.Context, tcp, _ int, _ string) (*exec.Cmd, error) {
				return exec.CommandContext(ctx, bin, "-addr", fmt.Sprintf("127.0.0.1:%d", tcp)), nil
			}
		case "mochi":
			bin := filepath.Join(r.Bin, "mochi")
			r.Log("building the mochi peer (bench/peers/mochi, its own module)")
			b.Err = goBuild(ctx, filepath.Join(o.Root, "bench", "peers", "mochi"), bin, ".")
			b.WS = true
			b.Start = func(ctx context.Context, tcp, ws int, _ string) (*exec.Cmd, error) {
				return exec.CommandContext(ctx, bin, "-tcp", fmt.Sprintf("127.0.0.1:%d", tcp), "-ws", fmt.Sprintf("127.0.0.1:%d", ws)), nil
			}
		case "mosquitto":
			bin, err := ensureMosquitto(ctx, r.Log)
			b.Err = err
			b.WS = true
			b.Start = func(ctx context.Context, tcp, ws int, _ string) (*exec.Cmd, error) {
				conf := filepath.Join(r.Bin, fmt.Sprintf("mosquitto-%d.conf", tcp))
				if err := WriteMosquittoConf(filepath.Join(o.Root, "bench", "peers", "mosquitto.conf"), conf, tcp, ws); err != nil {
					return nil, err
				}
				return exec.CommandContext(ctx, bin, "-c", conf), nil
			}
		}
		if b.Err != nil {
			r.Log("WARNING: %s is unavailable, its rows will read \"failed\": %v", name, b.Err)
		}
	}
	return nil
}

func goBuild(ctx context.Context, dir, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, tail(b, 2000))
	}
	return nil
}

func mosquittoPath() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	return ""
}

// ensureMosquitto installs Debian's mosquitto when it is missing.
func ensureMosquitto(ctx context.Context, log func(string, ...any)) (string, error) {
	if p := mosquittoPath(); p != "" {
		return p, nil
	}
	log("mosquitto missing: apt-get update && apt-get install -y mosquitto")
	for _, args := range [][]string{{"update"}, {"install", "-y", "mosquitto"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tail(b, 2000))
		}
	}
	if p := mosquittoPath(); p != "" {
		return p, nil
	}
	return "", errors.New("mosquitto still missing after apt-get install")
}

// WriteMosquittoConf copies the checked-in mosquitto.conf with the two
// listener ports replaced.
func WriteMosquittoConf(src, dst string, tcp, ws int) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var out []string
	replaced := 0
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "listener 1883 "):
			line = fmt.Sprintf("listener %d 127.0.0.1", tcp)
			replaced++
		case strings.HasPrefix(line, "listener 8083 "):
			line = fmt.Sprintf("listener %d 127.0.0.1", ws)
			replaced++
		}
		out = append(out, line)
	}
	if replaced != 2 {
		return fmt.Errorf("%s: want the two listener lines `listener 1883 …` and `listener 8083 …`, found %d", src, replaced)
	}
	return os.WriteFile(dst, []byte(strings.Join(out, "\n")), 0o644)
}

// TsubameConfig is the benchmark configuration of Tsubame: anonymous, one TCP
// and one WebSocket listener on loopback, the same limits as mosquitto.conf.
func TsubameConfig(tcp, ws int) string {
	return fmt.Sprintf(`# Written by bench/run: Tsubame's benchmark configuration.
listeners:
  - type: tcp
    address: 127.0.0.1:%d
  - type: ws
    address: 127.0.0.1:%d
    path: /mqtt
mqtt:
  max_keepalive: 60
  receive_maximum: 20
  max_packet_size: 1048576
  max_queued_messages: 1000
auth:
  allow_anonymous: true
admin:
  enabled: false
log:
  level: error
sys_interval: 10
`, tcp, ws)
}

// RunMatrix runs every repetition, scenario and broker, interleaved.
func (r *Runner) RunMatrix(ctx context.Context) ([]Record, error) {
	o := r.Opt
	var scs []Scenario
	for _, sc := range Matrix {
		if len(o.Only) == 0 || contains(o.Only, sc.ID) {
			scs = append(scs, sc)
		}
	}
	raw, err := os.Create(o.Raw)
	if err != nil {
		return nil, err
	}
	defer raw.Close()

	rate := o.P2PRate
	for _, sc := range scs {
		if sc.NeedRate && rate == 0 {
			rate = r.calibrate(ctx)
		}
	}

	var recs []Record
	takes := func(sc Scenario, name string) bool {
		b := r.Brokers[name]
		return !(name == ceiling && !sc.Ceiling) && !(b != nil && b.Err == nil && isWS(sc) && !b.WS)
	}
	total := 0
	for _, sc := range scs {
		for _, name := range o.Brokers {
			if takes(sc, name) {
				total += o.Reps
			}
		}
	}
	n := 0
	for rep := 1; rep <= o.Reps; rep++ {
		for _, sc := range scs {
			for _, name := range o.Brokers {
				if !takes(sc, name) {
					continue // n/a: the ceiling relays QoS 0 over TCP only
				}
				n++
				rec := Record{Rep: rep, Scenario: sc.ID, Broker: name}
				if sc.NeedRate {
					rec.Rate = rate
				}
				b := r.Brokers[name]
				switch {
				case b == nil:
					rec.Error = "broker not prepared"
				case b.Err != nil:
					rec.Error = b.Err.Error()
				default:
					r.Log("[%d/%d] rep %d · %s · %s", n, total, rep, sc.ID, name)
					profile := ""
					if o.Profile && rep == 1 && name == subject && (sc.ID == "fanout" || sc.ID == "p2p-qos1") {
						profile = sc.ID
					}
					rec.Result, rec.Error = r.runOne(ctx, b, sc.Args, rec.Rate, profile)
				}
				r.Log("      %s", describe(rec))
				recs = append(recs, rec)
				line, _ := json.Marshal(rec)
				_, _ = raw.Write(append(line, '\n'))
			}
		}
	}
	return recs, nil
}

func isWS(sc Scenario) bool {
	for i, a := range sc.Args {
		if a == "-transport" && i+1 < len(sc.Args) && sc.Args[i+1] == "ws" {
			return true
		}
	}
	return false
}

// calibrate measures mosquitto's p2p QoS 1 maximum and returns half of it per
// publisher; without mosquitto it falls back to 100 msg/s per publisher.
func (r *Runner) calibrate(ctx context.Context) float64 {
	const fallback = 100
	b := r.Brokers["mosquitto"]
	if b == nil {
		bin, err := ensureMosquitto(ctx, r.Log)
		if err != nil {
			r.Log("WARNING: no mosquitto to calibrate the p2p rate, using %d msg/s per publisher: %v", fallback, err)
			return fallback
		}
		conf := filepath.Join(r.Opt.Root, "bench", "peers", "mosquitto.conf")
		b = &Broker{Name: "mosquitto", Start: func(ctx context.Context, tcp, ws int, _ string) (*exec.Cmd, error) {
			dst := filepath.Join(r.Bin, fmt.Sprintf("mosquitto-%d.conf", tcp))
			if err := WriteMosquittoConf(conf, dst, tcp, ws); err != nil {
				return nil, err
			}
			return exec.CommandContext(ctx, bin, "-c", dst), nil
		}}
	}
	if b.Err != nil {
		r.Log("WARNING: mosquitto unavailable to calibrate the p2p rate, using %d msg/s per publisher", fallback)
		return fallback
	}
	r.Log("calibrating p2p-qos1: mosquitto at full speed (%s)", strings.Join(P2PCalibrationArgs, " "))
	res, errText := r.runOne(ctx, b, P2PCalibrationArgs, 0, "")
	if errText != "" || res == nil || res.DeliveredRate <= 0 {
		r.Log("WARNING: calibration failed (%s), using %d msg/s per publisher", errText, fallback)
		return fallback
	}
	pairs := 500.0
	rate := res.DeliveredRate / pairs / 2
	r.Log("      mosquitto delivered %s msg/s; p2p-qos1 runs at %.1f msg/s per publisher (%s msg/s total)", fmtCount(res.DeliveredRate), rate, fmtCount(rate*pairs))
	return rate
}

// runOne starts the broker fresh, runs loadgen against it and stops it.
// The error is a string so that it goes into the raw results as is.
func (r *Runner) runOne(ctx context.Context, b *Broker, scArgs []string, rate float64, profile string) (*Result, string) {
	o := r.Opt
	tcp, err1 := freePort()
	ws, err2 := freePort()
	if err := errors.Join(err1, err2); err != nil {
		return nil, "no free port: " + err.Error()
	}
	pprof := ""
	if profile != "" {
		pprof = pprofAddr
	}
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd, err := b.Start(bctx, tcp, ws, pprof)
	if err != nil {
		return nil, "start " + b.Name + ": " + err.Error()
	}
	var brokerOut lockedBuffer
	cmd.Stdout, cmd.Stderr = &brokerOut, &brokerOut
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, "start " + b.Name + ": " + err.Error()
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		cancel() // SIGTERM, then SIGKILL after WaitDelay
		<-exited
	}
	defer stop()

	if err := waitListening(fmt.Sprintf("127.0.0.1:%d", tcp), exited, 15*time.Second); err != nil {
		return nil, fmt.Sprintf("%s: %v\n%s", b.Name, err, tail(brokerOut.Bytes(), 1000))
	}
	addr := fmt.Sprintf("127.0.0.1:%d", tcp)
	if isWS(Scenario{Args: scArgs}) {
		addr = fmt.Sprintf("127.0.0.1:%d", ws)
		if err := waitListening(addr, exited, 15*time.Second); err != nil {
			return nil, fmt.Sprintf("%s websocket: %v", b.Name, err)
		}
	}
	args := append([]string{}, scArgs...)
	args = append(args, "-addr", addr, "-pid", strconv.Itoa(cmd.Process.Pid),
		"-duration", o.Duration.String(), "-warmup", o.Warmup.String(), "-json")
	if rate > 0 {
		args = append(args, "-rate", strconv.FormatFloat(rate, 'f', 3, 64))
	}

	var profWG sync.WaitGroup
	if profile != "" {
		profDir := filepath.Join(o.Root, "profiles")
		_ = os.MkdirAll(profDir, 0o755)
		profWG.Add(1)
		go func() {
			defer profWG.Done()
			select {
			case <-time.After(o.Warmup):
			case <-exited:
				return
			}
			path := filepath.Join(profDir, profile+".cpu.pprof")
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%s", pprofAddr, secondsArg(o.Duration))
			if err := fetch(ctx, url, path); err != nil {
				r.Log("      profile: %v", err)
			}
		}()
	}

	lctx, lcancel := context.WithTimeout(ctx, o.Warmup+o.Duration+loadgenGrace)
	defer lcancel()
	lg := exec.CommandContext(lctx, r.loadgen, args...)
	var stdout, stderr bytes.Buffer
	lg.Stdout, lg.Stderr = &stdout, &stderr
	runErr := lg.Run()
	profWG.Wait()
	if profile != "" {
		r.saveProfiles(ctx, profile, cmd.Path)
	}

	select {
	case <-exited:
		return nil, fmt.Sprintf("%s exited during the run (%v)\n%s", b.Name, waitErr, tail(brokerOut.Bytes(), 1000))
	default:
	}
	if lctx.Err() == context.DeadlineExceeded {
		return nil, fmt.Sprintf("loadgen %s: timed out after %s (warm-up + duration + 90 s)\n%s",
			strings.Join(args, " "), o.Warmup+o.Duration+loadgenGrace, tail(stderr.Bytes(), 1000))
	}
	res, perr := parseResult(stdout.Bytes())
	switch {
	case perr != nil && runErr != nil:
		return nil, fmt.Sprintf("loadgen %s: %v\n%s", strings.Join(args, " "), runErr, tail(stderr.Bytes(), 1000))
	case perr != nil:
		return nil, "loadgen output: " + perr.Error()
	case runErr != nil && res.Failure == "":
		res.Failure = runErr.Error()
	}
	return res, ""
}

func (r *Runner) saveProfiles(ctx context.Context, name, bin string) {
	dir := filepath.Join(r.Opt.Root, "profiles")
	heap := filepath.Join(dir, name+".heap.pprof")
	if err := fetch(ctx, "http://"+pprofAddr+"/debug/pprof/heap", heap); err != nil {
		r.Log("      heap profile: %v", err)
	}
	for _, kind := range []string{"cpu", "heap"} {
		p := filepath.Join(dir, name+"."+kind+".pprof")
		if _, err := os.Stat(p); err != nil {
			continue
		}
		out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=40", bin, p).CombinedOutput()
		if err != nil {
			r.Log("      pprof -top %s: %v", p, err)
			continue
		}
		txt := filepath.Join(dir, name+"."+kind+".txt")
		_ = os.WriteFile(txt, out, 0o644)
		r.Log("      saved %s and %s", p, txt)
	}
}

// parseResult takes the last JSON object line of loadgen's stdout.
func parseResult(out []byte) (*Result, error) {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		l := bytes.TrimSpace(lines[i])
		if len(l) == 0 || l[0] != '{' {
			continue
		}
		var res Result
		if err := json.Unmarshal(l, &res); err != nil {
			return nil, fmt.Errorf("bad JSON from loadgen: %w", err)
		}
		return &res, nil
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, errors.New("loadgen printed no JSON")
	}
	return nil, errors.New("loadgen printed no JSON object line: " + string(tail(out, 300)))
}

func describe(rec Record) string {
	switch {
	case rec.Error != "":
		return "FAILED: " + firstLine(rec.Error)
	case rec.Result == nil:
		return "no result"
	}
	res := rec.Result
	s := ""
	if res.Conns > 0 || res.ConnRate > 0 {
		s = fmt.Sprintf("%s conn/s, RSS %s per connection", fmtCount(res.ConnRate), fmtBytes(res.BrokerRSSPerConnBytes))
	} else {
		s = fmt.Sprintf("%s msg/s delivered, p50 %s µs, p99 %s µs, broker %s µs CPU/msg, lost %d",
			fmtCount(res.DeliveredRate), fmtCount(res.LatencyUS.P50), fmtCount(res.LatencyUS.P99), fmtFloat(res.BrokerCPUUSPerMsg), res.Lost)
	}
	if res.Failure != "" {
		s += " — loadgen FAILURE: " + firstLine(res.Failure)
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil // keep the head; enough to explain a failure
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}

// Machine returns the facts collected by Prepare (nil before it).
func (r *Runner) Machine() *Machine { return r.machine }
