// Package stacks holds the stack files (Pulumi.<stack>.yaml, one per region)
// and the one Pulumi program that every entry point runs: `pulumi up` through
// main.go, and `meshready up` through the Automation API.
package stacks

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/bundle"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/infra"
)

// Env is what the program needs to know about where it runs.
type Env struct {
	// ProjectDir is the folder with Pulumi.yaml; reports go under its .meshready/.
	// Empty means the engine's root directory (plain pulumi up), else the working directory.
	ProjectDir string
	// LocalMesh is what a local stack installs its mesh from; nil builds or
	// finds it in meshready's cache (MESHREADY_CACHE) when a local stack needs it.
	LocalMesh *bundle.Mesh
}

// Program returns the Pulumi program for a stack's raw configuration. It
// validates first and fails before registering any resource, so bad config
// never creates or changes anything.
func Program(raw config.Raw, env Env) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cfg, err := config.Parse(raw)
		if err != nil {
			return fmt.Errorf("stack %s: bad configuration, nothing was changed:\n%w", ctx.Stack(), err)
		}
		if env.ProjectDir == "" {
			env.ProjectDir = ctx.RootDirectory()
		}
		if env.ProjectDir == "" {
			if env.ProjectDir, err = os.Getwd(); err != nil {
				return err
			}
		}
		return Pipeline(ctx, cfg, env)
	}
}

// Pipeline is a region's whole life, top to bottom. Read this first.
func Pipeline(ctx *pulumi.Context, cfg *config.Config, env Env) error {
	region, err := newRegion(ctx, cfg)
	if err != nil {
		return err
	}

	// 1. Nodes: the servers Kubernetes will run on.
	pool, err := infra.NewNodePool(ctx, "nodes", &infra.NodePoolArgs{Stack: ctx.Stack(), Config: cfg}, pulumi.Parent(region))
	if err != nil {
		return err
	}

	// 2. Benchmarks: measure disk, CPU steal and RTT on every node, write the
	// region's report, and stop here if the hardware gate fails.
	var suite *suite
	reportDir := filepath.Join(env.ProjectDir, ".meshready", "reports", ctx.Stack())
	if cfg.Benchmarks.Enabled {
		suite, err = newSuite(ctx, cfg, pool, reportDir, pulumi.Parent(region))
		if err != nil {
			return err
		}
		ctx.Export("benchmarks", pulumi.Map{
			"claims":         suite.Claims,
			"report":         suite.ReportDir,
			"peerRttP99Ms":   suite.PeerRTTP99Ms,
			"fdatasyncP99Ms": suite.FdatasyncP99Ms,
		})
	}

	// 3. Kubernetes: host prep, containerd, kubeadm init, joins, pod network,
	// all nodes Ready; etcd tuned from the RTT and fdatasync measured above.
	if cfg.Kubernetes.Enabled {
		cl, err := newCluster(ctx, cfg, pool, suite, reportDir, pulumi.Parent(region))
		if err != nil {
			return err
		}
		ctx.Export("kubeconfig", cl.Kubeconfig)
		ctx.Export("apiServer", cl.Endpoint)
		ctx.Export("etcd", cl.EtcdArgs)

		// 4. Mesh: Istio (base, istiod), injected namespaces, mTLS policy,
		// canary routes, on a Kubernetes provider built from the kubeconfig.
		if cfg.Istio.Enabled {
			src, err := env.meshSource(ctx, cfg)
			if err != nil {
				return err
			}
			m, err := newMesh(ctx, cfg, meshCluster{Kubeconfig: cl.Kubeconfig, Nodes: pool.Nodes, SSHPrivateKey: pool.SSHPrivateKey,
				IdentityFile: cfg.SSH.IdentityFile, Cluster: cl, ReportDir: reportDir}, src, pulumi.Parent(region))
			if err != nil {
				return err
			}
			ctx.Export("dashboards", m.Dashboards)
		}
	}

	ctx.Export("region", pulumi.String(cfg.Region))
	ctx.Export("provider", pulumi.String(cfg.Provider))
	ctx.Export("kubernetesVersion", pulumi.String(cfg.Kubernetes.Version.Tag()))
	ctx.Export("nodes", pool.Nodes)
	ctx.Export("sshPrivateKey", pulumi.ToSecret(pool.SSHPrivateKey))
	return region.finish(ctx, pulumi.Map{"nodes": pool.Nodes})
}

// region is the root component of a stack: everything the pipeline creates is
// its child, so `pulumi stack` shows one tree per region.
type region struct {
	pulumi.ResourceState
}

func newRegion(ctx *pulumi.Context, cfg *config.Config) (*region, error) {
	r := &region{}
	if err := ctx.RegisterComponentResource("meshready:stack:Region", cfg.Region, r); err != nil {
		return nil, fmt.Errorf("register region %s: %w", cfg.Region, err)
	}
	return r, nil
}

// finish registers the region's outputs: a component without them shows as
// "creating" forever.
func (r *region) finish(ctx *pulumi.Context, outs pulumi.Map) error {
	if err := ctx.RegisterResourceOutputs(r, outs); err != nil {
		return fmt.Errorf("region outputs: %w", err)
	}
	return nil
}
