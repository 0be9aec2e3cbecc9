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
	p99, p50, cmax := 300*time.Millisecond, 200*time.Millisecond, 400*time.Millisecond
	f50, f99, fmax := 100*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	m := MeshResult{DataPlane: "proxyless gRPC", ConvergenceP99: &p99, ConvergenceP50: &p50, ConvergenceRuns: 20,
		ConvergenceMax: &cmax, FirstP50: &f50, FirstP99: &f99, FirstMax: &fmax,
		Split: &SplitResult{Service: "demo/echo", Weights: map[string]int{"v1": 90, "v2": 10}, Observed: map[string]int{"v1": 1810, "v2": 190},
			Calls: 2000, DeviationPts: 0.5, TolerancePts: 3},
		Plaintext: &PlaintextResult{Service: "demo/echo", Mode: "STRICT", Calls: 5, Answered: 0, Error: "EOF", Refusal: "tls",
			ControlPort: 7071, ControlCalls: 5, ControlAnswered: 5},
		Istiod:      &IstiodConvergence{Pushes: 40, P50: "≤ 0.1 s", P99: "≤ 0.5 s"},
		Unavailable: "no Envoy"}
	r := WithMeshResult(base, m)
	for _, c := range r.Claims {
		if c.ID == IDMeshConvergence && (!strings.Contains(c.Measured, "istiod's pilot_proxy_convergence_time over 40 pushes: p50 ≤ 0.1 s, p99 ≤ 0.5 s") ||
			!strings.Contains(c.Measured, "max 0.4 s (first answer from the new version: p50 0.1 s, p99 0.2 s, max 0.2 s)")) {
			t.Errorf("convergence row without istiod's metric: %q", c.Measured)
		}
	}
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

	// v2 got 14 % of the calls for a weight of 10 %: 6 σ off.
	m.Split = &SplitResult{Service: "demo/echo", Weights: map[string]int{"v1": 90, "v2": 10}, Observed: map[string]int{"v1": 1720, "v2": 280},
		Calls: 2000, DeviationPts: 4, TolerancePts: 3}
	m.Plaintext.Answered = 2
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

// TestMTLSStrictEarnsItsPass: STRICT passes only when the same plaintext
// client is answered outside the policy (the positive control) and the
// refusal came from a TLS listener; anything else is NOT MEASURABLE, with
// the reason, and an answered call under STRICT fails.
func TestMTLSStrictEarnsItsPass(t *testing.T) {
	verdict := func(p PlaintextResult) Claim {
		r := WithMeshResult(Evaluate("r", "local", nil, nil, config.Defaults().Benchmarks.Thresholds, time.Unix(0, 0)), MeshResult{Plaintext: &p})
		for _, c := range r.Claims {
			if c.ID == IDMTLSStrict {
				return c
			}
		}
		t.Fatal("no mtls-strict row")
		return Claim{}
	}
	ok := PlaintextResult{Service: "demo/echo", Mode: "STRICT", Calls: 5, Error: "error reading server preface: EOF", Refusal: "tls",
		ControlPort: 7071, ControlCalls: 5, ControlAnswered: 5}
	for name, c := range map[string]struct {
		change func(*PlaintextResult)
		want   benchmarks.Verdict
		why    string
	}{
		"refused by TLS, control answered": {func(*PlaintextResult) {}, benchmarks.Pass, "refused: error reading server preface"},
		"answered under STRICT":            {func(p *PlaintextResult) { p.Answered = 1 }, benchmarks.Fail, ""},
		"control not answered":             {func(p *PlaintextResult) { p.ControlAnswered, p.ControlError = 0, "no such host" }, benchmarks.NotMeasurable, "positive control failed"},
		"never connected":                  {func(p *PlaintextResult) { p.Refusal, p.Error = "connect", "connection refused" }, benchmarks.NotMeasurable, "without reaching a TLS listener"},
		"unknown failure":                  {func(p *PlaintextResult) { p.Refusal, p.Error = "", "context deadline exceeded" }, benchmarks.NotMeasurable, "without reaching a TLS listener"},
		"PERMISSIVE in the cluster":        {func(p *PlaintextResult) { p.Mode = "PERMISSIVE" }, benchmarks.NotMeasurable, "PERMISSIVE (read from the cluster)"},
	} {
		p := ok
		c.change(&p)
		got := verdict(p)
		if got.Verdict != c.want || !strings.Contains(got.Why, c.why) {
			t.Errorf("%s: %s (%s), want %s with %q", name, got.Verdict, got.Why, c.want, c.why)
		}
	}
}

