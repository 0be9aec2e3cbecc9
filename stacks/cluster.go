package stacks

import (
	"encoding/json"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/infra"
)

// newCluster registers the cluster (contract.Cluster); etcd is tuned from
// the figures the gate let through (measured), or from none.
func newCluster(ctx *pulumi.Context, cfg *config.Config, env Env, pool *infra.NodePool, measured *gated, opts ...pulumi.ResourceOption) (*contract.ClusterResource, error) {
	etcd, err := json.Marshal(cfg.Etcd)
	if err != nil {
		return nil, err
	}
	k := cfg.Kubernetes
	b, err := env.kubeBundle(ctx, cfg)
	if err != nil {
		return nil, err
	}
	args := contract.ClusterArgs{
		Bundle: b,
		Stack:  ctx.Stack(), Provider: string(cfg.Provider), Version: k.Version.Tag(),
		Nodes: pool.Refs, Access: pool.Access,
		PodSubnet: k.PodSubnet, ServiceSubnet: k.ServiceSubnet, Etcd: string(etcd),
		PeerRTTP99Ms: pulumi.Float64(0), FdatasyncP99Ms: pulumi.Float64(0),
	}
	if measured != nil {
		args.PeerRTTP99Ms, args.FdatasyncP99Ms = measured.PeerRTTP99Ms, measured.FdatasyncP99Ms
		opts = append(opts, pulumi.DependsOn([]pulumi.Resource{measured.Suite}))
	}
	var c contract.ClusterResource
	if err := contract.Register(ctx, contract.Cluster(), "kubernetes", args, &c, opts...); err != nil {
		return nil, err
	}
	return &c, nil
}
