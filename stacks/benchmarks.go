package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/infra"
)

// newSuite registers the benchmark run of the pool's nodes (contract.Suite).
func newSuite(ctx *pulumi.Context, cfg *config.Config, pool *infra.NodePool, opts ...pulumi.ResourceOption) (*contract.SuiteResource, error) {
	b := cfg.Benchmarks
	args := contract.SuiteArgs{
		Stack: ctx.Stack(), Region: cfg.Region, Provider: string(cfg.Provider),
		Nodes: pool.Refs, Access: pool.Access,
		Dir: b.Dir, DiskRuntime: b.DiskRuntime.String(), StealIdle: b.StealIdle.String(), StealLoaded: b.StealLoaded.String(),
		Thresholds: contract.Thresholds{
			FdatasyncP99: b.Thresholds.FdatasyncP99.String(), ReadP99: b.Thresholds.ReadP99.String(),
			StealMeanPercent: b.Thresholds.StealMeanPercent, StealMaxPercent: b.Thresholds.StealMaxPercent,
		},
		Gate: b.Gate,
	}
	var s contract.SuiteResource
	if err := contract.Register(ctx, contract.Suite(), "benchmarks", args, &s, opts...); err != nil {
		return nil, err
	}
	return &s, nil
}
