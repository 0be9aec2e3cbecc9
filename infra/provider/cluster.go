package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/remote"
	"github.com/meshready/meshready/report"
)

// ClusterType is a stack's Kubernetes cluster, bootstrapped with kubeadm over
// SSH. Its Create runs the whole bootstrap (each step skips what is done, so
// a killed up converges on the next), Delete runs kubeadm reset on nodes that
// outlive the stack (static servers).
const ClusterType tokens.Type = "meshready:bootstrap:Cluster"

// ClusterInputs are a Cluster's inputs.
type ClusterInputs struct {
	Stack         string      `json:"stack"`
	Provider      string      `json:"provider"`
	Version       string      `json:"version"`
	Nodes         []SuiteNode `json:"nodes"`
	SSHPrivateKey string      `json:"sshPrivateKey,omitempty"`
	IdentityFile  string      `json:"identityFile,omitempty"`
	PodSubnet     string      `json:"podSubnet"`
	ServiceSubnet string      `json:"serviceSubnet"`
	// Etcd is the meshready:etcd config (each knob auto or a value), as JSON.
	Etcd string `json:"etcd"`
	// PeerRTTP99Ms and FdatasyncP99Ms come from the benchmarks (0 when not measured).
	PeerRTTP99Ms   float64 `json:"peerRttP99Ms"`
	FdatasyncP99Ms float64 `json:"fdatasyncP99Ms"`
	// ReportDir is the region report the chosen etcd flags are added to.
	ReportDir string `json:"reportDir,omitempty"`
}

// BundleFunc returns the air-gapped bundle of a Kubernetes version as the
// nodes see it (local stacks), building it first if needed.
type BundleFunc func(ctx context.Context, version config.Version) (bootstrap.Source, error)

func decodeCluster(m resource.PropertyMap) (ClusterInputs, error) {
	return decode[ClusterInputs](m, "cluster")
}

func (p *Provider) dialAll(ctx context.Context, nodes []SuiteNode, a remote.Auth) ([]bootstrap.Node, func(), error) {
	var out []bootstrap.Node
	closeAll := func() {
		for _, n := range out {
			n.Runner.Close()
		}
	}
	for _, n := range nodes {
		t := remote.Target{Name: n.Name, Address: n.Address, Port: n.SSHPort, User: n.SSHUser, HostKey: n.HostKey}
		r, err := remote.Dial(ctx, t, a, remote.DialOptions{Log: p.log})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		out = append(out, bootstrap.Node{Name: n.Name, Role: n.Role, Address: n.Address, Runner: r})
	}
	return out, closeAll, nil
}

