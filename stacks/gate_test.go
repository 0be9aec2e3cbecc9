package stacks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/report"
)

// measuredGraph is graph whose benchmark run reports rep, as the plugin
// would output it.
type measuredGraph struct {
	*graph
	rep report.Report
}

func (g measuredGraph) NewResource(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	id, out, err := g.graph.NewResource(a)
	if a.TypeToken != contract.Suite().Token {
		return id, out, err
	}
	rep, _ := contract.Plain(g.rep)
	out = out.Copy()
	out["report"] = resource.NewPropertyValue(rep)
	out["peerRttP99Ms"], out["fdatasyncP99Ms"] = resource.NewProperty(0.4), resource.NewProperty(40.0)
	if err := report.Gate(g.rep); err != nil {
		out["gateFailure"] = resource.NewProperty(err.Error())
		byNode := resource.PropertyMap{}
		for _, c := range err.(*report.GateError).Failed {
			byNode[resource.PropertyKey(c.Node)] = resource.NewProperty(c.ID + " " + c.Measured)
		}
		out["gateFailures"] = resource.NewProperty(byNode)
	}
	return id, out, err
}

// disks is a run of nodes with fdatasync p99s fsync.
func disks(fsync map[string]time.Duration) report.Report {
	var nodes []benchmarks.NodeResult
	for name, d := range fsync {
		role := config.RoleWorker
		if strings.Contains(name, "-cp-") {
			role = config.RoleControlPlane
		}
		nodes = append(nodes, benchmarks.NodeResult{Node: name, Role: role, Address: "10.0.0.1",
			Disk: benchmarks.DiskResult{Fdatasync: &benchmarks.Latency{P50: d / 2, P99: d, Max: d, Samples: 10000}}})
	}
	return report.Evaluate("g", "local", nodes, nil, config.Defaults().Benchmarks.Thresholds, time.Unix(1e9, 0).UTC())
}

// TestGateHoldsBackTheFailingNodeAlone: a worker whose disk fails the gate
// does not join, and up fails naming it; the cluster and the nodes that
// pass go on.
func TestGateHoldsBackTheFailingNodeAlone(t *testing.T) {
	raw := values("meshready:region", "g", "meshready:nodes", `{"controlPlanes":1,"workers":2}`)
	g := measuredGraph{graph: &graph{byName: map[string]pulumi.MockResourceArgs{}},
		rep: disks(map[string]time.Duration{"g-cp-1": time.Millisecond, "g-worker-1": time.Millisecond, "g-worker-2": 40 * time.Millisecond})}
	err := pulumi.RunErr(Program(raw, Env{ProjectDir: t.TempDir(), LocalMesh: localMesh, LocalKubernetes: localKube, Flanneld: flanneld}), pulumi.WithMocks("meshready", "g", g))
	if err == nil || !strings.Contains(err.Error(), "g-worker-2: disk-etcd") || strings.Contains(err.Error(), "g-worker-1:") {
		t.Errorf("want up to stop on g-worker-2 alone, got %v", err)
	}
	for _, want := range []string{contract.Cluster().Token + "::kubernetes", contract.Member().Token + "::g-worker-1"} {
		if _, ok := g.byName[want]; !ok {
			t.Errorf("%s was held back by another node's gate", want)
		}
	}
	if _, ok := g.byName[contract.Member().Token+"::g-worker-2"]; ok {
		t.Error("the node that fails the gate joined")
	}
}

// slowDisk is a run on a control plane whose disk fails etcd's test.
func slowDisk(fsync time.Duration) report.Report {
	n := benchmarks.NodeResult{Node: "g-cp-1", Role: config.RoleControlPlane, Address: "10.0.0.1",
		Disk: benchmarks.DiskResult{Fdatasync: &benchmarks.Latency{P50: fsync / 2, P99: fsync, Max: fsync, Samples: 10000}}}
	return report.Evaluate("g", "local", []benchmarks.NodeResult{n}, nil, config.Defaults().Benchmarks.Thresholds, time.Unix(1e9, 0).UTC())
}

// TestGateStopsBeforeKubernetes: a run that fails etcd's disk test stops up
// before the cluster is created, with the report written; with the gate
// off, the cluster is created, tuned from the run and after it.
func TestGateStopsBeforeKubernetes(t *testing.T) {
	raw := values("meshready:region", "g", "meshready:nodes", `{"controlPlanes":1,"workers":0}`)
	for _, gateOn := range []bool{true, false} {
		if !gateOn {
			raw.Values["meshready:benchmarks"] = `{"gate":false}`
		}
		g := measuredGraph{graph: &graph{byName: map[string]pulumi.MockResourceArgs{}}, rep: slowDisk(40 * time.Millisecond)}
		dir := t.TempDir()
		err := pulumi.RunErr(Program(raw, Env{ProjectDir: dir, LocalMesh: localMesh, LocalKubernetes: localKube, Flanneld: flanneld}), pulumi.WithMocks("meshready", "g", g))
		cl, created := g.byName[contract.Cluster().Token+"::kubernetes"]
		md, rerr := os.ReadFile(filepath.Join(dir, report.Dir("g"), report.MarkdownFile))
		if gateOn {
			if err == nil || !strings.Contains(err.Error(), "hardware gate") || !strings.Contains(err.Error(), "disk-etcd") {
				t.Errorf("gate on: want up to stop on the gate, got %v", err)
			}
			if created {
				t.Error("gate on: the cluster was created on a disk that fails etcd's test")
			}
			if rerr != nil || !strings.Contains(string(md), "FAIL") {
				t.Errorf("gate on: the report of the stopped run: %v\n%s", rerr, md)
			}
			continue
		}
		if err != nil {
			t.Fatalf("gate off: %v", err)
		}
		if !created || cl.Inputs["fdatasyncP99Ms"].NumberValue() != 40 {
			t.Fatalf("gate off: cluster %v", cl.Inputs)
		}
		if deps := strings.Join(cl.RegisterRPC.GetDependencies(), " "); !strings.Contains(deps, contract.Suite().Token+"::benchmarks") {
			t.Errorf("the cluster does not wait for the benchmarks: %s", deps)
		}
		if rerr != nil || !strings.Contains(string(md), "disk-etcd") {
			t.Errorf("gate off: no region report: %v", rerr)
		}
	}
}
