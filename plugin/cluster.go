package plugin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
)

// clusters serves contract.Cluster: bootstrap.Bootstrap with etcd tuned
// by bootstrap.TuneEtcd, bootstrap.Reset on delete where nodes survive.
// Local nodes get Kubernetes from the bundle the program names.
type clusters struct {
	noop[contract.ClusterInputs, contract.ClusterOutputs]
	nodes nodeDialer
	log   *slog.Logger
}

func (c clusters) create(ctx context.Context, in contract.ClusterInputs) (string, contract.ClusterOutputs, error) {
	out := contract.ClusterOutputs{ClusterInputs: in}
	knobs, err := config.ParseEtcd(in.Etcd)
	if err != nil {
		return "", out, err
	}
	controlPlanes := 0
	for _, n := range in.Nodes {
		if n.Role == config.RoleControlPlane {
			controlPlanes++
		}
	}
	tuning, err := bootstrap.TuneEtcd(bootstrap.Measured{
		PeerRTTP99:    time.Duration(in.PeerRTTP99Ms * float64(time.Millisecond)),
		FdatasyncP99:  time.Duration(in.FdatasyncP99Ms * float64(time.Millisecond)),
		ControlPlanes: controlPlanes,
	}, knobs)
	if err != nil {
		return "", out, err
	}
	local := config.Provider(in.Provider) == config.ProviderLocal
	plan := bootstrap.Plan{
		Version: config.Version(in.Version), PodSubnet: in.PodSubnet, ServiceSubnet: in.ServiceSubnet,
		Etcd: tuning, Container: local, Log: c.log,
		Token: config.Secret(randomToken()), CertKey: config.Secret(randomHex(32)),
	}
	if in.Bundle != nil {
		plan.Source.Bundle = in.Bundle.Dir
		for _, im := range in.Bundle.Images {
			plan.Source.Images = append(plan.Source.Images, bootstrap.BundleImage{Ref: im.Ref, Tarball: im.Tarball})
		}
	} else if local {
		return "", out, fmt.Errorf("local nodes need the air-gapped Kubernetes bundle, and the program gave none")
	}
	nodes, closeAll, err := c.nodes.all(ctx, in.Nodes, in.Access)
	if err != nil {
		return "", out, fmt.Errorf("bootstrap: %w", err)
	}
	defer closeAll()
	plan.Nodes = nodes
	res, err := bootstrap.Bootstrap(ctx, plan)
	if err != nil {
		return "", out, err
	}
	out.Kubeconfig, out.Endpoint, out.CACertHash = res.Kubeconfig.Reveal(), res.Endpoint, res.CACertHash
	flags, ionice := tuning.Flags()
	for _, f := range flags {
		out.EtcdArgs = append(out.EtcdArgs, contract.EtcdArg{Name: f.Name, Value: f.Value, Why: f.Why})
	}
	out.Ionice = ionice
	return in.Stack + "-" + strings.TrimPrefix(res.CACertHash, "sha256:")[:12], out, nil
}

// delete resets kubeadm on nodes that outlive the stack; servers the stack
// created are deleted right after, reset or not.
func (c clusters) delete(ctx context.Context, _ string, in contract.ClusterInputs, _ contract.ClusterOutputs) error {
	if config.Provider(in.Provider) != config.ProviderStatic {
		return nil
	}
	nodes, closeAll, err := c.nodes.all(ctx, in.Nodes, in.Access)
	if err != nil {
		return fmt.Errorf("kubeadm reset: %w", err)
	}
	defer closeAll()
	return bootstrap.Reset(ctx, nodes)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// randomToken is a kubeadm bootstrap token: [a-z0-9]{6}.[a-z0-9]{16}.
func randomToken() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 22)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:6]) + "." + string(b[6:])
}
