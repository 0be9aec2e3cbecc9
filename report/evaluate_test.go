package report

import (
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/config"
)

const (
	pass = benchmarks.Pass
	warn = benchmarks.Warn
	fail = benchmarks.Fail
	nm   = benchmarks.NotMeasurable
)

// find returns the one claim with id on node, failing the test otherwise.
func find(t *testing.T, r Report, id, node string) Claim {
	t.Helper()
	var found []Claim
	for _, c := range r.Claims {
		if c.ID == id && c.Node == node {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s claim for node %q, got %d: %+v", id, node, len(found), r.Claims)
	}
	return found[0]
}

// healthy is a node that passes everything; cases break one thing each.
func healthy() benchmarks.NodeResult {
	return fixtureNodes()[0]
}

func TestNodeVerdicts(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name, id string
		mod      func(*benchmarks.NodeResult)
		want     benchmarks.Verdict
		why      string // substring of Why, "" = not checked
	}{
		{"etcd just below", IDDiskEtcd, func(n *benchmarks.NodeResult) { n.Disk.Fdatasync.P99 = 10*ms - 1 }, pass, ""},
		{"etcd at limit", IDDiskEtcd, func(n *benchmarks.NodeResult) { n.Disk.Fdatasync.P99 = 10 * ms }, fail, "at or above 10 ms"},
		{"etcd above", IDDiskEtcd, func(n *benchmarks.NodeResult) { n.Disk.Fdatasync.P99 = 25 * ms }, fail, ""},
		{"etcd missing", IDDiskEtcd, func(n *benchmarks.NodeResult) {
			n.Disk.Fdatasync, n.Disk.Errors = nil, []string{"fio: exit 1", "no space"}
		}, nm, "fio: exit 1; no space"},
		{"etcd no samples", IDDiskEtcd, func(n *benchmarks.NodeResult) { n.Disk.Fdatasync.Samples = 0 }, nm, "no fdatasync result"},
		{"etcd flush suspect fast", IDDiskEtcd, func(n *benchmarks.NodeResult) {
			n.Disk.Fdatasync.P99, n.Disk.FlushSuspect = 40*time.Microsecond, "write_cache is write through"
		}, warn, "write_cache is write through"},
		{"etcd flush suspect slow still fails", IDDiskEtcd, func(n *benchmarks.NodeResult) {
			n.Disk.Fdatasync.P99, n.Disk.FlushSuspect = 12*ms, "p50 below 20 µs"
		}, fail, "p50 below 20 µs"},
		{"nvme below", IDDiskNVMe, func(n *benchmarks.NodeResult) { n.Disk.RandRead.P99 = 499 * time.Microsecond }, pass, ""},
		{"nvme at limit", IDDiskNVMe, func(n *benchmarks.NodeResult) { n.Disk.RandRead.P99 = 500 * time.Microsecond }, warn, ""},
		{"nvme below vps band", IDDiskNVMe, func(n *benchmarks.NodeResult) { n.Disk.RandRead.P99 = 2*ms - 1 }, warn, ""},
		{"nvme at vps band", IDDiskNVMe, func(n *benchmarks.NodeResult) { n.Disk.RandRead.P99 = 2 * ms }, fail, "standard-VPS"},
		{"nvme missing", IDDiskNVMe, func(n *benchmarks.NodeResult) {
			n.Disk.RandRead, n.Disk.Errors = nil, []string{"O_DIRECT unsupported"}
		}, nm, "O_DIRECT unsupported"},
		{"steal not measurable never passes", IDCPUSteal, func(n *benchmarks.NodeResult) {
			n.Steal.Measurable, n.Steal.Evidence = false, "no steal-time feature"
			n.Steal.Loaded.Stats = benchmarks.StealStats{Samples: 60}
		}, nm, "no steal-time feature"},
		{"steal no loaded samples", IDCPUSteal, func(n *benchmarks.NodeResult) { n.Steal.Loaded.Stats = benchmarks.StealStats{} }, nm, "no loaded-phase"},
		{"steal clean", IDCPUSteal, func(n *benchmarks.NodeResult) { setSteal(n, 0.1, 1) }, pass, ""},
		{"steal max at limit", IDCPUSteal, func(n *benchmarks.NodeResult) { setSteal(n, 0.1, 2) }, pass, ""},
		{"steal one spike", IDCPUSteal, func(n *benchmarks.NodeResult) { setSteal(n, 0.1, 3) }, warn, "reached 3.0 %"},
		{"steal mean at limit", IDCPUSteal, func(n *benchmarks.NodeResult) { setSteal(n, 0.5, 1) }, warn, "not below"},
		{"steal mean at max", IDCPUSteal, func(n *benchmarks.NodeResult) { setSteal(n, 2, 4) }, warn, ""},
		{"steal mean above max", IDCPUSteal, func(n *benchmarks.NodeResult) { setSteal(n, 2.01, 4) }, fail, "above 2.0 %"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := healthy()
			tc.mod(&n)
			c := find(t, Evaluate("r", "p", []benchmarks.NodeResult{n}, nil, defaults(), fixedNow), tc.id, n.Node)
			if c.Verdict != tc.want {
				t.Errorf("verdict = %s, want %s (why %q)", c.Verdict, tc.want, c.Why)
			}
			if !strings.Contains(c.Why, tc.why) {
				t.Errorf("why = %q, want it to contain %q", c.Why, tc.why)
			}
			if c.Verdict == nm && c.Measured != "" {
				t.Errorf("NOT MEASURABLE row shows a measurement %q", c.Measured)
			}
		})
	}
}