// TestWithMeshLatency: the fortio runs fill the per-hop and mTLS rows from
// their p90s; with only a baseline (no Envoy) the rows stay NOT MEASURABLE
// but show the baseline; a later report of the checks keeps the latency;
// an untrustworthy run leaves its figure NOT MEASURABLE with the reason.
func TestWithMeshLatency(t *testing.T) {
	us := time.Microsecond
	run := func(v string, p90, p99 time.Duration) benchmarks.LoadRun {
		return benchmarks.LoadRun{Variant: v, RequestedQPS: 1000, ActualQPS: 999.9, Connections: 16, Duration: 240 * time.Second,
			Calls: 239976, OK: 239976, P50: p90 / 2, P90: p90, P99: p99, P999: 2 * p99}
	}
	rows := func(r Report) map[string]Claim {
		out := map[string]Claim{}
		for _, c := range r.Claims {
			out[c.ID] = c
		}
		return out
	}
	base := Evaluate("hel1", "hetzner", nil, nil, config.Defaults().Benchmarks.Thresholds, time.Unix(0, 0))
	full := benchmarks.MeshLatency{Client: "w1", Server: "w2", DataPlane: "Envoy sidecars", Runs: []benchmarks.LoadRun{
		run("baseline", 300*us, 600*us), run("mtls", 900*us, 1800*us), run("plaintext", 860*us, 1700*us)}}
	r := WithMeshLatency(base, full)
	got := rows(r)
	if c := got[IDEnvoyPerHop]; c.Verdict != benchmarks.Pass || !strings.HasPrefix(c.Measured, "p90 0.3 ms per hop (p99 0.6 ms)") ||
		!strings.Contains(c.Measured, "1000 qps, 16 connections, 4m0s per run, w1→w2, Envoy sidecars") {
		t.Errorf("per hop: %s %q", c.Verdict, c.Measured)
	}
	if c := got[IDMTLSOverhead]; c.Verdict != benchmarks.Pass || !strings.HasPrefix(c.Measured, "p90 +0.04 ms: p90 0.9 ms with STRICT, 0.86 ms with mTLS disabled") {
		t.Errorf("mTLS: %s %q", c.Verdict, c.Measured)
	}
	// The proxyless checks report again: the latency stays.
	p99 := 300 * time.Millisecond
	r = WithMeshResult(r, MeshResult{ConvergenceP99: &p99, ConvergenceRuns: 20})
	if got := rows(r); got[IDEnvoyPerHop].Verdict != benchmarks.Pass || got[IDMeshConvergence].Verdict != benchmarks.Pass || r.Mesh.Latency == nil {
		t.Errorf("checks after latency: %+v", got)
	}

	// A slow proxy: 3.5 ms per hop FAILs the guide's bound.
	slow := full
	slow.Runs = []benchmarks.LoadRun{run("baseline", 300*us, 600*us), run("mtls", 7300*us, 9*time.Millisecond), run("plaintext", 6*time.Millisecond, 8*time.Millisecond)}
	got = rows(WithMeshLatency(base, slow))
	if got[IDEnvoyPerHop].Verdict != benchmarks.Fail || got[IDMTLSOverhead].Verdict != benchmarks.Fail {
		t.Errorf("slow proxy: %s / %s", got[IDEnvoyPerHop].Verdict, got[IDMTLSOverhead].Verdict)
	}

	// Sidecars measured below the baseline (noise), on one node.
	noisy := full
	noisy.SameNode, noisy.Server = true, "w1"
	noisy.Runs = []benchmarks.LoadRun{run("baseline", 300*us, 600*us), run("mtls", 280*us, 600*us), run("plaintext", 270*us, 600*us)}
	if c := rows(WithMeshLatency(base, noisy))[IDEnvoyPerHop]; c.Verdict != benchmarks.Pass ||
		!strings.Contains(c.Measured, "per hop (below the baseline: within noise)") || !strings.Contains(c.Measured, "w1→w1 (one node: no network hop)") {
		t.Errorf("noisy, one node: %s %q", c.Verdict, c.Measured)
	}

	// No Envoy: the baseline alone.
	only := benchmarks.MeshLatency{Client: "w1", Server: "w2", Runs: []benchmarks.LoadRun{run("baseline", 300*us, 600*us)},
		NotRun: "no Envoy binary exists offline"}
	got = rows(WithMeshLatency(base, only))
	if c := got[IDEnvoyPerHop]; c.Verdict != benchmarks.NotMeasurable || c.Why != "no Envoy binary exists offline" ||
		!strings.HasPrefix(c.Measured, "baseline without a mesh p50 0.15 ms, p90 0.3 ms, p99 0.6 ms") {
		t.Errorf("baseline only: %s %q %q", c.Verdict, c.Measured, c.Why)
	}
	if c := got[IDMTLSOverhead]; c.Verdict != benchmarks.NotMeasurable || c.Why != "no Envoy binary exists offline" {
		t.Errorf("mTLS without Envoy: %s %q", c.Verdict, c.Why)
	}

	if c := got[IDMTLSOverheadProxyless]; c.Verdict != benchmarks.NotMeasurable || !strings.Contains(c.Why, "proxyless gRPC runs were not made") {
		t.Errorf("no proxyless runs: %s %q", c.Verdict, c.Why)
	}

	// No Envoy, but the proxyless pair: its own row, measured, while the
	// Envoy rows stay NOT MEASURABLE.
	pl := only
	pl.Runs = append(append([]benchmarks.LoadRun{}, only.Runs...), run("proxyless-mtls", 520*us, 900*us), run("proxyless-plaintext", 400*us, 700*us))
	pl.Runs[1].Version, pl.Runs[2].Version = "grpc-go 1.80.0", "grpc-go 1.80.0"
	got = rows(WithMeshLatency(base, pl))
	if c := got[IDMTLSOverheadProxyless]; c.Verdict != benchmarks.Warn || c.Measured !=
		"p90 +0.12 ms: p90 0.52 ms with STRICT mTLS, 0.4 ms with mTLS disabled (p99 0.9 ms and 0.7 ms; 1000 qps, 16 connections, 4m0s per run, w1→w2, grpc-go 1.80.0)" ||
		!strings.Contains(c.Source, "proxyless gRPC pods") {
		t.Errorf("proxyless: %s %q %q", c.Verdict, c.Measured, c.Source)
	}
	if got[IDMTLSOverhead].Verdict != benchmarks.NotMeasurable || got[IDEnvoyPerHop].Verdict != benchmarks.NotMeasurable {
		t.Errorf("the Envoy rows from proxyless runs: %+v", got)
	}
	// mTLS faster than plaintext by more than the band: noise, no PASS.
	pl.Runs[1].P90 = 250 * us
	if c := rows(WithMeshLatency(base, pl))[IDMTLSOverheadProxyless]; c.Verdict != benchmarks.NotMeasurable ||
		!strings.HasPrefix(c.Measured, "p90 -0.15 ms: ") || !strings.Contains(c.Why, "mTLS measured 0.15 ms faster than plaintext at p90: the runs' noise is larger than the 0.1 ms band") {
		t.Errorf("noisy proxyless: %s %q %q", c.Verdict, c.Measured, c.Why)
	}
	pl.Runs[1].P90 = 520 * us
	// A proxyless run with failed calls: NOT MEASURABLE with why, alone.
	pl.Runs[2].OK -= 1000
	got = rows(WithMeshLatency(base, pl))
	if c := got[IDMTLSOverheadProxyless]; c.Verdict != benchmarks.NotMeasurable || !strings.Contains(c.Why, "proxyless-plaintext: 1000 of 239976 calls failed") ||
		strings.Contains(got[IDEnvoyPerHop].Why, "proxyless") {
		t.Errorf("failed proxyless calls: %s %q / %q", c.Verdict, c.Why, got[IDEnvoyPerHop].Why)
	}

	// Failed calls under mTLS: no overhead figure from that run.
	bad := full
	bad.Runs = append([]benchmarks.LoadRun{}, full.Runs...)
	bad.Runs[1].OK = bad.Runs[1].Calls - 5000
	got = rows(WithMeshLatency(base, bad))
	if c := got[IDEnvoyPerHop]; c.Verdict != benchmarks.NotMeasurable || !strings.Contains(c.Why, "mtls: 5000 of 239976 calls failed") {
		t.Errorf("failed calls: %s %q", c.Verdict, c.Why)
	}
}
