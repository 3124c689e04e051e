// Command run is Tsubame's benchmark matrix runner: `go run ./bench/run`.
//
// It owns the benchmark procedure and the generated parts of BENCHMARKS.md
// and bench/charts/: it builds tsubame, the ceiling relay, the mochi peer and
// loadgen into a temporary directory, installs Debian's mosquitto when it is
// missing, runs every scenario of Matrix against every broker (interleaved:
// for each repetition, for each scenario, for each broker, so machine noise
// hits all brokers alike), each broker started fresh on its own ports and
// stopped after its run, and rewrites the tables between the bench markers of
// BENCHMARKS.md with medians, Tsubame as % of the ceiling and Tsubame against
// the best peer. It must not tune any broker beyond its checked-in config.
//
// Flags: -reps N, -quick (1 rep, 3 s runs, report not written to
// BENCHMARKS.md unless -out is given), -only scenario[,..], -brokers list,
// -profile (CPU and heap profiles of tsubame for fanout and p2p into
// profiles/), -loadgen PATH (use this loadgen binary), -from FILE (rebuild
// the report from a raw results file without running anything).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options are the command-line settings of one invocation.
type Options struct {
	Root     string // repository root
	Reps     int
	Duration time.Duration
	Warmup   time.Duration
	Only     []string
	Brokers  []string
	Profile  bool
	Loadgen  string
	Out      string // BENCHMARKS.md to rewrite; "" = a temporary copy
	Charts   string // directory for the SVG charts
	Raw      string // raw results file (JSON lines)
	P2PRate  float64
	From     string
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/run:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	o := Options{}
	var only, brokers string
	var quick bool
	fs.IntVar(&o.Reps, "reps", 3, "repetitions of the whole matrix; tables show medians")
	fs.BoolVar(&quick, "quick", false, "smoke run: 1 rep of 3 s runs; BENCHMARKS.md is left alone unless -out is given")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time per run (loadgen -duration)")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "warm-up per run (loadgen -warmup)")
	fs.StringVar(&only, "only", "", "comma-separated scenario ids to run (default all): "+scenarioIDs())
	fs.StringVar(&brokers, "brokers", strings.Join(Brokers, ","), "comma-separated brokers to run")
	fs.BoolVar(&o.Profile, "profile", false, "start tsubame with -pprof 127.0.0.1:6060 and save CPU and heap profiles of fanout and p2p-qos1 into profiles/")
	fs.StringVar(&o.Loadgen, "loadgen", "", "loadgen binary to use instead of building ./bench/loadgen")
	fs.StringVar(&o.Out, "out", "", "markdown file to rewrite between the markers (default BENCHMARKS.md; with -quick a temporary copy)")
	fs.StringVar(&o.Charts, "charts", "", "directory for SVG charts (default bench/charts next to the -out file)")
	fs.StringVar(&o.Raw, "raw", "", "write raw results (one JSON object per run) to this file (default in the temp dir)")
	fs.Float64Var(&o.P2PRate, "p2p-rate", 0, "per-publisher rate for p2p-qos1; 0 = half of mosquitto's max measured first")
	fs.StringVar(&o.From, "from", "", "rebuild the report from this raw results file; runs nothing")
	fs.StringVar(&o.Root, "root", "", "repository root (default: found from the working directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.Root == "" {
		root, err := findRoot()
		if err != nil {
			return err
		}
		o.Root = root
	}
	explicitOut := o.Out != ""
	if !explicitOut {
		o.Out = filepath.Join(o.Root, "BENCHMARKS.md")
	}
	if quick {
		o.Reps, o.Duration, o.Warmup = 1, 3*time.Second, time.Second
	}
	if o.Reps < 1 {
		return fmt.Errorf("-reps %d: need at least 1", o.Reps)
	}
	if only != "" {
		for _, id := range strings.Split(only, ",") {
			if _, ok := scenarioByID(strings.TrimSpace(id)); !ok {
				return fmt.Errorf("-only: unknown scenario %q; known: %s", id, scenarioIDs())
			}
			o.Only = append(o.Only, strings.TrimSpace(id))
		}
	}
	for _, b := range strings.Split(brokers, ",") {
		b = strings.TrimSpace(b)
		if !contains(Brokers, b) {
			return fmt.Errorf("-brokers: unknown broker %q; known: %s", b, strings.Join(Brokers, ","))
		}
		o.Brokers = append(o.Brokers, b)
	}

	log := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	if o.From != "" {
		recs, err := ReadRecords(o.From)
		if err != nil {
			return err
		}
		return writeReport(o, recs, nil, log)
	}

	tmp, err := os.MkdirTemp("", "tsubame-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if o.Raw == "" {
		// Outside tmp, so the measurements survive a report that fails.
		o.Raw = filepath.Join(os.TempDir(), "tsubame-bench-"+time.Now().UTC().Format("20060102-150405")+".jsonl")
	}
	if quick && !explicitOut {
		o.Out = filepath.Join(os.TempDir(), "tsubame-BENCHMARKS.quick.md")
		if err := copyFile(filepath.Join(o.Root, "BENCHMARKS.md"), o.Out); err != nil {
			return err
		}
		if o.Charts == "" {
			o.Charts = filepath.Join(os.TempDir(), "tsubame-bench-charts")
		}
	}
	// Fail now, not after an hour of runs, if the report cannot be written.
	if doc, err := os.ReadFile(o.Out); err != nil {
		return fmt.Errorf("read %s: %w", o.Out, err)
	} else if _, err := ReplaceBetween(string(doc), BenchBegin, BenchEnd, ""); err != nil {
		return fmt.Errorf("%s: %w", o.Out, err)
	}
	raiseFileLimit(log)

	r := &Runner{Opt: o, Bin: tmp, Log: log}
	if err := r.Prepare(context.Background()); err != nil {
		return err
	}
	recs, err := r.RunMatrix(context.Background())
	if err != nil {
		return err
	}
	log("raw results: %s", o.Raw)
	return writeReport(o, recs, r.Machine(), log)
}

