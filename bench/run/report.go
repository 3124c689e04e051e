package main

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Markers delimit the generated parts of BENCHMARKS.md; the text between
// them is replaced, everything else is left as written.
const (
	BenchBegin   = "<!-- bench:begin -->"
	BenchEnd     = "<!-- bench:end -->"
	MachineBegin = "<!-- machine:begin -->"
	MachineEnd   = "<!-- machine:end -->"
)

// ErrMarkers means BENCHMARKS.md lacks a begin/end marker pair, or has them
// out of order.
var ErrMarkers = errors.New("markers missing or out of order")

// Brokers in table order; the first is the one the ratios are about, the last
// is the ceiling relay, which is not a peer.
var Brokers = []string{"tsubame", "mosquitto", "mochi", "ceiling"}

const subject, ceiling = "tsubame", "ceiling"

// Cell is the aggregate of one metric for one broker in one scenario.
type Cell struct {
	Median, Min, Max float64
	N                int  // runs that measured something
	Failed           int  // runs that measured nothing (broker or loadgen error)
	Flagged          int  // measured runs that loadgen judged failed (loss, duplicates)
	NA               bool // the broker does not take this scenario
}

// Summary holds the cells of every scenario, metric and broker.
type Summary struct {
	Cells map[string]map[string]map[string]*Cell // scenario -> metric -> broker
	Rate  float64                                // p2p-qos1 -rate per publisher, 0 if unknown
}

// Median returns the median of vs (mean of the middle two for even counts);
// NaN for none.
func Median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// Summarize groups records by scenario and broker and takes medians over the
// successful runs. Brokers absent from every record of a scenario get no cell.
func Summarize(recs []Record, brokers []string) *Summary {
	sum := &Summary{Cells: map[string]map[string]map[string]*Cell{}}
	type key struct{ sc, br string }
	ok := map[key][]*Result{}
	failed, flagged := map[key]int{}, map[key]int{}
	seen := map[key]bool{}
	for _, r := range recs {
		k := key{r.Scenario, r.Broker}
		seen[k] = true
		if r.OK() {
			ok[k] = append(ok[k], r.Result)
			if r.Flagged() {
				flagged[k]++
			}
		} else {
			failed[k]++
		}
		if r.Scenario == "p2p-qos1" && r.Rate > 0 {
			sum.Rate = r.Rate
		}
	}
	for _, sc := range Matrix {
		for _, m := range sc.Metrics {
			for _, br := range brokers {
				k := key{sc.ID, br}
				var c *Cell
				switch {
				case br == ceiling && !sc.Ceiling:
					c = &Cell{NA: true}
				case !seen[k]:
					continue
				default:
					c = &Cell{Failed: failed[k], Flagged: flagged[k], N: len(ok[k])}
					vs := make([]float64, 0, len(ok[k]))
					for _, res := range ok[k] {
						vs = append(vs, m.Get(res))
					}
					c.Median = Median(vs)
					if len(vs) > 0 {
						c.Min, c.Max = vs[0], vs[0]
						for _, v := range vs {
							c.Min, c.Max = math.Min(c.Min, v), math.Max(c.Max, v)
						}
					}
				}
				if sum.Cells[sc.ID] == nil {
					sum.Cells[sc.ID] = map[string]map[string]*Cell{}
				}
				if sum.Cells[sc.ID][m.Name] == nil {
					sum.Cells[sc.ID][m.Name] = map[string]*Cell{}
				}
				sum.Cells[sc.ID][m.Name][br] = c
			}
		}
	}
	return sum
}

func (c *Cell) has() bool { return c != nil && !c.NA && c.N > 0 }

func cellText(c *Cell, m Metric) string {
	switch {
	case c == nil:
		return "–"
	case c.NA:
		return "n/a"
	case c.N == 0:
		return "failed"
	}
	s := m.Format(c.Median)
	if c.Failed > 0 {
		s += fmt.Sprintf(" (%d failed)", c.Failed)
	}
	if c.Flagged > 0 {
		s += fmt.Sprintf(" ⚠%d", c.Flagged)
	}
	return s
}

// PctOfCeiling is Tsubame as a percentage of the ceiling: t/c for
// higher-is-better metrics, c/t for lower-is-better ones, so 100% always
// means "as good as the ceiling". ok is false when either value is missing.
func PctOfCeiling(t, c float64, higher bool) (pct float64, ok bool) {
	if t <= 0 || c <= 0 || math.IsNaN(t) || math.IsNaN(c) {
		return 0, false
	}
	if higher {
		return 100 * t / c, true
	}
	return 100 * c / t, true
}

// BestPeer picks the best of the peers (not Tsubame, not the ceiling) that
// have a value; ok is false when none has.
func BestPeer(cells map[string]*Cell, higher bool) (name string, v float64, ok bool) {
	for _, br := range Brokers {
		if br == subject || br == ceiling {
			continue
		}
		c := cells[br]
		if !c.has() {
			continue
		}
		if !ok || (higher && c.Median > v) || (!higher && c.Median < v) {
			name, v, ok = br, c.Median, true
		}
	}
	return
}

