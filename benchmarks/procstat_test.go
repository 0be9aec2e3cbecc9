package benchmarks

import (
	"github.com/meshready/meshready/internal/golden"

	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// statSet parses testdata/procstat/<set>-0.txt, -1.txt, ... as samples 1 s apart.
func statSet(t *testing.T, set string, n int) []StatSample {
	t.Helper()
	var out []StatSample
	for i := 0; i < n; i++ {
		b := readTestdata(t, filepath.Join("testdata", "procstat", fmt.Sprintf("%s-%d.txt", set, i)))
		s, err := ParseProcStat(b, t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatalf("%s-%d: %v", set, i, err)
		}
		out = append(out, s)
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestStealStatsGolden(t *testing.T) {
	for _, tc := range []struct {
		set    string
		n      int
		check  func(t *testing.T, ph StealPhase)
		series []StealPoint
	}{
		{"real", 3, func(t *testing.T, ph StealPhase) {
			// 2 vCPUs x 2 intervals, all present.
			if ph.Stats.Samples != 4 || len(ph.Series) != 2 || ph.Series[1].Second != 2 {
				t.Errorf("real: %+v", ph)
			}
			if ph.Stats.MaxPercent < ph.Stats.P95Percent || ph.Stats.P95Percent < 0 || ph.Stats.MaxPercent > 100 {
				t.Errorf("real: stats out of order: %+v", ph.Stats)
			}
		}, nil},
		{"offline", 3, func(t *testing.T, ph StealPhase) {
			// cpu0 10 %, cpu1 5 % in both intervals; cpu2 skipped twice.
			want := StealStats{MeanPercent: 7.5, P95Percent: 10, MaxPercent: 10, Samples: 4}
			if ph.Stats != want {
				t.Errorf("offline stats %+v, want %+v", ph.Stats, want)
			}
		}, []StealPoint{{1, 7.5}, {2, 20.0 / 3}}},
		{"old-kernel", 2, func(t *testing.T, ph StealPhase) {
			want := StealStats{MeanPercent: 15, P95Percent: 15, MaxPercent: 15, Samples: 1}
			if ph.Stats != want {
				t.Errorf("old kernel stats %+v, want %+v", ph.Stats, want)
			}
		}, []StealPoint{{1, 15}}},
		{"backwards", 2, func(t *testing.T, ph StealPhase) {
			// cpu1's steal went backwards: only cpu0 (10 %) counts, and the
			// aggregate went backwards too, so there is no series point.
			want := StealStats{MeanPercent: 10, P95Percent: 10, MaxPercent: 10, Samples: 1}
			if ph.Stats != want {
				t.Errorf("backwards stats %+v, want %+v", ph.Stats, want)
			}
		}, []StealPoint{}},
	} {
		t.Run(tc.set, func(t *testing.T) {
			ph, err := StealStatsFrom(statSet(t, tc.set, tc.n))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, ph)
			if tc.series != nil {
				if len(ph.Series) != len(tc.series) {
					t.Fatalf("series %+v, want %+v", ph.Series, tc.series)
				}
				for i, p := range tc.series {
					if ph.Series[i].Second != p.Second || !near(ph.Series[i].Percent, p.Percent) {
						t.Errorf("series[%d] = %+v, want %+v", i, ph.Series[i], p)
					}
				}
			}
			out, _ := json.MarshalIndent(ph, "", "  ")
			golden.Check(t, filepath.Join("testdata", "procstat", tc.set+".golden.json"), out)
		})
	}
}

func TestParseProcStat(t *testing.T) {
	s, err := ParseProcStat([]byte("cpu  1 2 3 4\ncpu0 1 2 3 4\n"), t0)
	if err != nil || s.All != (CPUTimes{User: 1, Nice: 2, System: 3, Idle: 4}) || len(s.PerCPU) != 1 || !s.At.Equal(t0) {
		t.Errorf("2.4-style 4 columns: %+v, %v", s, err)
	}
	s, err = ParseProcStat([]byte("cpu 1 2 3 4 5 6 7 8 9 10 11\ncpu7 1 2 3 4 5 6 7 8 9 10\n"), t0)
	want := CPUTimes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if err != nil || s.All != want || s.PerCPU[7] != want {
		t.Errorf("10 columns (+1 future one): %+v, %v", s, err)
	}
	real0, err := ParseProcStat(readTestdata(t, "testdata/procstat/real-0.txt"), t0)
	if err != nil || len(real0.PerCPU) != 2 || real0.All.User == 0 {
		t.Errorf("real: %+v, %v", real0, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"", `no aggregate "cpu" line`},
		{"cpu0 1 2 3 4\n", `no aggregate "cpu" line`},
		{"cpu 1 2 3\n", "3 columns, want at least 4"},
		{"cpu 1 2 x 4\n", "line 1 (cpu): column 3"},
		{"cpu 1 2 3 -4\n", "column 4"},
		{"cpu 1 2 3 4\ncpu 1 2 3 4\n", "second aggregate"},
		{"cpu 1 2 3 4\ncpu1 1 2 3 4\ncpu1 1 2 3 4\n", "line 3: cpu1 appears twice"},
		{"cpu 1 2 3 4\ncpufreq 1 2 3 4\n", `"cpufreq" is not cpu or cpuN`},
	} {
		if _, err := ParseProcStat([]byte(tc.in), t0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseProcStat(%q) err = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestStealPercent(t *testing.T) {
	base := CPUTimes{User: 100, Nice: 10, System: 50, Idle: 800, IOWait: 20, IRQ: 5, SoftIRQ: 5, Steal: 10, Guest: 30}
	add := func(f func(*CPUTimes)) CPUTimes { c := base; f(&c); return c }
	for _, tc := range []struct {
		name string
		b    CPUTimes
		want float64
		ok   bool
	}{
		{"all steal", add(func(c *CPUTimes) { c.Steal += 100 }), 100, true},
		{"quarter", add(func(c *CPUTimes) { c.User += 50; c.Idle += 25; c.Steal += 25 }), 25, true},
		// guest is inside user already: adding it to the total would give 20.
		{"guest not added", add(func(c *CPUTimes) { c.User += 75; c.Guest += 75; c.Steal += 25 }), 25, true},
		{"every column counts", add(func(c *CPUTimes) {
			c.User, c.Nice, c.System, c.Idle, c.IOWait, c.IRQ, c.SoftIRQ, c.Steal = c.User+1, c.Nice+1, c.System+1, c.Idle+1, c.IOWait+1, c.IRQ+1, c.SoftIRQ+1, c.Steal+1
		}), 12.5, true},
		{"iowait drops into idle", add(func(c *CPUTimes) { c.IOWait -= 10; c.Idle += 30; c.Steal += 20 }), 50, true},
		{"no time passed", base, 0, false},
		{"steal backwards", add(func(c *CPUTimes) { c.User += 100; c.Steal -= 5 }), 0, false},
		{"user wrapped", add(func(c *CPUTimes) { c.User = 3; c.Idle += 100 }), 0, false},
		{"idle+iowait backwards", add(func(c *CPUTimes) { c.IOWait -= 10; c.Idle += 5; c.User += 100 }), 0, false},
	} {
		got, ok := StealPercent(base, tc.b)
		if ok != tc.ok || !near(got, tc.want) {
			t.Errorf("%s: StealPercent = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestStealStatsFromErrorsAndP95(t *testing.T) {
	if _, err := StealStatsFrom(nil); err == nil {
		t.Error("no samples: want an error")
	}
	if _, err := StealStatsFrom(statSet(t, "real", 1)); err == nil || !strings.Contains(err.Error(), "need at least 2") {
		t.Errorf("one sample: err = %v", err)
	}
	// Nearest rank: p95 of 1..20 is the 19th value, of 1..10 the 10th.
	var xs []float64
	for i := 1; i <= 20; i++ {
		xs = append(xs, float64(i))
	}
	if nearestRank(xs, 95) != 19 || nearestRank(xs[:10], 95) != 10 || nearestRank(xs, 50) != 10 || nearestRank(xs[:1], 99) != 1 {
		t.Error("nearestRank is not nearest-rank")
	}
	if got := stealStats([]float64{3, 1, 2}); got != (StealStats{MeanPercent: 2, P95Percent: 3, MaxPercent: 3, Samples: 3}) {
		t.Errorf("stealStats = %+v", got)
	}
}
