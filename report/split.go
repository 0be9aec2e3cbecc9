package report

import (
	"fmt"
	"math"
	"sort"

	"github.com/meshready/meshready/benchmarks"
)

// The canary split is judged by a statistical test, not a fixed band
// (METHODS.md): with n calls and weight w, a subset's count is
// Binomial(n, w). A fixed ±3 points rejects a correct 50/50 mesh over 2000
// calls about 0.7 % of the time; this test at 99.9 % rejects it 0.1 % of
// the time, whatever the weights and the count.
const (
	// splitConfidence is the two-sided test's confidence, over all subsets
	// together (Bonferroni: each subset is tested at 1 − (1 − c)/m).
	splitConfidence = 0.999
	// splitMinVariance is the least n·w·(1−w) each subset must reach for
	// the normal approximation to hold: below it the run has too few calls
	// to judge.
	splitMinVariance = 10.0
)

// splitTest judges an observed split: PASS when every subset's count lies
// within z·sqrt(n·w·(1−w)) of n·w, NOT MEASURABLE with too few calls.
func splitTest(sp *SplitResult) (benchmarks.Verdict, string) {
	n := float64(sp.Calls)
	names := make([]string, 0, len(sp.Weights))
	for s := range sp.Weights {
		names = append(names, s)
	}
	sort.Strings(names)
	if n <= 0 || len(names) == 0 {
		return benchmarks.NotMeasurable, "no calls were counted"
	}
	z := math.Sqrt2 * math.Erfinv(1-(1-splitConfidence)/float64(len(names)))
	worst, worstName := 0.0, ""
	for _, s := range names {
		w := float64(sp.Weights[s]) / 100
		want, got := n*w, float64(sp.Observed[s])
		v := n * w * (1 - w)
		if w > 0 && w < 1 && v < splitMinVariance {
			return benchmarks.NotMeasurable, fmt.Sprintf("%d calls are too few to judge weight %d%% of %s (want n·w·(1−w) ≥ %g)",
				sp.Calls, sp.Weights[s], s, splitMinVariance)
		}
		// A weight of 0 or 100 has no variance: the count must be exact.
		sigmas := 0.0
		if v > 0 {
			sigmas = math.Abs(got-want) / math.Sqrt(v)
		} else if got != want {
			sigmas = math.Inf(1)
		}
		if sigmas > worst || worstName == "" {
			worst, worstName = sigmas, s
		}
	}
	detail := fmt.Sprintf("worst subset %s at %.2f σ, limit %.2f σ", worstName, worst, z)
	if worst > z {
		return benchmarks.Fail, detail
	}
	return benchmarks.Pass, detail
}
