package stacks

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/report"
)

// gated are the benchmark figures etcd is tuned from, let through by the
// hardware gate node by node: when benchmarks.gate is on, the figures
// given for a node that fails it fail instead, so what would run on that
// node (its join, or the cluster when it is a control plane) stops, and
// so does up, while nodes that pass are not held back. A failed node is
// measured again at the next up (see contract.Suite).
type gated struct {
	Suite *contract.SuiteResource
	on    bool
	w     reportWriter
	ctx   *pulumi.Context
}

// gate applies the hardware gate to the suite's run.
func gate(ctx *pulumi.Context, suite *contract.SuiteResource, on bool, w reportWriter) *gated {
	return &gated{Suite: suite, on: on, w: w, ctx: ctx}
}

// figures are the run's peer RTT p99 and fdatasync p99 for what runs on
// nodes: they fail when one of nodes fails the gate. A run it stops gets
// its report written here: nothing after it will run to add to it.
func (g *gated) figures(nodes ...string) (rtt, fsync pulumi.Float64Output) {
	s := g.Suite
	pass := pulumi.All(s.GateFailures, s.Report).ApplyT(func(a []any) (bool, error) {
		failures, _ := a[0].(map[string]string)
		var why []string
		for _, n := range nodes {
			if f := failures[n]; f != "" && g.on {
				why = append(why, fmt.Sprintf("  %s: %s", n, f))
			}
		}
		if len(why) == 0 {
			return true, nil
		}
		failure := "hardware gate: refusing to bootstrap Kubernetes on these nodes (set meshready:benchmarks.gate to false to go on anyway):\n" + strings.Join(why, "\n")
		if err := g.w.write(g.ctx, reportParts{suite: a[1]}); err != nil {
			return false, fmt.Errorf("%s\n(and the report: %w)", failure, err)
		}
		return false, fmt.Errorf("%s\nreport: %s", failure, filepath.Join(g.w.shown, report.MarkdownFile))
	})
	figure := func(o pulumi.Float64Output) pulumi.Float64Output {
		return pulumi.All(pass, o).ApplyT(func(a []any) float64 { return a[1].(float64) }).(pulumi.Float64Output)
	}
	return figure(s.PeerRTTP99Ms), figure(s.FdatasyncP99Ms)
}

// reportParts are the outputs the region report is assembled from: the
// benchmark run's report, then what each later step measured (nil where
// the step is off).
type reportParts struct {
	suite    any
	etcdArgs any
	ionice   string
	upgrade  any
	// moves are the injections' outputs: namespace, from, revision,
	// restarted, seconds, traffic (contract.InjectionResource).
	moves   [][]any
	checks  []any
	latency any
	// podNetwork is what the pod network measured (nil before flannel).
	podNetwork any
}

// assemble builds the region report from the steps' outputs.
func (p reportParts) assemble() (report.Report, error) {
	rep, err := contract.Decode[report.Report](p.suite)
	if err != nil {
		return rep, fmt.Errorf("benchmark report: %w", err)
	}
	if p.etcdArgs != nil {
		args, err := contract.Decode[[]contract.EtcdArg](p.etcdArgs)
		if err != nil {
			return rep, fmt.Errorf("etcd flags: %w", err)
		}
		rep.Etcd = nil
		for _, a := range args {
			rep.Etcd = append(rep.Etcd, report.EtcdFlag{Name: a.Name, Value: a.Value, Why: a.Why})
		}
		if p.ionice != "" {
			rep.Etcd = append(rep.Etcd, report.EtcdFlag{Name: "(ionice)", Value: "-c2 -n0", Why: p.ionice})
		}
	}
	if m, ok := p.upgrade.(map[string]any); ok && len(m) > 0 {
		up, err := contract.Decode[report.Upgrade](p.upgrade)
		if err != nil {
			return rep, fmt.Errorf("upgrade: %w", err)
		}
		rep.Upgrade = &up
	}
	if m, ok := p.podNetwork.(map[string]any); ok && len(m) > 0 {
		pn, err := contract.Decode[report.PodNetwork](p.podNetwork)
		if err != nil {
			return rep, fmt.Errorf("pod network: %w", err)
		}
		rep.PodNetwork = &pn
	}
	if up, err := meshUpgrade(p.moves); err != nil {
		return rep, err
	} else if up != nil {
		rep.MeshUpgrade = up
	}
	for _, c := range p.checks {
		res, err := contract.Decode[report.MeshResult](c)
		if err != nil {
			return rep, fmt.Errorf("mesh checks: %w", err)
		}
		rep = report.WithMeshResult(rep, res)
	}
	if p.latency != nil {
		lat, err := contract.Decode[benchmarks.MeshLatency](p.latency)
		if err != nil {
			return rep, fmt.Errorf("mesh latency: %w", err)
		}
		rep = report.WithMeshLatency(rep, lat)
	}
	return rep, nil
}

