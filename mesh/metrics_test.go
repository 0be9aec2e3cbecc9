package mesh

import (
	"math"
	"os"
	"strings"
	"testing"
)

// istiod's exposition of the histogram, two label sets (as istiod writes
// one per proxy type), plus a gauge of the same prefix.
const convergenceText = `# HELP pilot_proxy_convergence_time Delay in seconds between config change and a proxy receiving all required configuration.
# TYPE pilot_proxy_convergence_time histogram
pilot_proxy_convergence_time_bucket{type="cds",le="0.1"} 30
pilot_proxy_convergence_time_bucket{type="cds",le="0.5"} 38
pilot_proxy_convergence_time_bucket{type="cds",le="1"} 40
pilot_proxy_convergence_time_bucket{type="cds",le="+Inf"} 40
pilot_proxy_convergence_time_sum{type="cds"} 3.5
pilot_proxy_convergence_time_count{type="cds"} 40
pilot_proxy_convergence_time_bucket{type="rds",le="0.1"} 50
pilot_proxy_convergence_time_bucket{type="rds",le="0.5"} 60
pilot_proxy_convergence_time_bucket{type="rds",le="1"} 60
pilot_proxy_convergence_time_bucket{type="rds",le="+Inf"} 60
pilot_proxy_convergence_time_sum{type="rds"} 2.5
pilot_proxy_convergence_time_count{type="rds"} 60
# HELP pilot_xds_pushes Pilot build and send errors for lds, rds, cds and eds.
# TYPE pilot_xds_pushes counter
pilot_xds_pushes{type="cds"} 12
`

func TestParseHistogram(t *testing.T) {
	h, err := ParseHistogram(convergenceText, ConvergenceMetric)
	if err != nil {
		t.Fatal(err)
	}
	if h.Count != 100 || h.Sum != 6 || len(h.Bounds) != 4 || h.Counts[0] != 80 || h.Counts[1] != 98 || !math.IsInf(h.Bounds[3], 1) {
		t.Fatalf("histogram %+v", h)
	}
	if b, ok := h.UpperBound(0.5); !ok || b != 0.1 {
		t.Errorf("p50 ≤ %v", b)
	}
	if b, ok := h.UpperBound(0.99); !ok || b != 1 {
		t.Errorf("p99 ≤ %v", b)
	}
	before := h
	// Ten more rds pushes, all between 0.5 s and 1 s.
	after, err := ParseHistogram(strings.NewReplacer(`{type="rds",le="1"} 60`, `{type="rds",le="1"} 70`,
		`{type="rds",le="+Inf"} 60`, `{type="rds",le="+Inf"} 70`, `_count{type="rds"} 60`, `_count{type="rds"} 70`).Replace(convergenceText), ConvergenceMetric)
	if err != nil {
		t.Fatal(err)
	}
	d, err := after.Since(before)
	if b, ok := d.UpperBound(0.5); err != nil || d.Count != 10 || d.Counts[0] != 0 || d.Counts[2] != 10 || !ok || b != 1 {
		t.Errorf("since: %+v %v, p50 ≤ %v", d, err, b)
	}
	if _, err := before.Since(Histogram{Bounds: before.Bounds, Counts: []uint64{90, 99, 100, 200}, Count: 200}); err == nil {
		t.Error("a counter that went back must be an error")
	}
	if h, err := ParseHistogram("# TYPE other counter\nother 1\n", ConvergenceMetric); err != nil || h.Count != 0 {
		t.Errorf("absent metric: %+v %v", h, err)
	}
	if _, ok := (Histogram{}).UpperBound(0.99); ok {
		t.Error("no observations, yet a bound")
	}
	if _, err := ParseHistogram("# TYPE pilot_proxy_convergence_time counter\npilot_proxy_convergence_time 3\n", ConvergenceMetric); err == nil {
		t.Error("a counter is not a histogram")
	}
	if _, err := ParseHistogram("garbage{", ConvergenceMetric); err == nil {
		t.Error("garbage must be an error")
	}
}

// TestParseIstiodMetrics reads istiod's /metrics recorded on the local
// stack after the proxyless convergence runs (istiod 1.31-alpha).
func TestParseIstiodMetrics(t *testing.T) {
	b, err := os.ReadFile("testdata/istiod-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseHistogram(string(b), ConvergenceMetric)
	if err != nil {
		t.Fatal(err)
	}
	if p99, ok := h.UpperBound(0.99); h.Count != 289 || len(h.Bounds) != 9 || !ok || p99 != 0.1 {
		t.Errorf("istiod's convergence histogram %+v, p99 ≤ %v", h, p99)
	}
}
