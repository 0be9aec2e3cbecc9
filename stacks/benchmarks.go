package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/infra"
)

// suite is a meshready:benchmarks:Suite: the hardware checks of a stack's
// nodes, run by the provider plugin once per set of nodes.
type suite struct {
	pulumi.CustomResourceState

	Claims         pulumi.ArrayOutput   `pulumi:"claims"`
	ReportDir      pulumi.StringOutput  `pulumi:"reportDir"`
	PeerRTTP99Ms   pulumi.Float64Output `pulumi:"peerRttP99Ms"`
	FdatasyncP99Ms pulumi.Float64Output `pulumi:"fdatasyncP99Ms"`
}

// newSuite registers the benchmark run of the pool's nodes. Its report goes to
// .meshready/reports/<stack>; with benchmarks.gate it fails on hardware that
// fails etcd's disk test or steals CPU, before anything is bootstrapped.
func newSuite(ctx *pulumi.Context, cfg *config.Config, pool *infra.NodePool, reportDir string, opts ...pulumi.ResourceOption) (*suite, error) {
	b := cfg.Benchmarks
	props := pulumi.Map{
		"stack":         pulumi.String(ctx.Stack()),
		"region":        pulumi.String(cfg.Region),
		"provider":      pulumi.String(cfg.Provider),
		"nodes":         pool.Nodes,
		"sshPrivateKey": pulumi.ToSecret(pool.SSHPrivateKey),
		"dir":           pulumi.String(b.Dir),
		"diskRuntime":   pulumi.String(b.DiskRuntime.String()),
		"stealIdle":     pulumi.String(b.StealIdle.String()),
		"stealLoaded":   pulumi.String(b.StealLoaded.String()),
		"thresholds": pulumi.Map{
			"fdatasyncP99":     pulumi.String(b.Thresholds.FdatasyncP99.String()),
			"readP99":          pulumi.String(b.Thresholds.ReadP99.String()),
			"stealMeanPercent": pulumi.Float64(b.Thresholds.StealMeanPercent),
			"stealMaxPercent":  pulumi.Float64(b.Thresholds.StealMaxPercent),
		},
		"gate":      pulumi.Bool(b.Gate),
		"reportDir": pulumi.String(reportDir),
	}
	if cfg.SSH.IdentityFile != "" {
		props["identityFile"] = pulumi.String(cfg.SSH.IdentityFile)
	}
	var s suite
	if err := ctx.RegisterResource("meshready:benchmarks:Suite", "benchmarks", props, &s, opts...); err != nil {
		return nil, err
	}
	return &s, nil
}