// meshUpgrade is the last Istio upgrade, from the namespaces' moves: those
// that came from another revision than the one they are on (nil: none did).
func meshUpgrade(moves [][]any) (*report.MeshUpgrade, error) {
	var up *report.MeshUpgrade
	for _, m := range moves {
		ns, _ := m[0].(string)
		from, _ := m[1].(string)
		rev, _ := m[2].(string)
		if from == "" || from == rev {
			continue
		}
		if up == nil {
			up = &report.MeshUpgrade{From: from, To: rev}
		}
		mv := report.NamespaceMove{Namespace: ns}
		for _, r := range asSlice(m[3]) {
			if s, ok := r.(string); ok {
				mv.Restarted = append(mv.Restarted, s)
			}
		}
		mv.Seconds, _ = m[4].(float64)
		if t, ok := m[5].(map[string]any); ok && len(t) > 0 {
			traffic, err := contract.Decode[report.MoveTraffic](t)
			if err != nil {
				return nil, fmt.Errorf("istio upgrade of %s: %w", ns, err)
			}
			mv.Traffic = &traffic
		}
		up.Namespaces = append(up.Namespaces, mv)
	}
	return up, nil
}

// asSlice is an output's array as []any, whatever its element type.
func asSlice(v any) []any {
	switch a := v.(type) {
	case []any:
		return a
	case []string:
		out := make([]any, len(a))
		for i, s := range a {
			out[i] = s
		}
		return out
	}
	return nil
}

// reportWriter writes the region report into the project: the one place
// report files are written during up. The files are a view of the
// outputs in state; a preview writes nothing.
type reportWriter struct {
	dir string
	// shown is how the folder is named to the user: relative to the
	// project unless it was given.
	shown string
}

func (w reportWriter) write(ctx *pulumi.Context, p reportParts) error {
	if ctx.DryRun() {
		return nil
	}
	if m, ok := p.suite.(map[string]any); !ok || len(m) == 0 {
		// A run stored by a meshready that kept its report in files only.
		ctx.Log.Warn("the benchmark run in state has no report: it is written again when the nodes are next measured", nil)
		return nil
	}
	rep, err := p.assemble()
	if err != nil {
		return err
	}
	return w.writeReport(rep)
}

// writeReport writes rep with the last conformance run, which is no step
// of up and is kept from its own file (report.ReadConformance).
func (w reportWriter) writeReport(rep report.Report) error {
	var err error
	if rep.Conformance, err = report.ReadConformance(w.dir); err != nil {
		return err
	}
	return report.Write(w.dir, rep)
}

// regionReport writes the report once every step it reads has reported,
// and resolves to its folder.
func regionReport(ctx *pulumi.Context, w reportWriter, suite *contract.SuiteResource, k8s *cluster, m *meshComponents) pulumi.StringOutput {
	inputs := []any{suite.Report}
	if k8s != nil {
		cl := k8s.Cluster
		inputs = append(inputs, cl.EtcdArgs, cl.Ionice, cl.Upgrade, k8s.PodNetwork)
	}
	var checks []*contract.ChecksResource
	var latency *contract.LatencyResource
	var injections []*contract.InjectionResource
	if m != nil {
		checks, latency, injections = m.Checks, m.Latency, m.Injections
	}
	for _, j := range injections {
		inputs = append(inputs, pulumi.All(j.Namespace, j.From, j.Revision, j.Restarted, j.Seconds, j.Traffic))
	}
	for _, c := range checks {
		inputs = append(inputs, c.Results)
	}
	if latency != nil {
		inputs = append(inputs, latency.Results)
	}
	return pulumi.All(inputs...).ApplyT(func(a []any) (string, error) {
		p := reportParts{suite: a[0]}
		a = a[1:]
		if k8s != nil {
			p.etcdArgs, p.ionice, p.upgrade, p.podNetwork, a = a[0], a[1].(string), a[2], a[3], a[4:]
		}
		for _, mv := range a[:len(injections)] {
			p.moves = append(p.moves, mv.([]any))
		}
		a = a[len(injections):]
		p.checks, a = a[:len(checks)], a[len(checks):]
		if latency != nil {
			p.latency = a[0]
		}
		if err := w.write(ctx, p); err != nil {
			return "", fmt.Errorf("region report: %w", err)
		}
		return w.shown, nil
	}).(pulumi.StringOutput)
}
