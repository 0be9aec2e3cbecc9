package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pplugin "github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/report"
)

// suites serves contract.Suite: benchmarks.RunAll on every node, judged by
// report.Evaluate. The gate is the program's to apply, on GateFailure.
type suites struct {
	noop[contract.SuiteInputs, contract.SuiteOutputs]
	nodes nodeDialer
	log   *slog.Logger
}

func (s suites) create(ctx context.Context, in contract.SuiteInputs) (string, contract.SuiteOutputs, error) {
	o, th, err := suiteOptions(in)
	if err != nil {
		return "", contract.SuiteOutputs{}, fmt.Errorf("benchmark settings: %w", err)
	}
	o.Log = s.log
	nodes, closeAll, err := s.nodes.all(ctx, in.Nodes, in.Access)
	if err != nil {
		return "", contract.SuiteOutputs{}, fmt.Errorf("benchmarks: %w", err)
	}
	defer closeAll()
	s.log.InfoContext(ctx, "benchmarking nodes", "nodes", len(nodes), "region", in.Region)
	results, rtts, notes := benchmarks.RunAll(ctx, nodes, o)
	if err := ctx.Err(); err != nil {
		return "", contract.SuiteOutputs{}, err
	}
	rep := report.Evaluate(in.Region, in.Provider, results, rtts, th, time.Now().UTC())
	rep.Notes = append(rep.Notes, notes...)
	out, err := suiteOutputs(in, rep)
	return fmt.Sprintf("%s-%d", in.Stack, rep.Generated.Unix()), out, err
}

// update measures the nodes that are new to the run (joining, or a new
// server behind a name) and those that failed the gate while it is on (the
// hardware may have got better: a noisy neighbour gone), with the RTTs
// to and from them; every other node keeps its figures, unmeasured, and
// a node that left leaves the run. A new gate setting alone measures
// nothing.
func (s suites) update(ctx context.Context, _ string, old contract.SuiteOutputs, in contract.SuiteInputs) (contract.SuiteOutputs, error) {
	prev, err := contract.Decode[report.Report](old.Report)
	if err != nil || len(prev.Nodes) == 0 {
		// A run stored without its report (an older meshready): measure it whole.
		_, out, err := s.create(ctx, in)
		return out, err
	}
	kept := map[string]contract.NodeRef{}
	for _, n := range old.Nodes {
		kept[n.Name] = n
	}
	failed := map[string]bool{}
	if in.Gate {
		for node := range old.GateFailures {
			failed[node] = true
		}
	}
	measure := map[string]bool{}
	for _, n := range in.Nodes {
		if k, ok := kept[n.Name]; !ok || k != n || failed[n.Name] {
			measure[n.Name] = true
		}
	}
	in2 := map[string]bool{}
	for _, n := range in.Nodes {
		in2[n.Name] = true
	}
	var results []benchmarks.NodeResult
	var rtts []benchmarks.RTT
	var notes []string
	if len(measure) > 0 {
		o, th, err := suiteOptions(in)
		if err != nil {
			return old, fmt.Errorf("benchmark settings: %w", err)
		}
		o.Log = s.log
		nodes, closeAll, err := s.nodes.all(ctx, in.Nodes, in.Access)
		if err != nil {
			return old, fmt.Errorf("benchmarks: %w", err)
		}
		defer closeAll()
		s.log.InfoContext(ctx, "benchmarking nodes", "nodes", len(measure), "kept", len(in.Nodes)-len(measure), "region", in.Region)
		fresh, freshRTTs, freshNotes := benchmarks.RunSome(ctx, nodes, measure, o)
		if err := ctx.Err(); err != nil {
			return old, err
		}
		byName := map[string]benchmarks.NodeResult{}
		for _, r := range prev.Nodes {
			byName[r.Node] = r
		}
		for _, n := range in.Nodes {
			if r, ok := fresh[n.Name]; ok {
				results = append(results, r)
			} else {
				results = append(results, byName[n.Name])
			}
		}
		for _, r := range prev.Network {
			if in2[r.From] && in2[r.To] && !measure[r.From] && !measure[r.To] {
				rtts = append(rtts, r)
			}
		}
		rtts = append(rtts, freshRTTs...)
		notes = freshNotes
		rep := report.Evaluate(in.Region, in.Provider, results, rtts, th, time.Now().UTC())
		rep.Notes = append(rep.Notes, notes...)
		return suiteOutputs(in, rep)
	}
	// Nothing to measure: nodes that left leave the run, and it is judged again.
	_, th, err := suiteOptions(in)
	if err != nil {
		return old, fmt.Errorf("benchmark settings: %w", err)
	}
	for _, r := range prev.Nodes {
		if in2[r.Node] {
			results = append(results, r)
		}
	}
	for _, r := range prev.Network {
		if in2[r.From] && in2[r.To] {
			rtts = append(rtts, r)
		}
	}
	if len(results) == len(prev.Nodes) {
		old.SuiteInputs = in
		gateFailures(&old, prev)
		return old, nil
	}
	rep := report.Evaluate(in.Region, in.Provider, results, rtts, th, prev.Generated)
	return suiteOutputs(in, rep)
}