func setSteal(n *benchmarks.NodeResult, mean, max float64) {
	n.Steal.Loaded.Stats = benchmarks.StealStats{MeanPercent: mean, P95Percent: max, MaxPercent: max, Samples: 60}
}

func TestMeshVerdicts(t *testing.T) {
	d := func(v time.Duration) *time.Duration { return &v }
	ms := time.Millisecond
	cases := []struct {
		name string
		opts []Option
		want map[string]benchmarks.Verdict
		why  string
	}{
		{"absent", nil, map[string]benchmarks.Verdict{IDMeshConvergence: nm, IDEnvoyPerHop: nm, IDMTLSOverhead: nm}, noMeshDefault},
		{"unavailable", []Option{WithMesh(MeshResult{Unavailable: "istio not installed"})},
			map[string]benchmarks.Verdict{IDMeshConvergence: nm, IDEnvoyPerHop: nm, IDMTLSOverhead: nm}, "istio not installed"},
		{"at pass bounds", []Option{WithMesh(MeshResult{ConvergenceP99: d(5 * time.Second), PerHopP90: d(3 * ms), MTLSCost: d(100 * time.Microsecond)})},
			map[string]benchmarks.Verdict{IDMeshConvergence: pass, IDEnvoyPerHop: pass, IDMTLSOverhead: pass}, ""},
		{"just above pass", []Option{WithMesh(MeshResult{ConvergenceP99: d(5100 * ms), PerHopP90: d(3*ms + 1), MTLSCost: d(500 * time.Microsecond)})},
			map[string]benchmarks.Verdict{IDMeshConvergence: warn, IDEnvoyPerHop: fail, IDMTLSOverhead: warn}, ""},
		{"at fail bounds", []Option{WithMesh(MeshResult{ConvergenceP99: d(15 * time.Second), MTLSCost: d(ms)})},
			map[string]benchmarks.Verdict{IDMeshConvergence: warn, IDEnvoyPerHop: nm, IDMTLSOverhead: warn}, ""},
		{"above fail", []Option{WithMesh(MeshResult{ConvergenceP99: d(15*time.Second + 1), MTLSCost: d(ms + 1)})},
			map[string]benchmarks.Verdict{IDMeshConvergence: fail, IDEnvoyPerHop: nm, IDMTLSOverhead: fail}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Evaluate("r", "p", nil, nil, defaults(), fixedNow, tc.opts...)
			for id, want := range tc.want {
				c := find(t, r, id, "")
				if c.Verdict != want {
					t.Errorf("%s = %s, want %s", id, c.Verdict, want)
				}
				if c.Verdict == nm && !strings.Contains(c.Why, tc.why) {
					t.Errorf("%s why = %q, want %q", id, c.Why, tc.why)
				}
			}
		})
	}
}

