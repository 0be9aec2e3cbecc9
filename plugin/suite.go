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
	s.log.Info("benchmarking nodes", "nodes", len(nodes), "region", in.Region)
	results, rtts, notes := benchmarks.RunAll(ctx, nodes, o)
	if err := ctx.Err(); err != nil {
		return "", contract.SuiteOutputs{}, err
	}
	rep := report.Evaluate(in.Region, in.Provider, results, rtts, th, time.Now().UTC())
	rep.Notes = append(rep.Notes, notes...)
	out, err := suiteOutputs(in, rep)
	return fmt.Sprintf("%s-%d", in.Stack, rep.Generated.Unix()), out, err
}

// update applies a new gate setting: nothing to measure again.
func (s suites) update(_ context.Context, _ string, old contract.SuiteOutputs, in contract.SuiteInputs) (contract.SuiteOutputs, error) {
	old.SuiteInputs = in
	return old, nil
}

// diff measures again a run that failed the gate while the gate is on:
// the next up checks whether the hardware got better (a noisy neighbour
// gone) instead of failing on old figures for ever.
func (s suites) diff(oldOutputs, news resource.PropertyMap, d pplugin.DiffResult) pplugin.DiffResult {
	old, err := decode[contract.SuiteOutputs](oldOutputs)
	in, err2 := decode[contract.SuiteInputs](news)
	if err != nil || err2 != nil || old.GateFailure == "" || !in.Gate {
		return d
	}
	d.Changes = pplugin.DiffSome
	d.ReplaceKeys = append(d.ReplaceKeys, "gate")
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
	if err := report.Gate(r); err != nil {
		out.GateFailure = err.Error()
	}
	rep, err := contract.Plain(r)
	if err != nil {
		return out, err
	}
	out.Report, _ = rep.(map[string]any)
	return out, nil
}
