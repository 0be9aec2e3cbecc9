package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/config"
)

// History is a region's benchmark runs over time: each node's figure for
// each hardware claim, run after run, and the nodes that got worse.
type History struct {
	// Runs are the runs' times, oldest first.
	Runs   []time.Time     `json:"runs"`
	Series []HistorySeries `json:"series"`
	// Worse says, one sentence each, which node got worse on which figure.
	Worse []string `json:"worse,omitempty"`
}

// HistorySeries is one node's figure over the runs.
type HistorySeries struct {
	Figure string `json:"figure"`
	Node   string `json:"node"`
	// Values has one entry per run (History.Runs); nil where the run did
	// not measure it (the node did not exist, or it was not measurable).
	Values []*float64 `json:"values"`
	// Worse is set when the last value got worse (History.Worse says how).
	Worse bool `json:"worse,omitempty"`
}

// historyFigure is a claim's figure as history tracks it.
type historyFigure struct {
	name, unit string
	get        func(benchmarks.NodeResult) (float64, bool)
	limit      func(config.Thresholds) float64
	// floor is the least rise that counts as worse, against noise on
	// figures near zero (0.1 ms of latency, 1 point of steal).
	floor float64
}

var historyFigures = []historyFigure{
	{name: "etcd WAL fdatasync p99", unit: "ms", floor: 0.1,
		get: func(n benchmarks.NodeResult) (float64, bool) {
			if l := n.Disk.Fdatasync; l != nil && l.Samples > 0 {
				return msOf(l.P99), true
			}
			return 0, false
		},
		limit: func(th config.Thresholds) float64 { return msOf(th.FdatasyncP99.D()) }},
	{name: "4k random read p99", unit: "ms", floor: 0.1,
		get: func(n benchmarks.NodeResult) (float64, bool) {
			if l := n.Disk.RandRead; l != nil && l.Samples > 0 {
				return msOf(l.P99), true
			}
			return 0, false
		},
		limit: func(th config.Thresholds) float64 { return msOf(th.ReadP99.D()) }},
	{name: "CPU steal under load, mean", unit: "%", floor: 1,
		get: func(n benchmarks.NodeResult) (float64, bool) {
			if n.Steal.Measurable && n.Steal.Loaded.Stats.Samples > 0 {
				return n.Steal.Loaded.Stats.MeanPercent, true
			}
			return 0, false
		},
		limit: func(th config.Thresholds) float64 { return th.StealMeanPercent }},
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WorseFactor is how many times its median over the earlier runs a node's
// last figure must be (and at least the figure's floor above it) to count
// as worse; a claim's verdict that dropped since the run before counts too.
const WorseFactor = 1.5

// BuildHistory lays out runs (any order; each a bench report) as History.
// Nil with fewer than two runs: there is no history to show yet.
func BuildHistory(runs []Report) *History {
	if len(runs) < 2 {
		return nil
	}
	runs = slices.Clone(runs)
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Generated.Before(runs[j].Generated) })
	h := &History{}
	nodes := map[string]bool{}
	for _, r := range runs {
		h.Runs = append(h.Runs, r.Generated.UTC())
		for _, n := range r.Nodes {
			nodes[n.Node] = true
		}
	}
	names := make([]string, 0, len(nodes))
	for n := range nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, f := range historyFigures {
		for _, node := range names {
			s := HistorySeries{Figure: f.name, Node: node, Values: make([]*float64, len(runs))}
			any := false
			for i, r := range runs {
				for _, n := range r.Nodes {
					if v, ok := f.get(n); ok && n.Node == node {
						s.Values[i], any = &v, true
					}
				}
			}
			if !any {
				continue
			}
			if why := worse(f, s.Values); why != "" {
				s.Worse = true
				h.Worse = append(h.Worse, node+": "+why)
			}
			h.Series = append(h.Series, s)
		}
	}
	last, prev := runs[len(runs)-1], runs[len(runs)-2]
	for _, c := range last.Claims {
		if c.Node == "" {
			continue
		}
		for _, p := range prev.Claims {
			if p.ID == c.ID && p.Node == c.Node && verdictRank(c.Verdict) > verdictRank(p.Verdict) {
				h.Worse = append(h.Worse, fmt.Sprintf("%s: %s went from %s to %s since the run before", c.Node, c.ID, p.Verdict, c.Verdict))
			}
		}
	}
	return h
}

