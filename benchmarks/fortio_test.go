package benchmarks

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/internal/golden"
)

// fortioGolden parses testdata/fortio/<file> and compares it with <name>.golden.json.
func fortioGolden(t *testing.T, file string) LoadRun {
	t.Helper()
	run, err := ParseFortio(VariantBaseline, readTestdata(t, filepath.Join("testdata", "fortio", file)))
	if err != nil {
		t.Fatalf("ParseFortio(%s): %v", file, err)
	}
	out, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "fortio", strings.TrimSuffix(file, ".json")+".golden.json"), out)
	return run
}

func TestParseFortio(t *testing.T) {
	ok := fortioGolden(t, "load-ok.json")
	if ok.Calls != 4992 || ok.OK != 4992 || ok.RequestedQPS != 1000 || ok.Connections != 16 || ok.Version != "1.67.1" {
		t.Errorf("load-ok: %+v", ok)
	}
	if !(0 < ok.P50 && ok.P50 <= ok.P90 && ok.P90 <= ok.P99 && ok.P99 <= ok.P999 && ok.P999 <= ok.Max) {
		t.Errorf("percentiles out of order: %+v", ok)
	}
	if ok.P90 != 958626*time.Nanosecond || ok.Duration.Round(time.Millisecond) != 5008*time.Millisecond {
		t.Errorf("p90 %s, duration %s", ok.P90, ok.Duration)
	}
	if p := ok.Problem(); p != "" {
		t.Errorf("a clean run has a problem: %s", p)
	}
	bad := fortioGolden(t, "load-503.json")
	if bad.Calls != 600 || bad.OK != 571 || !strings.Contains(bad.Problem(), "29 of 600 calls failed") {
		t.Errorf("load-503: %+v, problem %q", bad, bad.Problem())
	}
	if _, err := ParseFortio(VariantBaseline, readTestdata(t, "testdata/fortio/load-no-p90.json")); err == nil || !strings.Contains(err.Error(), "run with -p 50,90,99,99.9") {
		t.Errorf("a run without p90 must be refused: %v", err)
	}
	for _, in := range []string{`{}`, `not json`, `{"DurationHistogram":null}`} {
		if _, err := ParseFortio(VariantBaseline, []byte(in)); err == nil {
			t.Errorf("ParseFortio(%s) accepted", in)
		}
	}
	slow := ok
	slow.ActualQPS = 700
	if !strings.Contains(slow.Problem(), "reached 700 of the 1000 qps") {
		t.Errorf("a short rate: %q", slow.Problem())
	}
}

// TestMeshLatencyJudge: per hop is half of what two sidecars add to p90/p99,
// the mTLS cost is STRICT − DISABLE at p90; missing or bad runs leave the
// figures nil and say why, after what was said already.
func TestMeshLatencyJudge(t *testing.T) {
	run := func(v string, p90, p99 time.Duration) LoadRun {
		return LoadRun{Variant: v, Calls: 1000, OK: 1000, RequestedQPS: 1000, ActualQPS: 1000, P90: p90, P99: p99}
	}
	ms := time.Millisecond
	m := MeshLatency{Runs: []LoadRun{run(VariantBaseline, ms, 2*ms), run(VariantMTLS, 3*ms, 7*ms), run(VariantPlaintext, 2500*time.Microsecond, 6*ms)}}.Judge()
	if *m.PerHopP90 != ms || *m.PerHopP99 != 2500*time.Microsecond || *m.MTLSCostP90 != 500*time.Microsecond || m.Unavailable != "" {
		t.Errorf("judged %+v", m)
	}
	m = MeshLatency{Runs: []LoadRun{run(VariantBaseline, ms, 2*ms)}, NotRun: "no Envoy"}.Judge()
	if m.PerHopP90 != nil || m.MTLSCostP90 != nil || m.Unavailable != "no Envoy" {
		t.Errorf("baseline only %+v", m)
	}
	bad := run(VariantMTLS, 3*ms, 7*ms)
	bad.OK = 900
	m = MeshLatency{Runs: []LoadRun{run(VariantBaseline, ms, 2*ms), bad, run(VariantPlaintext, 2*ms, 6*ms)}}.Judge()
	if m.PerHopP90 != nil || m.MTLSCostP90 != nil || m.Unavailable != "mtls: 100 of 1000 calls failed" {
		t.Errorf("failed mtls run %+v", m)
	}
	again := m.Judge() // judging twice does not repeat the reason
	if again.Unavailable != m.Unavailable {
		t.Errorf("judged twice: %q", again.Unavailable)
	}
}
