package report

import (
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/config"
)

// TestWithMeshResult: the proxyless checks' results replace the mesh rows
// in place, survive Write/Read, and a bad split or answered plaintext FAILs.
func TestWithMeshResult(t *testing.T) {
	base := Evaluate("local", "local", nil, nil, config.Defaults().Benchmarks.Thresholds, time.Unix(0, 0))
	p99, p50 := 300*time.Millisecond, 200*time.Millisecond
	m := MeshResult{DataPlane: "proxyless gRPC", ConvergenceP99: &p99, ConvergenceP50: &p50, ConvergenceRuns: 20,
		Split: &SplitResult{Service: "demo/echo", Weights: map[string]int{"v1": 90, "v2": 10}, Observed: map[string]int{"v1": 1810, "v2": 190},
			Calls: 2000, DeviationPts: 0.5, TolerancePts: 3},
		Plaintext:   &PlaintextResult{Service: "demo/echo", Mode: "STRICT", Calls: 5, Answered: 0, Error: "EOF"},
		Unavailable: "no Envoy"}
	r := WithMeshResult(base, m)
	if len(r.Claims) != len(base.Claims) {
		t.Fatalf("%d rows, want the %d of the report, judged again", len(r.Claims), len(base.Claims))
	}
	dir := t.TempDir()
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	back, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]benchmarks.Verdict{}
	for i, c := range back.Claims {
		verdicts[c.ID] = c.Verdict
		if c.ID != r.Claims[i].ID {
			t.Errorf("row %d is %s, want %s", i, c.ID, r.Claims[i].ID)
		}
	}
	want := map[string]benchmarks.Verdict{IDMeshConvergence: benchmarks.Pass, IDCanarySplit: benchmarks.Pass, IDMTLSStrict: benchmarks.Pass,
		IDEnvoyPerHop: benchmarks.NotMeasurable, IDMTLSOverhead: benchmarks.NotMeasurable}
	for id, v := range want {
		if verdicts[id] != v {
			t.Errorf("%s: %s, want %s", id, verdicts[id], v)
		}
	}
	if back.Mesh == nil || back.Mesh.Split.Observed["v2"] != 190 || *back.Mesh.ConvergenceP99 != p99 {
		t.Errorf("mesh result lost on the way: %+v", back.Mesh)
	}

	m.Split.DeviationPts, m.Plaintext.Answered = 4, 2
	m.Unconverged = 1
	r = WithMeshResult(r, m) // judged again, not appended twice
	got := map[string]Claim{}
	for _, c := range r.Claims {
		got[c.ID] = c
	}
	if len(r.Claims) != len(back.Claims) || got[IDCanarySplit].Verdict != benchmarks.Fail || got[IDMTLSStrict].Verdict != benchmarks.Fail ||
		got[IDMeshConvergence].Verdict != benchmarks.Fail || !strings.Contains(got[IDMeshConvergence].Why, "1 of 20 runs") {
		t.Errorf("bad mesh not failed: %+v", got)
	}
}
