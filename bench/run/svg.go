package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// BarChart is a grouped bar chart on a log10 value axis: one group per
// category, one bar per series. NaN or non-positive values draw no bar.
type BarChart struct {
	Title  string
	YLabel string
	Groups []string
	Series []string
	Values [][]float64 // [group][series]
}

var seriesColor = map[string]string{
	"tsubame":   "#d62728",
	"mosquitto": "#1f77b4",
	"mochi":     "#2ca02c",
	"ceiling":   "#7f7f7f",
}

func colorOf(name string, i int) string {
	if c, ok := seriesColor[name]; ok {
		return c
	}
	palette := []string{"#9467bd", "#8c564b", "#e377c2", "#17becf"}
	return palette[i%len(palette)]
}

// SVG renders the chart as a standalone SVG document. Output is
// deterministic for given input (golden-tested).
func (c BarChart) SVG() string {
	const (
		left, right, top, bottom = 80.0, 20.0, 60.0, 70.0
		barW, groupGap           = 22.0, 34.0
		plotH                    = 260.0
	)
	nS := len(c.Series)
	groupW := float64(nS)*barW + groupGap
	width := left + right + math.Max(float64(len(c.Groups))*groupW, 200)
	height := top + plotH + bottom

	lo, hi := math.Inf(1), math.Inf(-1)
	for _, g := range c.Values {
		for _, v := range g {
			if v > 0 && !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 10
	}
	dLo, dHi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dHi <= dLo {
		dHi = dLo + 1
	}
	y := func(v float64) float64 {
		return top + plotH - plotH*(math.Log10(v)-dLo)/(dHi-dLo)
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.1f" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(c.Title))
	fmt.Fprintf(&b, `<text x="16" y="%.1f" transform="rotate(-90 16 %.1f)" text-anchor="middle">%s (log scale)</text>`+"\n", top+plotH/2, top+plotH/2, html.EscapeString(c.YLabel))
	for d := dLo; d <= dHi; d++ {
		v := math.Pow(10, d)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#dddddd"/>`+"\n", left, y(v), width-right, y(v))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(v)+4, fmtCount(v))
	}
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`+"\n", left, top+plotH, width-right, top+plotH)
	for gi, g := range c.Groups {
		gx := left + groupGap/2 + float64(gi)*groupW
		for si := range c.Series {
			if gi >= len(c.Values) || si >= len(c.Values[gi]) {
				continue
			}
			v := c.Values[gi][si]
			x := gx + float64(si)*barW
			if !(v > 0) || math.IsNaN(v) {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#999999">–</text>`+"\n", x+barW/2, top+plotH-4)
				continue
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`+"\n",
				x+1, y(v), barW-2, top+plotH-y(v), colorOf(c.Series[si], si), html.EscapeString(c.Series[si]), html.EscapeString(g), fmtCount(v))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="9">%s</text>`+"\n", x+barW/2, y(v)-3, fmtCount(v))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", gx+float64(nS)*barW/2, top+plotH+18, html.EscapeString(g))
	}
	for si, s := range c.Series {
		lx := left + float64(si)*100
		ly := top + plotH + 44
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`+"\n", lx, ly, colorOf(s, si))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", lx+16, ly+10, html.EscapeString(s))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// ThroughputChart plots delivered msg/s medians per scenario and broker.
func ThroughputChart(sum *Summary, brokers []string) BarChart {
	c := BarChart{Title: "Delivered messages per second (median)", YLabel: "msg/s", Series: brokers}
	for _, sc := range Matrix {
		cells := sum.Cells[sc.ID][deliveredRate.Name]
		if cells == nil {
			continue
		}
		row := make([]float64, len(brokers))
		for i, br := range brokers {
			row[i] = math.NaN()
			if cells[br].has() {
				row[i] = cells[br].Median
			}
		}
		c.Groups = append(c.Groups, sc.ID)
		c.Values = append(c.Values, row)
	}
	return c
}

// LatencyChart plots the p2p QoS 1 fixed-rate latency percentiles per broker,
// each the median over runs. The ceiling does not take QoS 1 and is left out.
func LatencyChart(recs []Record, all []string) BarChart {
	var brokers []string
	for _, b := range all {
		if b != ceiling {
			brokers = append(brokers, b)
		}
	}
	c := BarChart{Title: "p2p QoS 1 at a fixed rate: latency percentiles (median of runs)", YLabel: "µs", Series: brokers}
	pcts := []struct {
		name string
		get  func(*Result) float64
	}{
		{"p50", func(r *Result) float64 { return r.LatencyUS.P50 }},
		{"p90", func(r *Result) float64 { return r.LatencyUS.P90 }},
		{"p99", func(r *Result) float64 { return r.LatencyUS.P99 }},
		{"p99.9", func(r *Result) float64 { return r.LatencyUS.P999 }},
		{"max", func(r *Result) float64 { return r.LatencyUS.Max }},
	}
	for _, p := range pcts {
		row := make([]float64, len(brokers))
		for i, br := range brokers {
			var vs []float64
			for _, r := range recs {
				if r.Scenario == "p2p-qos1" && r.Broker == br && r.OK() {
					vs = append(vs, p.get(r.Result))
				}
			}
			row[i] = Median(vs)
		}
		c.Groups = append(c.Groups, p.name)
		c.Values = append(c.Values, row)
	}
	return c
}
