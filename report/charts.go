package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/meshready/meshready/benchmarks"
)

// chart is an SVG drawing as plain shapes with string attributes. The HTML
// template writes it out, so every label passes through html/template's escaping.
type chart struct {
	W, H  int
	Label string
	Rects []svgRect
	Lines []svgLine // under the data
	Polys []svgPoly
	Over  []svgLine // over the data: limits must stay visible across bars
	Dots  []svgDot
	Texts []svgText
}

type svgRect struct{ X, Y, W, H, Class, Title string }
type svgLine struct{ X1, Y1, X2, Y2, Class string }
type svgPoly struct{ Points, Class string }
type svgDot struct{ X, Y, Class string }
type svgText struct{ X, Y, Anchor, Class, Text string }

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func (c *chart) text(x, y float64, anchor, class, s string) {
	c.Texts = append(c.Texts, svgText{f1(x), f1(y), anchor, class, s})
}

func (c *chart) line(x1, y1, x2, y2 float64, class string) {
	c.Lines = append(c.Lines, svgLine{f1(x1), f1(y1), f1(x2), f1(y2), class})
}

func (c *chart) rect(x, y, w, h float64, class, title string) {
	c.Rects = append(c.Rects, svgRect{f1(x), f1(y), f1(w), f1(h), class, title})
}

