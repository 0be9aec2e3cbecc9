package benchmarks

import (
	"github.com/meshready/meshready/internal/golden"

	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseStealStreamGolden(t *testing.T) {
	idle, loaded, work, err := ParseStealStream(readTestdata(t, "testdata/steal/stream.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(idle) != 3 || len(loaded) != 3 {
		t.Fatalf("%d idle and %d loaded samples, want 3 and 3", len(idle), len(loaded))
	}
	if want := time.Unix(0, 1767322800000000000).UTC(); !idle[0].At.Equal(want) || idle[0].At.Location() != time.UTC {
		t.Errorf("first sample at %v, want %v in UTC", idle[0].At, want)
	}
	if loaded[2].PerCPU[1] != (CPUTimes{User: 739, System: 57, Idle: 4700, IOWait: 5, SoftIRQ: 2, Steal: 9}) {
		t.Errorf("last loaded cpu1 = %+v", loaded[2].PerCPU[1])
	}
	if len(work) != 2 || len(work[0]) != 2 || work[1][1] != 1179648 {
		t.Errorf("work = %v", work)
	}
	idlePhase, err := StealStatsFrom(idle)
	if err != nil {
		t.Fatal(err)
	}
	loadedPhase, err := StealStatsFrom(loaded)
	if err != nil {
		t.Fatal(err)
	}
	if idlePhase.Stats != (StealStats{Samples: 4}) {
		t.Errorf("idle stats %+v, want 4 samples of 0 %%", idlePhase.Stats)
	}
	if want := (StealStats{MeanPercent: 3, P95Percent: 7, MaxPercent: 7, Samples: 4}); loadedPhase.Stats != want {
		t.Errorf("loaded stats %+v, want %+v", loadedPhase.Stats, want)
	}
	if s := loadedPhase.Series; len(s) != 2 || !near(s[0].Second, 1.001) || s[0].Percent != 1 || !near(s[1].Second, 2.003) || s[1].Percent != 5 {
		t.Errorf("loaded series %+v", s)
	}
	out, _ := json.MarshalIndent(map[string]any{
		"idle": idle, "loaded": loaded, "work": work,
		"idlePhase": idlePhase, "loadedPhase": loadedPhase,
	}, "", "  ")
	golden.Check(t, "testdata/steal/stream.golden.json", out)
}

func TestParseStealStreamErrors(t *testing.T) {
	const snap = "at 1000\ncpu  1 2 3 4\nend\n"
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "no /proc/stat snapshot"},
		{"phase only", "phase idle\n", "no /proc/stat snapshot"},
		{"noise", "sh: taskset: not found\n", `line 1: unexpected "sh: taskset: not found"`},
		{"bad phase", "phase busy\n", "want phase idle or phase loaded"},
		{"phase twice", "phase idle\n" + snap + "phase idle\n", "line 5: phase idle given twice"},
		{"at before phase", snap, "line 1: snapshot before any phase"},
		{"bad at", "phase idle\nat soon\n", `line 2: "at soon"`},
		{"at with junk", "phase idle\nat 1000 2000\n", "want at <unix-nanoseconds>"},
		{"cut off", "phase idle\nat 1000\ncpu  1 2 3 4\n", "line 2: snapshot never ended"},
		{"nested at", "phase idle\nat 1000\nat 2000\n", `line 3: "at 2000" inside the snapshot started on line 2`},
		{"other line in snapshot", "phase idle\nat 1000\nintr 5\nend\n", `"intr 5" inside the snapshot`},
		{"bad cpu line", "phase idle\nat 1000\ncpu  1 2 x 4\nend\n", "line 2: snapshot: /proc/stat line 1 (cpu): column 3"},
		{"no aggregate", "phase idle\nat 1000\ncpu0 1 2 3 4\nend\n", `no aggregate "cpu" line`},
		{"stray end", "phase idle\nend\n", "line 2: end without a snapshot"},
		{"work while idle", "phase idle\n" + snap + "work 0 5\n", "line 5: work count outside the loaded phase"},
		{"work bad cpu", "phase loaded\nwork x 5\n", `cpu "x" is not a CPU number`},
		{"work negative", "phase loaded\nwork 0 -5\n", `iterations "-5" is not a count`},
		{"work NaN", "phase loaded\nwork 0 NaN\n", `iterations "NaN" is not a count`},
		{"work short", "phase loaded\nwork 0\n", "want work <cpu> <iterations>"},
	} {
		_, _, _, err := ParseStealStream([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	// Blank lines and CRLF are tolerated; work is non-nil without work lines.
	idle, loaded, work, err := ParseStealStream([]byte("\r\nphase idle\r\n" + snap + "\n" + snap))
	if err != nil || len(idle) != 2 || loaded != nil || work == nil {
		t.Errorf("blank lines: %d idle, %v loaded, work %v, err %v", len(idle), loaded, work, err)
	}
}