func TestNetworkVerdicts(t *testing.T) {
	nodes := fixtureNodes()[:2]
	clean := fixtureNetwork()[:1]
	cases := []struct {
		name  string
		nodes []benchmarks.NodeResult
		rtts  []benchmarks.RTT
		want  benchmarks.Verdict
	}{
		{"one node", nodes[:1], clean, nm},
		{"no rtts", nodes, nil, nm},
		{"no loss", nodes, clean, pass},
		{"loss", nodes, fixtureNetwork(), warn},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := find(t, Evaluate("r", "p", tc.nodes, tc.rtts, defaults(), fixedNow), IDNetworkRTT, "")
			if c.Verdict != tc.want {
				t.Errorf("verdict = %s, want %s (why %q)", c.Verdict, tc.want, c.Why)
			}
		})
	}
}

func TestFixtureVerdicts(t *testing.T) {
	r := fixtureReport()
	want := map[[2]string]benchmarks.Verdict{
		{IDDiskEtcd, "cp-1"}: pass, {IDDiskEtcd, "w-1"}: warn, {IDDiskEtcd, "w-2"}: fail,
		{IDDiskNVMe, "cp-1"}: pass, {IDDiskNVMe, "w-1"}: warn, {IDDiskNVMe, "w-2"}: nm,
		{IDCPUSteal, "cp-1"}: pass, {IDCPUSteal, "w-1"}: warn, {IDCPUSteal, "w-2"}: nm,
		{IDMeshConvergence, ""}: nm, {IDEnvoyPerHop, ""}: nm, {IDMTLSOverhead, ""}: nm, {IDMTLSOverheadProxyless, ""}: nm, {IDCanarySplit, ""}: nm, {IDMTLSStrict, ""}: nm,
		{IDNetworkRTT, ""}: warn,
	}
	if len(r.Claims) != len(want) {
		t.Fatalf("got %d claims, want %d", len(r.Claims), len(want))
	}
	for k, v := range want {
		if c := find(t, r, k[0], k[1]); c.Verdict != v {
			t.Errorf("%s/%s = %s, want %s", k[0], k[1], c.Verdict, v)
		}
	}
	if c := find(t, r, IDCPUSteal, "cp-1"); c.Measured != "mean 0.12 %, p95 1.0 %, max 1.0 % over 60 per-CPU samples (idle mean 0.00 %)" {
		t.Errorf("steal measured = %q", c.Measured)
	}
}

func TestThresholds(t *testing.T) {
	r := Evaluate("r", "p", []benchmarks.NodeResult{healthy()}, nil, config.Thresholds{}, fixedNow)
	if r.Thresholds != defaults() {
		t.Errorf("zero thresholds not defaulted: %+v", r.Thresholds)
	}
	if len(r.Notes) != 4 || !strings.Contains(r.Notes[0], "not set") {
		t.Errorf("notes = %q", r.Notes)
	}
	th := defaults()
	th.FdatasyncP99 = config.Duration(2 * time.Millisecond)
	r = Evaluate("r", "p", []benchmarks.NodeResult{healthy()}, nil, th, fixedNow)
	if c := find(t, r, IDDiskEtcd, "cp-1"); c.Verdict != fail || c.Threshold != "fdatasync p99 < 2 ms" {
		t.Errorf("custom threshold not applied: %+v", c)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "fdatasyncP99 is 2 ms, not the default 10 ms") {
		t.Errorf("notes = %q", r.Notes)
	}
}