func (p *Provider) createCluster(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	in, err := decodeCluster(req.Properties)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	var knobs config.Etcd
	if in.Etcd != "" {
		raw := config.Raw{Values: map[string]string{"meshready:region": "x", "meshready:etcd": in.Etcd}, Secrets: map[string]bool{}}
		cfg, err := config.Parse(raw)
		if err != nil {
			return plugin.CreateResponse{}, fmt.Errorf("etcd settings: %w", err)
		}
		knobs = cfg.Etcd
	}
	controlPlanes := 0
	for _, n := range in.Nodes {
		if n.Role == "control-plane" {
			controlPlanes++
		}
	}
	tuning, err := bootstrap.TuneEtcd(bootstrap.Measured{
		PeerRTTP99:    time.Duration(in.PeerRTTP99Ms * float64(time.Millisecond)),
		FdatasyncP99:  time.Duration(in.FdatasyncP99Ms * float64(time.Millisecond)),
		ControlPlanes: controlPlanes,
	}, knobs)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	plan := bootstrap.Plan{
		Version: config.Version(in.Version), PodSubnet: in.PodSubnet, ServiceSubnet: in.ServiceSubnet,
		Etcd: tuning, Container: in.Provider == "local", Log: p.log,
		Token: config.Secret(randomToken()), CertKey: config.Secret(randomHex(32)),
	}
	if in.Provider == "local" {
		if p.bundle == nil {
			return plugin.CreateResponse{}, fmt.Errorf("this meshready build has no air-gapped Kubernetes bundle for local nodes")
		}
		if plan.Source, err = p.bundle(ctx, plan.Version); err != nil {
			return plugin.CreateResponse{}, err
		}
	}
	nodes, closeAll, err := p.dialAll(ctx, in.Nodes, remote.Auth{PrivateKey: []byte(in.SSHPrivateKey), IdentityFile: in.IdentityFile})
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("bootstrap: %w", err)
	}
	defer closeAll()
	plan.Nodes = nodes
	res, err := bootstrap.Bootstrap(ctx, plan)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	out := req.Properties.Copy()
	out["kubeconfig"] = resource.MakeSecret(resource.NewProperty(res.Kubeconfig.Reveal()))
	out["endpoint"] = resource.NewProperty(res.Endpoint)
	out["caCertHash"] = resource.NewProperty(res.CACertHash)
	var args []any
	var flags []report.EtcdFlag
	for _, a := range tuning.ExtraArgs() {
		args = append(args, map[string]any{"name": a.Name, "value": a.Value, "why": tuning.Why[a.Name]})
		flags = append(flags, report.EtcdFlag{Name: a.Name, Value: a.Value, Why: tuning.Why[a.Name]})
	}
	if tuning.Ionice {
		flags = append(flags, report.EtcdFlag{Name: "(ionice)", Value: "-c2 -n0", Why: tuning.Why["ionice"]})
	}
	// The region report says what etcd was given and why, beside the numbers it came from.
	if in.ReportDir != "" {
		if rep, err := report.Read(in.ReportDir); err == nil {
			rep.Etcd = flags
			if err := report.Write(in.ReportDir, rep); err != nil {
				p.log.Warn("could not add etcd tuning to the report", "dir", in.ReportDir, "err", err)
			}
		}
	}
	out["etcdArgs"] = resource.NewProperty(resource.NewPropertyValue(args).ArrayValue())
	return plugin.CreateResponse{ID: resource.ID(in.Stack + "-" + strings.TrimPrefix(res.CACertHash, "sha256:")[:12]), Properties: out, Status: resource.StatusOK}, nil
}

// deleteCluster resets kubeadm on nodes that outlive the stack; servers the
// stack created are deleted right after, reset or not.
func (p *Provider) deleteCluster(ctx context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	in, err := decodeCluster(req.Inputs)
	if err != nil {
		return plugin.DeleteResponse{}, err
	}
	if in.Provider != "static" {
		return plugin.DeleteResponse{Status: resource.StatusOK}, nil
	}
	nodes, closeAll, err := p.dialAll(ctx, in.Nodes, remote.Auth{PrivateKey: []byte(in.SSHPrivateKey), IdentityFile: in.IdentityFile})
	if err != nil {
		return plugin.DeleteResponse{}, fmt.Errorf("kubeadm reset: %w", err)
	}
	defer closeAll()
	err = remote.Parallel(ctx, nodes, len(nodes), func(ctx context.Context, n bootstrap.Node) error {
		if _, err := n.Runner.Run(ctx, "if command -v kubeadm >/dev/null; then kubeadm reset -f; fi; rm -rf /etc/cni/net.d/10-meshready.conflist /etc/meshready"); err != nil {
			return fmt.Errorf("%s: kubeadm reset: %w", n.Name, err)
		}
		return nil
	})
	if err != nil {
		return plugin.DeleteResponse{}, err
	}
	return plugin.DeleteResponse{Status: resource.StatusOK}, nil
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

// diffCluster rebuilds the cluster (reset first, where nodes survive) when its
// version, nodes, subnets or etcd settings change. A new benchmark run alone
// does not: re-measured numbers must not tear down a working cluster.
func diffCluster(olds, news resource.PropertyMap) plugin.DiffResult {
	d := diffSuite(olds.Copy(), news.Copy())
	var keys []resource.PropertyKey
	for _, k := range d.ReplaceKeys {
		if k != "peerRttP99Ms" && k != "fdatasyncP99Ms" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return plugin.DiffResult{Changes: plugin.DiffNone}
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, ReplaceKeys: keys, DeleteBeforeReplace: true}
}