// diff measures again, in place, the nodes of a run that failed the gate
// while the gate is on: the next up checks whether their hardware got
// better instead of failing on old figures for ever.
func (s suites) diff(oldOutputs, news resource.PropertyMap, d pplugin.DiffResult) pplugin.DiffResult {
	old, err := decode[contract.SuiteOutputs](oldOutputs)
	in, err2 := decode[contract.SuiteInputs](news)
	if err != nil || err2 != nil || old.GateFailure == "" || !in.Gate {
		return d
	}
	d.Changes = pplugin.DiffSome
	d.ChangedKeys = append(d.ChangedKeys, "gate")
	return d
}

func suiteOptions(in contract.SuiteInputs) (benchmarks.Options, config.Thresholds, error) {
	var o benchmarks.Options
	var th config.Thresholds
	var errs []error
	dur := func(s string) time.Duration {
		d, err := time.ParseDuration(s)
		errs = append(errs, err)
		return d
	}
	o.Dir, o.DiskRuntime, o.StealIdle, o.StealLoaded = in.Dir, dur(in.DiskRuntime), dur(in.StealIdle), dur(in.StealLoaded)
	th.FdatasyncP99 = config.Duration(dur(in.Thresholds.FdatasyncP99))
	th.ReadP99 = config.Duration(dur(in.Thresholds.ReadP99))
	th.StealMeanPercent, th.StealMaxPercent = in.Thresholds.StealMeanPercent, in.Thresholds.StealMaxPercent
	return o, th, errors.Join(errs...)
}

// gateFailures sets why r fails the gate, as a whole and node by node.
func gateFailures(out *contract.SuiteOutputs, r report.Report) {
	out.GateFailure, out.GateFailures = "", nil
	err := report.Gate(r)
	var g *report.GateError
	if !errors.As(err, &g) {
		return
	}
	out.GateFailure = err.Error()
	out.GateFailures = map[string]string{}
	for _, c := range g.Failed {
		why := fmt.Sprintf("%s %s (threshold %s)", c.ID, c.Measured, c.Threshold)
		if prev := out.GateFailures[c.Node]; prev != "" {
			why = prev + "; " + why
		}
		out.GateFailures[c.Node] = why
	}
}

// suiteOutputs are the inputs, the whole report, and the summary: each
// claim's verdict, the gate's, and the figures etcd is tuned from.
func suiteOutputs(in contract.SuiteInputs, r report.Report) (contract.SuiteOutputs, error) {
	out := contract.SuiteOutputs{SuiteInputs: in, Generated: r.Generated.Format(time.RFC3339)}
	for _, c := range r.Claims {
		out.Claims = append(out.Claims, contract.ClaimSummary{ID: c.ID, Node: c.Node, Verdict: string(c.Verdict), Measured: c.Measured})
	}
	var rttP99, fsyncP99 time.Duration
	for _, x := range r.Network {
		rttP99 = max(rttP99, x.Latency.P99)
	}
	for _, n := range r.Nodes {
		if n.Role == config.RoleControlPlane && n.Disk.Fdatasync != nil {
			fsyncP99 = max(fsyncP99, n.Disk.Fdatasync.P99)
		}
	}
	out.PeerRTTP99Ms = float64(rttP99.Microseconds()) / 1000
	out.FdatasyncP99Ms = float64(fsyncP99.Microseconds()) / 1000
	gateFailures(&out, r)
	rep, err := contract.Plain(r)
	if err != nil {
		return out, err
	}
	out.Report, _ = rep.(map[string]any)
	return out, nil
}
