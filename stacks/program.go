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
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/infra"
	"github.com/meshready/meshready/report"
)

// Env is what the program needs to know about where it runs.
type Env struct {
	// ProjectDir is the folder with Pulumi.yaml; reports go under its .meshready/.
	// Empty means the engine's root directory (plain pulumi up), else the working directory.
	ProjectDir string
	// LocalMesh is what a local stack installs its mesh from; nil builds or
	// finds it in meshready's cache (MESHREADY_CACHE) when a local stack needs it.
	LocalMesh *bundle.Mesh
	// LocalCanaryMesh is the same for an Istio canary's version (nil: built
	// or found when istio.canary asks for it).
	LocalCanaryMesh *bundle.Mesh
	// LocalKubernetes is the air-gapped Kubernetes bundle local nodes install;
	// nil builds or finds it in meshready's cache when a local stack needs it.
	LocalKubernetes *bundle.Bundle
	// Flanneld is the flannel daemon nodes of a flannel pod network get;
	// nil builds or finds it in meshready's cache when a stack needs it.
	Flanneld *bundle.Flanneld
	// ReportDir is where up writes the region report; "" is report.Dir of
	// the stack, in ProjectDir.
	ReportDir string
	// Owner names the backend and project the stack's state lives in
	// (engine.Project.Owner): every server and cloud object is labelled
	// with it, so gc --orphans knows what this backend made. "" (plain
	// pulumi up) labels nothing.
	Owner string
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
	reports := reportWriter{dir: filepath.Join(env.ProjectDir, report.Dir(ctx.Stack())), shown: report.Dir(ctx.Stack())}
	if env.ReportDir != "" {
		reports.dir, reports.shown = env.ReportDir, env.ReportDir
	}

	// 1. Nodes: the servers Kubernetes will run on.
	pool, err := infra.NewNodePool(ctx, "nodes", &infra.NodePoolArgs{Stack: ctx.Stack(), Config: cfg, Owner: env.Owner}, pulumi.Parent(region))
	if err != nil {
		return err
	}

	// 2. Benchmarks: measure disk, CPU steal and RTT on every node; the
	// hardware gate stops here when the run fails it.
	var suite *contract.SuiteResource
	var measured *gated
	if cfg.Benchmarks.Enabled {
		if suite, err = newSuite(ctx, cfg, pool, pulumi.Parent(region)); err != nil {
			return err
		}
		measured = gate(ctx, suite, cfg.Benchmarks.Gate, reports)
	}

	// 3. Kubernetes: kubeadm init on the first control plane, a membership
	// per other node (host prep, containerd, join), the pod network, all
	// nodes Ready; etcd tuned from the RTT and fdatasync measured above.
	var k8s *cluster
	var cl *contract.ClusterResource
	var m *meshComponents
	if cfg.Kubernetes.Enabled {
		k8s, err = newKubernetes(ctx, cfg, env, pool, measured, pulumi.Parent(region))
		if err != nil {
			return err
		}
		cl = k8s.Cluster
		ctx.Export("kubeconfig", cl.Kubeconfig)
		ctx.Export("apiServer", cl.Endpoint)
		ctx.Export("etcd", cl.EtcdArgs)
		ctx.Export("etcdSnapshots", k8s.EtcdSnapshots)

		// 4. Mesh: Istio (base, istiod), injected namespaces, mTLS policy,
		// canary routes, addons, checks and latency, on a Kubernetes
		// provider built from the kubeconfig.
		if cfg.Istio.Enabled {
			src, err := env.meshSource(ctx, cfg)
			if err != nil {
				return err
			}
			m, err = newMesh(ctx, cfg, meshCluster{Kubeconfig: cl.Kubeconfig, Nodes: pool.Refs, Access: pool.Access, Cluster: k8s.Ready}, src, pulumi.Parent(region))
			if err != nil {
				return err
			}
			ctx.Export("dashboards", m.Dashboards)
		}
	}

	// 5. The region report, assembled from what every step output.
	if suite != nil {
		ctx.Export("benchmarks", pulumi.Map{
			"claims":         suite.Claims,
			"report":         regionReport(ctx, reports, suite, k8s, m),
			"peerRttP99Ms":   suite.PeerRTTP99Ms,
			"fdatasyncP99Ms": suite.FdatasyncP99Ms,
		})
	}

	ctx.Export("region", pulumi.String(cfg.Region))
	ctx.Export("provider", pulumi.String(cfg.Provider))
	ctx.Export("kubernetesVersion", pulumi.String(cfg.Kubernetes.Version.Tag()))
	ctx.Export("podSubnet", pulumi.String(cfg.Kubernetes.PodSubnet))
	ctx.Export("serviceSubnet", pulumi.String(cfg.Kubernetes.ServiceSubnet))
	ctx.Export("nodes", pool.Nodes)
	ctx.Export("sshPrivateKey", pulumi.ToSecret(pool.Access.SSHPrivateKey))
	return region.finish(ctx, pulumi.Map{"nodes": pool.Nodes})
}

// region is the root component of a stack: everything the pipeline creates is
// its child, so `pulumi stack` shows one tree per region.
type region struct {
	pulumi.ResourceState
}

func newRegion(ctx *pulumi.Context, cfg *config.Config) (*region, error) {
	r := &region{}
	if err := ctx.RegisterComponentResource(contract.RegionComponent, cfg.Region, r); err != nil {
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
