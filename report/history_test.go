package report

import (
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/internal/golden"
)

// historyRuns are three bench runs of the fixture region: cp-1's fdatasync
// p99 doubles in the last one (worse), w-1's read p99 rises by less than
// the floor (not worse), and w-2 is absent from the first run.
func historyRuns() []Report {
	var runs []Report
	for i, f := range []struct{ cp1Sync, w1Read time.Duration }{
		{2100 * us, 900 * us}, {2200 * us, 910 * us}, {4800 * us, 1300 * us},
	} {
		nodes := fixtureNodes()
		nodes[0].Disk.Fdatasync = lat(870*us, f.cp1Sync, 6400*us, 10017)
		nodes[1].Disk.RandRead = lat(402*us, f.w1Read, 4100*us, 21877)
		if i == 0 {
			nodes = nodes[:2]
		}
		runs = append(runs, Evaluate("fsn1", "hetzner", nodes, fixtureNetwork(), defaults(), fixedNow.Add(time.Duration(i)*24*time.Hour)))
	}
	return runs
}

func TestBuildHistory(t *testing.T) {
	runs := historyRuns()
	// Given newest first: BuildHistory orders them.
	h := BuildHistory([]Report{runs[2], runs[0], runs[1]})
	if h == nil || len(h.Runs) != 3 || !h.Runs[0].Equal(fixedNow) {
		t.Fatalf("history %+v", h)
	}
	worse := strings.Join(h.Worse, "\n")
	if !strings.Contains(worse, "cp-1: etcd WAL fdatasync p99 4.80 ms, 2.2× its median of 2 earlier run(s), 2.15 ms") {
		t.Errorf("cp-1's doubled fdatasync is not flagged:\n%s", worse)
	}
	if strings.Contains(worse, "w-1: 4k random read") {
		t.Errorf("w-1's read p99 rose 0.4 ms on 0.9 ms: 1.4× is not over the factor, yet flagged:\n%s", worse)
	}
	for _, s := range h.Series {
		if s.Node == "w-2" && s.Figure == "etcd WAL fdatasync p99" && (s.Values[0] != nil || s.Values[1] == nil) {
			t.Errorf("w-2 joined in run 2: %+v", s.Values)
		}
		if s.Node == "w-2" && strings.HasPrefix(s.Figure, "CPU steal") {
			t.Error("w-2's steal is not measurable, yet it has a series")
		}
	}
	if BuildHistory(runs[:1]) != nil {
		t.Error("one run is no history")
	}
}

// A verdict that drops since the run before is flagged even when the
// figure stays under the factor.
func TestHistoryFlagsADroppedVerdict(t *testing.T) {
	runs := historyRuns()[:2]
	nodes := fixtureNodes()
	nodes[1].Disk.Fdatasync = lat(14*us, 15*time.Millisecond, 19*time.Millisecond, 10017) // w-1: WARN (its fixture flush suspicion) → FAIL
	runs = append(runs, Evaluate("fsn1", "hetzner", nodes, fixtureNetwork(), defaults(), fixedNow.Add(72*time.Hour)))
	h := BuildHistory(runs)
	if !strings.Contains(strings.Join(h.Worse, "\n"), "w-1: disk-etcd went from WARN to FAIL since the run before") {
		t.Errorf("dropped verdict not flagged: %v", h.Worse)
	}
}

func TestGoldenHistory(t *testing.T) {
	runs := historyRuns()
	r := runs[2]
	r.History = BuildHistory(runs)
	golden.Check(t, "testdata/report-history.md", Markdown(r))
	b, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/report-history.html", b)
	s := string(b)
	if n := strings.Count(s, `aria-label="etcd WAL fdatasync p99 over the runs"`); n != 1 {
		t.Errorf("want one fdatasync history chart, got %d", n)
	}
	if !strings.Contains(s, `class="s-worse"`) {
		t.Error("the worse series is not drawn as worse")
	}
	selfContained(t, s)
}