// worse says how the last value got worse than the median of the earlier
// ones, or "" when it did not (or either is missing).
func worse(f historyFigure, values []*float64) string {
	last := values[len(values)-1]
	var earlier []float64
	for _, v := range values[:len(values)-1] {
		if v != nil {
			earlier = append(earlier, *v)
		}
	}
	if last == nil || len(earlier) == 0 {
		return ""
	}
	slices.Sort(earlier)
	med := earlier[len(earlier)/2]
	if len(earlier)%2 == 0 {
		med = (earlier[len(earlier)/2-1] + earlier[len(earlier)/2]) / 2
	}
	if *last <= med*WorseFactor || *last-med < f.floor {
		return ""
	}
	return fmt.Sprintf("%s %s %s, %s× its median of %d earlier run(s), %s %s", f.name, num(*last), f.unit,
		strconv.FormatFloat(math.Round(*last/math.Max(med, 1e-9)*10)/10, 'f', -1, 64), len(earlier), num(med), f.unit)
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// verdictRank orders verdicts from best to worst; NOT MEASURABLE is not
// ranked (a figure that could not be measured did not get worse).
func verdictRank(v benchmarks.Verdict) int {
	switch v {
	case benchmarks.Pass:
		return 0
	case benchmarks.Warn:
		return 1
	case benchmarks.Fail:
		return 2
	}
	return -1
}

// historyChart draws one figure for every node over the runs, with the
// report's limit for it.
func historyChart(h *History, f historyFigure, th config.Thresholds) chart {
	const left, right, top, bottom = 60.0, 170.0, 34.0, 40.0
	c := chart{W: 1000, H: 220, Label: f.name + " over the runs"}
	plotW, plotH := float64(c.W)-left-right, float64(c.H)-top-bottom
	c.text(left, 16, "start", "node", f.name+" ("+f.unit+") per run, per node")
	c.rect(left, top, plotW, plotH, "frame", "")
	limit := f.limit(th)
	ymax := limit * 1.2
	var series []HistorySeries
	for _, s := range h.Series {
		if s.Figure != f.name {
			continue
		}
		series = append(series, s)
		for _, v := range s.Values {
			if v != nil {
				ymax = math.Max(ymax, *v*1.1)
			}
		}
	}
	if ymax <= 0 {
		ymax = 1
	}
	step := niceStep(ymax, 5)
	ymax = math.Ceil(ymax/step-1e-9) * step
	n := len(h.Runs)
	xp := func(i int) float64 { return left + (float64(i)+0.5)/float64(n)*plotW }
	yp := func(v float64) float64 { return top + plotH - v/ymax*plotH }
	for v := 0.0; v <= ymax+1e-9; v += step {
		c.line(left, yp(v), left+plotW, yp(v), "grid")
		c.text(left-6, yp(v)+4, "end", "tick", trimZeros(strconv.FormatFloat(v, 'f', 2, 64))+" "+f.unit)
	}
	every := max(1, n/8)
	for i, t := range h.Runs {
		if i%every == 0 || i == n-1 {
			c.text(xp(i), top+plotH+16, "middle", "tick", t.Format("01-02 15:04"))
		}
	}
	c.text(left+plotW/2, top+plotH+32, "middle", "lbl", "run (UTC)")
	c.Over = append(c.Over, svgLine{f1(left), f1(yp(limit)), f1(left + plotW), f1(yp(limit)), "limit"})
	c.text(left+plotW+6, yp(limit)+4, "start", "lbl", "limit "+trimZeros(strconv.FormatFloat(limit, 'f', 2, 64))+" "+f.unit)
	for k, s := range series {
		class := "s-loaded"
		if s.Worse {
			class = "s-worse"
		}
		var pts []string
		for i, v := range s.Values {
			if v == nil {
				continue
			}
			pts = append(pts, f1(xp(i))+","+f1(yp(*v)))
			c.Dots = append(c.Dots, svgDot{f1(xp(i)), f1(yp(*v)), "dot-loaded"})
		}
		if len(pts) > 1 {
			c.Polys = append(c.Polys, svgPoly{strings.Join(pts, " "), class})
		}
		if k < 8 {
			label := clip(s.Node, 20)
			if s.Worse {
				label += " (worse)"
			}
			c.text(left+plotW+6, top+14+float64(k)*14, "start", "lbl", label)
		}
	}
	return c
}

// historyRows are the table of every series: node, figure, each run's
// value ("–" where none), and whether it got worse.
func historyRows(h *History) [][]string {
	var rows [][]string
	for _, s := range h.Series {
		unit := ""
		for _, f := range historyFigures {
			if f.name == s.Figure {
				unit = f.unit
			}
		}
		vals := make([]string, len(s.Values))
		for i, v := range s.Values {
			vals[i] = "–"
			if v != nil {
				vals[i] = num(*v)
			}
		}
		flag := ""
		if s.Worse {
			flag = "WORSE"
		}
		rows = append(rows, []string{s.Node, s.Figure + " (" + unit + ")", strings.Join(vals, " → "), flag})
	}
	return rows
}

var historyHeader = []string{"Node", "Figure", "Runs, oldest first", "Last run"}
