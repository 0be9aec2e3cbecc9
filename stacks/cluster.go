package stacks

import (
	"encoding/json"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/infra"
)

// cluster is a stack's Kubernetes as the program registers it.
type cluster struct {
	Cluster *contract.ClusterResource
	// Ready is the pod network: every node joined and Ready. Whatever runs
	// on the cluster depends on it.
	Ready pulumi.Resource
	// EtcdSnapshots are the automatic snapshots on the first control plane.
	EtcdSnapshots pulumi.StringArrayOutput
	// PodNetwork is what the pod network measured (report.PodNetwork).
	PodNetwork pulumi.AnyOutput
}

// newKubernetes registers the cluster (contract.Cluster) on the first
// control plane, a membership (contract.Member) for every other node, and
// the pod network over them all (contract.PodNetwork). Control planes
// join one after another, each member depending on the one before, so
// etcd grows, shrinks (deletes run in reverse) and is retuned a member at
// a time; workers join together. etcd is tuned from the figures the gate
// let through (measured), or from none: a worker that fails the gate
// holds back its own join alone, a control plane the cluster's changes.
func newKubernetes(ctx *pulumi.Context, cfg *config.Config, env Env, pool *infra.NodePool, measured *gated, opts ...pulumi.ResourceOption) (*cluster, error) {
	etcd, err := json.Marshal(cfg.Etcd)
	if err != nil {
		return nil, err
	}
	k := cfg.Kubernetes
	b, err := env.kubeBundle(ctx, cfg)
	if err != nil {
		return nil, err
	}
	specs := infra.Plan(ctx.Stack(), cfg)
	var controlPlanes []string
	for _, s := range specs {
		if s.Role == config.RoleControlPlane {
			controlPlanes = append(controlPlanes, s.Name)
		}
	}
	// figures are the benchmarks' figures as the gate lets them through
	// for nodes; zero when nothing was measured.
	figures := func(nodes ...string) (pulumi.Float64Input, pulumi.Float64Input) {
		if measured == nil {
			return pulumi.Float64(0), pulumi.Float64(0)
		}
		return measured.figures(nodes...)
	}
	if measured != nil {
		opts = append(opts, pulumi.DependsOn([]pulumi.Resource{measured.Suite}))
	}
	cp := pool.NodeRefs[0]
	rtt, fsync := figures(controlPlanes...)
	schedulable := cfg.Nodes.Workers == 0
	var cl contract.ClusterResource
	if err := contract.Register(ctx, contract.Cluster(), "kubernetes", contract.ClusterArgs{
		Bundle: b,
		Stack:  ctx.Stack(), Provider: string(cfg.Provider), Version: k.Version.Tag(),
		ControlPlane: cp, Nodes: pool.Refs, Access: pool.Access,
		PodSubnet: k.PodSubnet, ServiceSubnet: k.ServiceSubnet, Etcd: string(etcd),
		ControlPlanes: cfg.Nodes.ControlPlanes, Schedulable: schedulable, SnapshotsKeep: cfg.EtcdSnapshots.Keep,
		PeerRTTP99Ms: rtt, FdatasyncP99Ms: fsync, DrainTimeout: cfg.Nodes.DrainTimeout.String(),
	}, &cl, opts...); err != nil {
		return nil, err
	}

	joined := []pulumi.Resource{&cl}
	var previous pulumi.Resource = &cl // the control plane the next one joins after
	for i, spec := range specs[1:] {
		// Deleted with the cluster (destroy), a member is not drained: there
		// is no node left to drain it to.
		mopts := append([]pulumi.ResourceOption{pulumi.DeletedWith(&cl)}, opts...)
		rtt, fsync := figures(spec.Name)
		if spec.Role == config.RoleControlPlane {
			mopts = append(mopts, pulumi.DependsOn([]pulumi.Resource{previous}))
			rtt, fsync = figures(controlPlanes...)
		}
		var flags pulumi.StringMapInput // a control plane's etcd takes the cluster's flags
		if spec.Role == config.RoleControlPlane {
			flags = etcdFlags(cl.EtcdArgs)
		}
		var m contract.MemberResource
		if err := contract.Register(ctx, contract.Member(), spec.Name, contract.MemberArgs{
			Bundle: b,
			Stack:  ctx.Stack(), Provider: string(cfg.Provider), Version: k.Version.Tag(),
			Node: pool.NodeRefs[i+1], ControlPlane: cp, Access: pool.Access,
			Endpoint: cl.Endpoint, CACertHash: cl.CACertHash,
			PodSubnet: k.PodSubnet, ServiceSubnet: k.ServiceSubnet, Etcd: string(etcd),
			ControlPlanes: cfg.Nodes.ControlPlanes, Schedulable: schedulable, SnapshotsKeep: cfg.EtcdSnapshots.Keep,
			PeerRTTP99Ms: rtt, FdatasyncP99Ms: fsync,
			EtcdFlags: flags, DrainTimeout: cfg.Nodes.DrainTimeout.String(),
		}, &m, mopts...); err != nil {
			return nil, err
		}
		if spec.Role == config.RoleControlPlane {
			previous = &m
		}
		joined = append(joined, &m)
	}

	netArgs := contract.PodNetworkArgs{
		Stack: ctx.Stack(), Nodes: pool.Refs, Access: pool.Access, EtcdFlags: etcdFlags(cl.EtcdArgs),
		CNI: k.PodNetwork, PodSubnet: k.PodSubnet,
	}
	if k.PodNetwork != config.PodNetworkHostRoutes { // unset may settle on flannel
		f, err := env.flanneld(ctx)
		if err != nil {
			return nil, err
		}
		netArgs.FlanneldPath, netArgs.FlanneldSHA256 = f.Path, f.SHA256
	}
	var network contract.PodNetworkResource
	if err := contract.Register(ctx, contract.PodNetwork(), "pod-network", netArgs, &network, append(opts, pulumi.DependsOn(joined))...); err != nil {
		return nil, err
	}
	return &cluster{Cluster: &cl, Ready: &network, EtcdSnapshots: network.EtcdSnapshots, PodNetwork: network.Measured}, nil
}

// etcdFlags are the cluster's etcd flags by name: what a control plane's
// etcd must run with (the reasons are the cluster's to report).
func etcdFlags(args pulumi.ArrayOutput) pulumi.StringMapOutput {
	return args.ApplyT(func(a []any) (map[string]string, error) {
		list, err := contract.Decode[[]contract.EtcdArg](a)
		out := map[string]string{}
		for _, f := range list {
			out[f.Name] = f.Value
		}
		return out, err
	}).(pulumi.StringMapOutput)
}
