package stacks

import (
	"encoding/json"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/infra"
)

// cluster is a meshready:bootstrap:Cluster: kubeadm over SSH on the pool's
// nodes, run by the provider plugin.
type cluster struct {
	pulumi.CustomResourceState

	Kubeconfig pulumi.StringOutput `pulumi:"kubeconfig"`
	Endpoint   pulumi.StringOutput `pulumi:"endpoint"`
	EtcdArgs   pulumi.ArrayOutput  `pulumi:"etcdArgs"`
}

// newCluster registers the cluster; etcd is tuned from the suite's RTT and
// fdatasync when the benchmarks ran (and the gate, if it failed, stopped up
// before this).
func newCluster(ctx *pulumi.Context, cfg *config.Config, pool *infra.NodePool, s *suite, reportDir string, opts ...pulumi.ResourceOption) (*cluster, error) {
	etcd, err := json.Marshal(cfg.Etcd)
	if err != nil {
		return nil, err
	}
	k := cfg.Kubernetes
	props := pulumi.Map{
		"stack":          pulumi.String(ctx.Stack()),
		"provider":       pulumi.String(cfg.Provider),
		"version":        pulumi.String(k.Version.Tag()),
		"nodes":          pool.Nodes,
		"sshPrivateKey":  pulumi.ToSecret(pool.SSHPrivateKey),
		"podSubnet":      pulumi.String(k.PodSubnet),
		"serviceSubnet":  pulumi.String(k.ServiceSubnet),
		"etcd":           pulumi.String(etcd),
		"peerRttP99Ms":   pulumi.Float64(0),
		"fdatasyncP99Ms": pulumi.Float64(0),
		"reportDir":      pulumi.String(reportDir),
	}
	if s != nil {
		props["peerRttP99Ms"], props["fdatasyncP99Ms"] = s.PeerRTTP99Ms, s.FdatasyncP99Ms
		opts = append(opts, pulumi.DependsOn([]pulumi.Resource{s}))
	}
	if cfg.SSH.IdentityFile != "" {
		props["identityFile"] = pulumi.String(cfg.SSH.IdentityFile)
	}
	opts = append(opts, pulumi.AdditionalSecretOutputs([]string{"kubeconfig"}))
	var c cluster
	if err := ctx.RegisterResource("meshready:bootstrap:Cluster", "kubernetes", props, &c, opts...); err != nil {
		return nil, err
	}
	return &c, nil
}
