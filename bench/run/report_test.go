package main

import (
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

func TestMedian(t *testing.T) {
	cases := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{10, 10, 1000}, 10}, // an outlier does not move it
	}
	for _, c := range cases {
		in := append([]float64(nil), c.in...)
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", in, got, c.want)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Errorf("Median reordered its input %v", c.in)
			}
		}
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
}

func TestPctOfCeiling(t *testing.T) {
	cases := []struct {
		name   string
		t, c   float64
		higher bool
		want   float64
		ok     bool
	}{
		{"throughput half of ceiling", 50, 100, true, 50, true},
		{"cpu per msg twice the ceiling's", 2, 1, false, 50, true},
		{"better than ceiling", 120, 100, true, 120, true},
		{"missing tsubame", 0, 100, true, 0, false},
		{"missing ceiling", 10, math.NaN(), true, 0, false},
	}
	for _, c := range cases {
		got, ok := PctOfCeiling(c.t, c.c, c.higher)
		if ok != c.ok || (ok && math.Abs(got-c.want) > 1e-9) {
			t.Errorf("%s: PctOfCeiling = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestRatio(t *testing.T) {
	cases := []struct {
		t, best float64
		higher  bool
		want    string
	}{
		{200, 100, true, "×2.00 better"},
		{50, 100, true, "×2.00 worse"},
		{50, 100, false, "×2.00 better"}, // half the latency
		{300, 100, false, "×3.00 worse"},
		{100, 100, true, "×1.00 (equal)"},
		{0, 100, true, "–"},
	}
	for _, c := range cases {
		if got := Ratio(c.t, c.best, c.higher); got != c.want {
			t.Errorf("Ratio(%v, %v, %v) = %q, want %q", c.t, c.best, c.higher, got, c.want)
		}
	}
}

func TestBestPeerIgnoresSubjectAndCeiling(t *testing.T) {
	cells := map[string]*Cell{
		"tsubame":   {Median: 900, N: 3},
		"mosquitto": {Median: 40, N: 3},
		"mochi":     {Median: 60, N: 3},
		"ceiling":   {Median: 1000, N: 3},
	}
	if name, v, ok := BestPeer(cells, true); !ok || name != "mochi" || v != 60 {
		t.Errorf("higher is better: got %s %v %v, want mochi 60", name, v, ok)
	}
	if name, v, ok := BestPeer(cells, false); !ok || name != "mosquitto" || v != 40 {
		t.Errorf("lower is better: got %s %v %v, want mosquitto 40", name, v, ok)
	}
	cells["mochi"] = &Cell{N: 0, Failed: 3}
	if name, _, _ := BestPeer(cells, true); name != "mosquitto" {
		t.Errorf("a peer whose runs all failed was picked: %s", name)
	}
}

func loadGoldenRecords(t *testing.T) []Record {
	t.Helper()
	recs, err := ReadRecords(filepath.Join("testdata", "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestSummarizeMediansAndFailures(t *testing.T) {
	sum := Summarize(loadGoldenRecords(t), Brokers)
	c := sum.Cells["fanout"]["delivered msg/s"]["tsubame"]
	if c.N != 3 || c.Median != 4e6 || c.Min != 3.88e6 || c.Max != 4.16e6 {
		t.Errorf("fanout tsubame: %+v", c)
	}
	if c := sum.Cells["fanin"]["delivered msg/s"]["mochi"]; c.N != 3 || c.Flagged != 1 || c.Failed != 0 {
		t.Errorf("a run loadgen flagged still measured: it counts and is flagged: %+v", c)
	}
	if c := sum.Cells["p2p-qos2"]["delivered msg/s"]["mochi"]; c.N != 2 || c.Failed != 1 {
		t.Errorf("a run without a result is excluded and counted as failed: %+v", c)
	}
	if c := sum.Cells["fanin"]["delivered msg/s"]["ceiling"]; c == nil || !c.NA {
		t.Errorf("the ceiling must be n/a for QoS 1 rows: %+v", c)
	}
	if c := sum.Cells["fanout-ws"]["delivered msg/s"]["mosquitto"]; c.N != 0 || c.Failed != 3 {
		t.Errorf("all-failed cell: %+v", c)
	}
	if sum.Rate != 12.5 {
		t.Errorf("p2p rate = %v, want 12.5", sum.Rate)
	}
	if _, ok := sum.Cells["conn19k"]; ok {
		t.Error("a scenario that was not run got cells")
	}
}

func TestTablesGolden(t *testing.T) {
	golden(t, "tables.golden.md", Tables(Summarize(loadGoldenRecords(t), Brokers), loadGoldenRecords(t), Brokers, 3))
}

func TestChartsGolden(t *testing.T) {
	recs := loadGoldenRecords(t)
	sum := Summarize(recs, Brokers)
	tp := ThroughputChart(sum, Brokers).SVG()
	lat := LatencyChart(recs, Brokers).SVG()
	for name, svg := range map[string]string{"throughput": tp, "latency": lat} {
		if !strings.HasPrefix(svg, "<svg ") || !strings.HasSuffix(svg, "</svg>\n") {
			t.Errorf("%s: not an SVG document", name)
		}
		if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
			t.Errorf("%s: NaN or Inf leaked into coordinates", name)
		}
	}
	golden(t, "throughput.golden.svg", tp)
	golden(t, "latency.golden.svg", lat)
}

func TestChartWithoutData(t *testing.T) {
	svg := BarChart{Title: "empty", Series: []string{"a"}, Groups: []string{"g"}, Values: [][]float64{{math.NaN()}}}.SVG()
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "<title>") {
		t.Errorf("empty chart drew a bar or NaN:\n%s", svg)
	}
}

func TestReplaceBetween(t *testing.T) {
	got, err := ReplaceBetween("a\n<!-- bench:begin -->\nold\n<!-- bench:end -->\nb\n", BenchBegin, BenchEnd, "\nnew\n\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\nb\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, doc := range []string{"no markers", BenchEnd + " " + BenchBegin, BenchBegin + " only"} {
		if _, err := ReplaceBetween(doc, BenchBegin, BenchEnd, "x"); !errors.Is(err, ErrMarkers) {
			t.Errorf("%q: err = %v, want ErrMarkers", doc, err)
		}
	}
}

func TestWriteReportGolden(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "BENCHMARKS.md")
	in, err := os.ReadFile(filepath.Join("testdata", "BENCHMARKS.in.md"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, in, 0o644); err != nil {
		t.Fatal(err)
	}
	m := &Machine{Date: "2026-01-02 03:04 UTC", Commit: "abc1234", CPUs: "2", CPUModel: "Test CPU", Memory: "24 GB",
		Kernel: "6.1.0", Go: "go version go1.26.8 linux/amd64", Mosquitto: "mosquitto version 2.0.11", Mochi: "v2.7.9", Gnet: "v2.9.7"}
	o := Options{Out: out, Charts: filepath.Join(dir, "charts"), Brokers: Brokers}
	if err := writeReport(o, loadGoldenRecords(t), m, func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "BENCHMARKS.golden.md", string(got))
	for _, f := range []string{"throughput.svg", "latency.svg"} {
		if _, err := os.Stat(filepath.Join(dir, "charts", f)); err != nil {
			t.Errorf("chart not written: %v", err)
		}
	}
	// A second rewrite of the rewritten file changes nothing.
	if err := writeReport(o, loadGoldenRecords(t), m, func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(out)
	if string(again) != string(got) {
		t.Error("rewriting is not idempotent")
	}
}

func TestWriteReportWithoutMarkers(t *testing.T) {
	out := filepath.Join(t.TempDir(), "B.md")
	if err := os.WriteFile(out, []byte("# no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := writeReport(Options{Out: out, Charts: t.TempDir(), Brokers: Brokers}, nil, nil, func(string, ...any) {})
	if !errors.Is(err, ErrMarkers) {
		t.Fatalf("err = %v, want ErrMarkers", err)
	}
}

func TestReadRecordsBadLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte("{\"rep\":1}\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRecords(path); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Fatalf("err = %v, want one naming line 2", err)
	}
}

func TestFormat(t *testing.T) {
	cases := map[float64]string{0: "0.00", 7.5: "7.50", 42: "42.0", 789: "789", 45600: "45.6k", 1234567: "1.23M", 12e6: "12.0M"}
	for v, want := range cases {
		if got := fmtCount(v); got != want {
			t.Errorf("fmtCount(%v) = %q, want %q", v, got, want)
		}
	}
	if got := fmtBytes(3072); got != "3.00 KiB" {
		t.Errorf("fmtBytes(3072) = %q", got)
	}
	if got := fmtBytes(600); got != "600 B" {
		t.Errorf("fmtBytes(600) = %q", got)
	}
}