// clip shortens free text (error messages, model names) so it cannot run off a chart.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// wrap breaks free text into at most max lines of about n runes, clipping the rest.
func wrap(s string, n, max int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		if cur != "" && len([]rune(cur))+1+len([]rune(w)) > n {
			lines, cur = append(lines, cur), w
			continue
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	if len(lines) > max {
		lines = append(lines[:max-1], clip(strings.Join(lines[max-1:], " "), n))
	}
	for i := range lines {
		lines[i] = clip(lines[i], n)
	}
	return lines
}

// latencyChart draws p50/p99/max per node and test as horizontal bars on a
// log axis: fdatasync and randread differ by orders of magnitude, and a linear
// axis would flatten the sub-millisecond reads to nothing.
func latencyChart(r Report) chart {
	type group struct {
		node, test string
		l          *benchmarks.Latency
		limit      time.Duration
	}
	var gs []group
	lo, hi := math.Inf(1), math.Inf(-1)
	see := func(d time.Duration) {
		if v := float64(d) / 1e6; v > 0 {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	see(r.Thresholds.FdatasyncP99.D())
	see(r.Thresholds.ReadP99.D())
	for _, n := range r.Nodes {
		for _, g := range []group{{n.Node, "fdatasync", n.Disk.Fdatasync, r.Thresholds.FdatasyncP99.D()},
			{n.Node, "randread 4k", n.Disk.RandRead, r.Thresholds.ReadP99.D()}} {
			if g.l != nil && g.l.Samples == 0 {
				g.l = nil
			}
			if g.l != nil {
				see(g.l.P50)
				see(g.l.P99)
				see(g.l.Max)
			}
			gs = append(gs, g)
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0.01, 100
	}
	e0, e1 := math.Max(math.Floor(math.Log10(lo)), -3), math.Ceil(math.Log10(hi))
	if e1 <= e0 {
		e1 = e0 + 1
	}
	const left, right, top, pitch, barH = 170.0, 80.0, 44.0, 46.0, 10.0
	c := chart{W: 1000, Label: "fdatasync and random-read latency per node, log scale"}
	plotW := float64(c.W) - left - right
	x := func(d time.Duration) float64 {
		v := float64(d) / 1e6
		if v <= 0 {
			return left
		}
		p := (math.Log10(v) - e0) / (e1 - e0)
		return left + math.Max(0, math.Min(1, p))*plotW
	}
	bottom := top + pitch*float64(len(gs))
	c.H = int(bottom) + 44
	// legend
	for i, k := range []string{"p50", "p99", "max"} {
		lx := left + float64(i)*80
		c.rect(lx, 12, 14, 12, "bar-"+k, "")
		c.text(lx+20, 22, "start", "lbl", k)
	}
	c.line(left+250, 10, left+250, 26, "limit")
	c.text(left+258, 22, "start", "lbl", "limit for that test (p99 must stay left of it)")
	// decade grid and axis labels
	for e := e0; e <= e1; e++ {
		d := time.Duration(math.Pow(10, e) * 1e6)
		gx := x(d)
		c.line(gx, top-4, gx, bottom, "grid")
		c.text(gx, bottom+16, "middle", "tick", msNum(d))
	}
	c.text(left+plotW/2, bottom+36, "middle", "lbl", "latency in ms (log scale)")
	for i, g := range gs {
		y := top + float64(i)*pitch
		if i%2 == 0 && i > 0 {
			c.line(10, y-4, left+plotW, y-4, "sep")
		}
		if i%2 == 0 {
			c.text(left-12, y+14, "end", "node", clip(g.node, 22))
		}
		c.text(left-12, y+30, "end", "lbl", g.test)
		if g.l == nil {
			c.text(left+8, y+22, "start", "missing", "not measured")
			continue
		}
		for j, p := range []struct {
			k string
			d time.Duration
		}{{"p50", g.l.P50}, {"p99", g.l.P99}, {"max", g.l.Max}} {
			by := y + float64(j)*(barH+2)
			w := math.Max(1, x(p.d)-left)
			c.rect(left, by, w, barH, "bar-"+p.k, fmt.Sprintf("%s %s %s: %s", g.node, g.test, p.k, ms(p.d)))
			c.text(left+w+4, by+barH-1, "start", "val", msNum(p.d))
		}
		if g.limit > 0 {
			lx := f1(x(g.limit))
			c.Over = append(c.Over, svgLine{lx, f1(y - 2), lx, f1(y + 3*(barH+2) + 2), "limit"})
		}
	}
	return c
}

// niceStep picks a round axis step giving at most n ticks up to max.
func niceStep(max float64, n int) float64 {
	for _, s := range []float64{0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50} {
		if max/s <= float64(n) {
			return s
		}
	}
	return 100
}

// stealChart draws one node's aggregate steal % per second, idle against
// loaded: steal only shows when the guest wants CPU, so the two must be seen
// together. An unmeasurable node gets a message, never a flat zero line.
func stealChart(n benchmarks.NodeResult, meanLimit, maxLimit float64) chart {
	const left, right, top, bottom = 60.0, 170.0, 34.0, 34.0
	c := chart{W: 1000, H: 200, Label: "CPU steal over time on " + n.Node}
	plotW, plotH := float64(c.W)-left-right, float64(c.H)-top-bottom
	c.text(left, 16, "start", "node", clip(n.Node, 40)+": steal % per 1 s interval, all CPUs")
	c.rect(left, top, plotW, plotH, "frame", "")
	if !n.Steal.Measurable {
		lines := wrap("NOT MEASURABLE: "+dash(n.Steal.Evidence), 90, 3)
		for i, l := range lines {
			c.text(left+plotW/2, top+plotH/2+4+float64(i-len(lines)/2)*18, "middle", "missing", l)
		}
		return c
	}
	idle, loaded := n.Steal.Idle.Series, n.Steal.Loaded.Series
	if len(idle)+len(loaded) == 0 {
		c.text(left+plotW/2, top+plotH/2, "middle", "missing", "no steal samples were recorded")
		return c
	}
	xmax, ymax := 1.0, maxLimit*1.2
	for _, p := range append(append([]benchmarks.StealPoint{}, idle...), loaded...) {
		xmax, ymax = math.Max(xmax, p.Second), math.Max(ymax, p.Percent*1.1)
	}
	step := niceStep(ymax, 5)
	ymax = math.Ceil(ymax/step-1e-9) * step
	xp := func(s float64) float64 { return left + s/xmax*plotW }
	yp := func(v float64) float64 { return top + plotH - v/ymax*plotH }
	for v := 0.0; v <= ymax+1e-9; v += step {
		c.line(left, yp(v), left+plotW, yp(v), "grid")
		c.text(left-6, yp(v)+4, "end", "tick", trimZeros(strconv.FormatFloat(v, 'f', 2, 64))+" %")
	}
	xs := niceStep(xmax, 10)
	if xmax > 100 {
		xs = math.Ceil(xmax/10/10) * 10
	}
	for s := 0.0; s <= xmax+1e-9; s += xs {
		c.text(xp(s), top+plotH+16, "middle", "tick", trimZeros(strconv.FormatFloat(s, 'f', 1, 64)))
	}
	c.text(left+plotW/2, top+plotH+30, "middle", "lbl", "seconds since the phase began")
	for _, l := range []struct {
		v    float64
		name string
	}{{meanLimit, "mean limit "}, {maxLimit, "per-CPU max limit "}} {
		c.line(left, yp(l.v), left+plotW, yp(l.v), "limit")
		c.text(left+plotW+6, yp(l.v)+4, "start", "lbl", l.name+pct(l.v, 1))
	}
	for _, s := range []struct {
		pts   []benchmarks.StealPoint
		class string
	}{{idle, "idle"}, {loaded, "loaded"}} {
		var pts []string
		for _, p := range s.pts {
			pts = append(pts, f1(xp(p.Second))+","+f1(yp(p.Percent)))
			if len(s.pts) <= 2 {
				c.Dots = append(c.Dots, svgDot{f1(xp(p.Second)), f1(yp(p.Percent)), "dot-" + s.class})
			}
		}
		if len(pts) > 1 {
			c.Polys = append(c.Polys, svgPoly{strings.Join(pts, " "), "s-" + s.class})
		}
	}
	c.line(left+plotW+10, 12, left+plotW+36, 12, "s-idle")
	c.text(left+plotW+42, 16, "start", "lbl", "idle")
	c.line(left+plotW+80, 12, left+plotW+106, 12, "s-loaded")
	c.text(left+plotW+112, 16, "start", "lbl", "loaded")
	return c
}
