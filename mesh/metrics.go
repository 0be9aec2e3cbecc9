package mesh

import (
	"fmt"
	"math"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ConvergenceMetric is istiod's histogram of the time from a config change
// to a proxy having it (METHODS.md: lowest bucket 0.1 s, includes istiod's
// ≥ 100 ms debounce), summed over its label sets.
const ConvergenceMetric = "pilot_proxy_convergence_time"

// Histogram is a Prometheus histogram: cumulative counts by upper bound.
type Histogram struct {
	// Bounds are the buckets' upper bounds (seconds), ascending, +Inf last;
	// Counts[i] is how many observations were ≤ Bounds[i].
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// ParseHistogram reads the named histogram from Prometheus' text format
// (istiod's /metrics), adding up its series. A missing metric is an
// empty histogram (istiod has pushed nothing yet), not an error.
func ParseHistogram(metrics, name string) (out Histogram, err error) {
	// prometheus/common's text parser (v0.66.1) panics on some malformed
	// input (a line that starts with "{": found by FuzzKubectlJSON, the
	// seed is in testdata/fuzz). What istiod's endpoint sends must not
	// take the plugin down: a panic there is a parse error here.
	defer func() {
		if r := recover(); r != nil {
			out, err = Histogram{}, fmt.Errorf("metrics: not Prometheus text format (the parser failed: %v)", r)
		}
	}()
	p := expfmt.NewTextParser(model.LegacyValidation) // istiod's names are classic ones
	fams, err := p.TextToMetricFamilies(strings.NewReader(metrics))
	if err != nil {
		return Histogram{}, fmt.Errorf("metrics: %w", err)
	}
	fam, ok := fams[name]
	if !ok {
		return Histogram{}, nil
	}
	if fam.GetType() != dto.MetricType_HISTOGRAM {
		return Histogram{}, fmt.Errorf("metrics: %s is a %s, not a histogram", name, fam.GetType())
	}
	byBound := map[float64]uint64{}
	var h Histogram
	for _, m := range fam.GetMetric() {
		hist := m.GetHistogram()
		h.Count += hist.GetSampleCount()
		h.Sum += hist.GetSampleSum()
		for _, b := range hist.GetBucket() {
			byBound[b.GetUpperBound()] += b.GetCumulativeCount()
		}
	}
	byBound[math.Inf(1)] = h.Count // the +Inf bucket is the count, written or not
	for b := range byBound {
		h.Bounds = append(h.Bounds, b)
	}
	sort.Float64s(h.Bounds)
	for _, b := range h.Bounds {
		h.Counts = append(h.Counts, byBound[b])
	}
	return h, nil
}

// Since is what was observed between an earlier read and h (same buckets;
// a counter that went back, an istiod restart, gives an error).
func (h Histogram) Since(before Histogram) (Histogram, error) {
	if before.Count == 0 {
		return h, nil
	}
	if len(before.Bounds) != len(h.Bounds) || before.Count > h.Count {
		return Histogram{}, fmt.Errorf("histogram reset between reads (istiod restarted?)")
	}
	out := Histogram{Bounds: h.Bounds, Count: h.Count - before.Count, Sum: h.Sum - before.Sum}
	for i := range h.Counts {
		if before.Bounds[i] != h.Bounds[i] || before.Counts[i] > h.Counts[i] {
			return Histogram{}, fmt.Errorf("histogram reset between reads (istiod restarted?)")
		}
		out.Counts = append(out.Counts, h.Counts[i]-before.Counts[i])
	}
	return out, nil
}

// UpperBound is the smallest bucket bound that at least q (0..1) of the
// observations lie under: "pXX ≤ bound", all a histogram can say. ok is
// false without observations.
func (h Histogram) UpperBound(q float64) (bound float64, ok bool) {
	if h.Count == 0 {
		return 0, false
	}
	need := uint64(math.Ceil(q * float64(h.Count)))
	for i, c := range h.Counts {
		if c >= need {
			return h.Bounds[i], true
		}
	}
	return math.Inf(1), true
}