// Ratio is Tsubame / best peer, as "×N" with "better" or "worse" spelled out
// so the reader need not remember which direction each metric goes.
func Ratio(t, best float64, higher bool) string {
	if t <= 0 || best <= 0 || math.IsNaN(t) || math.IsNaN(best) {
		return "–"
	}
	r := t / best
	better := (higher && r >= 1) || (!higher && r <= 1)
	f := r
	if f < 1 {
		f = 1 / f
	}
	word := "worse"
	if better {
		word = "better"
	}
	if math.Abs(f-1) < 0.005 {
		return "×1.00 (equal)"
	}
	return fmt.Sprintf("×%.2f %s", f, word)
}

// Flags lists, per scenario and broker, the runs that failed or that loadgen
// flagged, with the first reason given; in matrix and broker order.
func Flags(recs []Record, brokers []string) []string {
	type key struct{ sc, br string }
	count := map[key]int{}
	reason := map[key]string{}
	for _, r := range recs {
		why := r.Error
		if why == "" && r.Flagged() {
			why = r.Result.Failure
		}
		if why == "" {
			continue
		}
		k := key{r.Scenario, r.Broker}
		if count[k] == 0 {
			reason[k] = firstLine(why)
		}
		count[k]++
	}
	var out []string
	for _, sc := range Matrix {
		for _, br := range brokers {
			if n := count[key{sc.ID, br}]; n > 0 {
				out = append(out, fmt.Sprintf("%s · %s: %d run(s): %s", sc.ID, br, n, reason[key{sc.ID, br}]))
			}
		}
	}
	return out
}

// Tables renders the markdown that goes between the bench markers.
func Tables(sum *Summary, recs []Record, brokers []string, reps int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Medians over %d repetition(s). \"n/a\": the broker does not take the row (the ceiling relays QoS 0 over TCP only); \"failed\": no run measured anything; \"⚠N\": N runs that loadgen judged failed (listed below the tables) are in the median; \"–\": not run.\n\n", reps)
	b.WriteString("| scenario | metric | better |")
	for _, br := range brokers {
		fmt.Fprintf(&b, " %s |", br)
	}
	b.WriteString(" Tsubame % of ceiling | Tsubame vs best peer |\n|---|---|---|")
	for range brokers {
		b.WriteString("---:|")
	}
	b.WriteString("---:|---|\n")
	for _, sc := range Matrix {
		ms := sum.Cells[sc.ID]
		if ms == nil {
			continue
		}
		title := sc.Title
		if sc.NeedRate && sum.Rate > 0 {
			title += fmt.Sprintf(" (%s msg/s per publisher)", fmtCount(sum.Rate))
		}
		for _, m := range sc.Metrics {
			cells := ms[m.Name]
			dir := "lower"
			if m.Higher {
				dir = "higher"
			}
			fmt.Fprintf(&b, "| %s | %s | %s |", title, m.Name, dir)
			for _, br := range brokers {
				fmt.Fprintf(&b, " %s |", cellText(cells[br], m))
			}
			pct := "–"
			if c := cells[ceiling]; c != nil && c.NA {
				pct = "n/a"
			} else if cells[subject].has() && c.has() {
				if p, ok := PctOfCeiling(cells[subject].Median, c.Median, m.Higher); ok {
					pct = fmt.Sprintf("%.1f%%", p)
				}
			}
			ratio := "–"
			if name, v, ok := BestPeer(cells, m.Higher); ok && cells[subject].has() {
				ratio = Ratio(cells[subject].Median, v, m.Higher) + " (" + name + ")"
			}
			fmt.Fprintf(&b, " %s | %s |\n", pct, ratio)
		}
	}
	b.WriteString("\nSpread (min–max over successful runs):\n\n| scenario | metric |")
	for _, br := range brokers {
		fmt.Fprintf(&b, " %s |", br)
	}
	b.WriteString("\n|---|---|")
	for range brokers {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, sc := range Matrix {
		ms := sum.Cells[sc.ID]
		if ms == nil {
			continue
		}
		for _, m := range sc.Metrics {
			fmt.Fprintf(&b, "| %s | %s |", sc.ID, m.Name)
			for _, br := range brokers {
				c := ms[m.Name][br]
				if !c.has() {
					b.WriteString(" – |")
					continue
				}
				fmt.Fprintf(&b, " %s–%s (n=%d) |", m.Format(c.Min), m.Format(c.Max), c.N)
			}
			b.WriteString("\n")
		}
	}
	if flags := Flags(recs, brokers); len(flags) > 0 {
		b.WriteString("\nRuns that failed (\"failed\", \"(N failed)\") or that loadgen flagged (⚠), with the first reason:\n\n")
		for _, f := range flags {
			b.WriteString("- " + f + "\n")
		}
	}
	b.WriteString("\n![throughput](bench/charts/throughput.svg)\n\n![latency](bench/charts/latency.svg)\n")
	return b.String()
}

// ReplaceBetween replaces the text between begin and end (markers kept) with
// body, which gets a leading and trailing newline.
func ReplaceBetween(doc, begin, end, body string) (string, error) {
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < 0 || j < i {
		return "", fmt.Errorf("%w: want %q before %q", ErrMarkers, begin, end)
	}
	return doc[:i+len(begin)] + "\n" + strings.TrimSpace(body) + "\n" + doc[j:], nil
}