func scenarioIDs() string {
	ids := make([]string, len(Matrix))
	for i, s := range Matrix {
		ids[i] = s.ID
	}
	return strings.Join(ids, ",")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/tsubame-mq/tsubame\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root not found (no go.mod of github.com/tsubame-mq/tsubame above the working directory); pass -root")
		}
		dir = parent
	}
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// raiseFileLimit lifts the soft open-files limit to the hard one; brokers and
// loadgen inherit it (Go stops restoring the original limit for children once
// the program sets it itself), and the 19000-connection row needs it.
func raiseFileLimit(log func(string, ...any)) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log("warning: cannot raise the open-files limit: %v", err)
	}
	log("open-files limit: %d", lim.Cur)
}

// ReadRecords reads a raw results file.
func ReadRecords(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var recs []Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		recs = append(recs, r)
	}
	return recs, sc.Err()
}

// writeReport rewrites the markdown between the markers and the charts.
func writeReport(o Options, recs []Record, machine *Machine, log func(string, ...any)) error {
	reps := 0
	for _, r := range recs {
		reps = max(reps, r.Rep)
	}
	brokers := o.Brokers
	sum := Summarize(recs, brokers)
	doc, err := os.ReadFile(o.Out)
	if err != nil {
		return fmt.Errorf("read %s: %w", o.Out, err)
	}
	text, err := ReplaceBetween(string(doc), BenchBegin, BenchEnd, Tables(sum, recs, brokers, reps))
	if err != nil {
		return fmt.Errorf("%s: %w", o.Out, err)
	}
	if machine != nil {
		if text, err = ReplaceBetween(text, MachineBegin, MachineEnd, machine.Markdown()); err != nil {
			return fmt.Errorf("%s: %w", o.Out, err)
		}
	}
	if err := os.WriteFile(o.Out, []byte(text), 0o644); err != nil {
		return err
	}
	charts := o.Charts
	if charts == "" {
		charts = filepath.Join(filepath.Dir(o.Out), "bench", "charts")
	}
	if err := os.MkdirAll(charts, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(charts, "throughput.svg"), []byte(ThroughputChart(sum, brokers).SVG()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(charts, "latency.svg"), []byte(LatencyChart(recs, brokers).SVG()), 0o644); err != nil {
		return err
	}
	log("wrote %s and %s/{throughput,latency}.svg", o.Out, charts)
	return nil
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitListening polls until addr accepts connections, the process exits or
// the timeout passes.
func waitListening(addr string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before listening on %s", addr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after %s: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fetch saves an HTTP response body to a file.
func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func secondsArg(d time.Duration) string {
	return strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second)))
}
