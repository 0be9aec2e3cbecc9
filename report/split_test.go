package report

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/meshready/meshready/benchmarks"
)

func TestSplitTest(t *testing.T) {
	cases := []struct {
		name     string
		weights  map[string]int
		observed map[string]int
		calls    int
		want     benchmarks.Verdict
	}{
		{"90/10 as measured here", map[string]int{"v1": 90, "v2": 10}, map[string]int{"v1": 1780, "v2": 220}, 2000, benchmarks.Pass},
		// 3.2 points off at 50/50: the old ±3 band failed this correct mesh.
		{"50/50 at 2.9 sigma", map[string]int{"v1": 50, "v2": 50}, map[string]int{"v1": 1064, "v2": 936}, 2000, benchmarks.Pass},
		{"50/50 far off", map[string]int{"v1": 50, "v2": 50}, map[string]int{"v1": 1200, "v2": 800}, 2000, benchmarks.Fail},
		{"weights ignored", map[string]int{"v1": 90, "v2": 10}, map[string]int{"v1": 1000, "v2": 1000}, 2000, benchmarks.Fail},
		{"all to v2 exactly", map[string]int{"v1": 0, "v2": 100}, map[string]int{"v2": 2000}, 2000, benchmarks.Pass},
		{"one call leaks from a 0 weight", map[string]int{"v1": 0, "v2": 100}, map[string]int{"v1": 1, "v2": 1999}, 2000, benchmarks.Fail},
		{"failed calls count against the split", map[string]int{"v1": 90, "v2": 10}, map[string]int{"v1": 1600, "v2": 150}, 2000, benchmarks.Fail},
		{"too few calls", map[string]int{"v1": 99, "v2": 1}, map[string]int{"v1": 100}, 100, benchmarks.NotMeasurable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, why := splitTest(&SplitResult{Weights: c.weights, Observed: c.observed, Calls: c.calls})
			if v != c.want {
				t.Errorf("%s (%s), want %s", v, why, c.want)
			}
		})
	}
}

// TestSplitTestFalseFailureRate: a correct mesh (calls drawn with the
// configured weights) fails the test about as rarely as its confidence
// says, over many simulated runs; the old ±3 points band failed 50/50 runs
// of 2000 calls several times as often.
func TestSplitTestFalseFailureRate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const runs = 20000
	fails, oldFails := 0, 0
	for range runs {
		v1 := 0
		for range 2000 {
			if r.IntN(100) < 50 {
				v1++
			}
		}
		sp := &SplitResult{Weights: map[string]int{"v1": 50, "v2": 50}, Observed: map[string]int{"v1": v1, "v2": 2000 - v1}, Calls: 2000}
		if v, _ := splitTest(sp); v == benchmarks.Fail {
			fails++
		}
		if d := float64(v1)/20 - 50; d > 3 || d < -3 {
			oldFails++
		}
	}
	if fails > runs*3/1000 {
		t.Errorf("%d of %d correct runs failed (want about 0.1 %%)", fails, runs)
	}
	if oldFails <= fails {
		t.Errorf("the fixed band failed %d, the test %d: the test should fail fewer correct runs", oldFails, fails)
	}
	if !strings.Contains(func() string {
		_, w := splitTest(&SplitResult{Weights: map[string]int{"a": 50, "b": 50}, Observed: map[string]int{"a": 1000, "b": 1000}, Calls: 2000})
		return w
	}(), "σ") {
		t.Error("the detail does not say the sigmas")
	}
}
