package stacks

import (
	"fmt"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/report"
)

// gated are the benchmark figures etcd is tuned from, let through by the
// hardware gate: when the run failed it and benchmarks.gate is on, they
// fail instead, and so does up, before Kubernetes (the run is measured
// again at the next up, see contract.Suite).
type gated struct {
	Suite                        *contract.SuiteResource
	PeerRTTP99Ms, FdatasyncP99Ms pulumi.Float64Output
}

// gate applies the hardware gate to the suite's run. A run it stops gets
// its report written here: nothing after it will run to add to it.
func gate(ctx *pulumi.Context, suite *contract.SuiteResource, on bool, w reportWriter) *gated {
	pass := pulumi.All(suite.GateFailure, suite.Report).ApplyT(func(a []any) (bool, error) {
		failure, _ := a[0].(string)
		if failure == "" || !on {
			return true, nil
		}
		if err := w.write(ctx, reportParts{suite: a[1]}); err != nil {
			return false, fmt.Errorf("%s\n(and the report: %w)", failure, err)
		}
		return false, fmt.Errorf("%s\nreport: %s", failure, filepath.Join(w.shown, report.MarkdownFile))
	})
	figure := func(o pulumi.Float64Output) pulumi.Float64Output {
		return pulumi.All(pass, o).ApplyT(func(a []any) float64 { return a[1].(float64) }).(pulumi.Float64Output)
	}
	return &gated{Suite: suite, PeerRTTP99Ms: figure(suite.PeerRTTP99Ms), FdatasyncP99Ms: figure(suite.FdatasyncP99Ms)}
}

// reportParts are the outputs the region report is assembled from: the
// benchmark run's report, then what each later step measured (nil where
// the step is off).
type reportParts struct {
	suite    any
	etcdArgs any
	ionice   string
	checks   []any
	latency  any
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
	return report.Write(w.dir, rep)
}

// regionReport writes the report once every step it reads has reported,
// and resolves to its folder.
func regionReport(ctx *pulumi.Context, w reportWriter, suite *contract.SuiteResource, cl *contract.ClusterResource, m *meshComponents) pulumi.StringOutput {
	inputs := []any{suite.Report}
	if cl != nil {
		inputs = append(inputs, cl.EtcdArgs, cl.Ionice)
	}
	var checks []*contract.ChecksResource
	var latency *contract.LatencyResource
	if m != nil {
		checks, latency = m.Checks, m.Latency
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
		if cl != nil {
			p.etcdArgs, p.ionice, a = a[0], a[1].(string), a[2:]
		}
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
