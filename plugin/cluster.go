package plugin

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/kube"
	"github.com/meshready/meshready/remote"
	"github.com/meshready/meshready/report"
	"github.com/meshready/meshready/traffic"
)

// clusters serves contract.Cluster: bootstrap.Init on the first control
// plane, etcd tuned by bootstrap.TuneEtcd and retuned in place,
// bootstrap.Reset on delete where the node survives.
type clusters struct {
	nodes nodeDialer
	etcd  func(ctx context.Context, cp remote.Node) (bootstrap.Etcd, error)
	log   *slog.Logger
}

// settings are what a cluster and its members share, from their inputs.
type settings struct {
	Stack, Provider, Version, PodSubnet, ServiceSubnet, Etcd string
	ControlPlane                                             contract.NodeRef
	ControlPlanes, SnapshotsKeep                             int
	Schedulable                                              bool
	PeerRTTP99Ms, FdatasyncP99Ms                             float64
	Bundle                                                   *contract.Bundle
}

// plan is the bootstrap plan for s, etcd tuned from its figures and knobs.
func (s settings) plan(log *slog.Logger) (bootstrap.Plan, error) {
	knobs, err := config.ParseEtcd(s.Etcd)
	if err != nil {
		return bootstrap.Plan{}, err
	}
	tuning, err := bootstrap.TuneEtcd(bootstrap.Measured{
		PeerRTTP99:    time.Duration(s.PeerRTTP99Ms * float64(time.Millisecond)),
		FdatasyncP99:  time.Duration(s.FdatasyncP99Ms * float64(time.Millisecond)),
		ControlPlanes: max(s.ControlPlanes, 1),
	}, knobs)
	if err != nil {
		return bootstrap.Plan{}, err
	}
	local := config.Provider(s.Provider) == config.ProviderLocal
	p := bootstrap.Plan{
		Version: config.Version(s.Version), Endpoint: net.JoinHostPort(s.ControlPlane.Internal(), "6443"),
		PodSubnet: s.PodSubnet, ServiceSubnet: s.ServiceSubnet,
		Etcd: tuning, Container: local, Schedulable: s.Schedulable, Log: log,
		Token: config.Secret(randomToken()), CertKey: config.Secret(randomHex(32)),
	}
	if s.ControlPlane.InternalAddress != "" {
		p.PublicEndpoint = net.JoinHostPort(s.ControlPlane.Address, "6443")
	}
	if s.Bundle != nil {
		p.Source.Bundle = s.Bundle.Dir
		for _, im := range s.Bundle.Images {
			p.Source.Images = append(p.Source.Images, bootstrap.BundleImage{Ref: im.Ref, Tarball: im.Tarball})
		}
	} else if local {
		return p, fmt.Errorf("local nodes need the air-gapped Kubernetes bundle, and the program gave none")
	}
	return p, nil
}

func clusterSettings(in contract.ClusterInputs) settings {
	return settings{in.Stack, in.Provider, in.Version, in.PodSubnet, in.ServiceSubnet, in.Etcd, in.ControlPlane,
		in.ControlPlanes, in.SnapshotsKeep, in.Schedulable, in.PeerRTTP99Ms, in.FdatasyncP99Ms, in.Bundle}
}

// snapshot takes an automatic etcd snapshot on cp before a change (why
// names it), unless the stack keeps none.
func snapshot(ctx context.Context, log *slog.Logger, cp remote.Node, etcd bootstrap.Etcd, why string, keep int) error {
	if keep == 0 {
		return nil
	}
	file, err := bootstrap.SnapshotOnNode(ctx, cp, etcd, bootstrap.SnapshotDir, why, keep)
	if err != nil {
		return fmt.Errorf("etcd snapshot before %s (meshready:etcdSnapshots.keep 0 turns them off): %w", why, err)
	}
	log.InfoContext(ctx, "etcd snapshot", "host", cp.Name, "file", file)
	return nil
}

func (c clusters) create(ctx context.Context, in contract.ClusterInputs) (string, contract.ClusterOutputs, error) {
	out := contract.ClusterOutputs{ClusterInputs: in}
	p, err := clusterSettings(in).plan(c.log)
	if err != nil {
		return "", out, err
	}
	cp, done, err := c.nodes.one(ctx, in.ControlPlane, in.Access)
	if err != nil {
		return "", out, fmt.Errorf("kubeadm init: %w", err)
	}
	defer done()
	res, err := bootstrap.Init(ctx, p, cp)
	if err != nil {
		return "", out, err
	}
	out.Kubeconfig, out.Endpoint, out.CACertHash = res.Kubeconfig.Reveal(), res.Endpoint, res.CACertHash
	if err := c.readBack(ctx, cp, p, &out); err != nil {
		return "", out, err
	}
	return in.Stack + "-" + strings.TrimPrefix(res.CACertHash, "sha256:")[:12], out, nil
}

// guard refuses, before anything runs, the changes that would need a new
// cluster or an upgrade meshready does not do in place.
func (clusters) guard(old, in contract.ClusterInputs) error {
	// A value unknown in a preview (a server still to be made) decodes empty.
	if old.ControlPlane.Name != "" && in.ControlPlane.Name != "" && old.ControlPlane.Name != in.ControlPlane.Name {
		return fmt.Errorf("the first control plane would change from %s to %s: it is where the cluster was made; keep it", old.ControlPlane.Name, in.ControlPlane.Name)
	}
	if old.ControlPlane.Address != "" && in.ControlPlane.Address != "" && old.ControlPlane.Internal() != in.ControlPlane.Internal() {
		return fmt.Errorf("the nodes would move from %s to %s as the address Kubernetes uses for %s: the certificates, etcd and every kubelet are bound to it; not done in place (destroy and up, or --rebuild)",
			old.ControlPlane.Internal(), in.ControlPlane.Internal(), in.ControlPlane.Name)
	}
	if old.Version != "" && in.Version != "" {
		if err := bootstrap.CheckUpgrade(config.Version(old.Version), config.Version(in.Version)); err != nil {
			return fmt.Errorf("%w; nothing was changed", err)
		}
	}
	for _, k := range []struct{ key, old, new string }{
		{"kubernetes.podSubnet", old.PodSubnet, in.PodSubnet},
		{"kubernetes.serviceSubnet", old.ServiceSubnet, in.ServiceSubnet},
	} {
		if k.old != "" && k.new != "" && k.old != k.new {
			return fmt.Errorf("%s %s -> %s: a running cluster does not change it in place; nothing was changed — put it back, or destroy the stack and bring it up again", k.key, k.old, k.new)
		}
	}
	return nil
}

// update retunes etcd in place when its settings or its member count
// changed: kubeadm's stored ClusterConfiguration first (joins read it),
// then the first control plane's manifest; members follow, each in its
// own update. A first control plane whose server changed (a dead server
// recreated) is refused: its CA and etcd data went with it.
func (c clusters) update(ctx context.Context, _ string, old contract.ClusterOutputs, in contract.ClusterInputs) (contract.ClusterOutputs, error) {
	out := old
	out.ClusterInputs = in
	if o := old.ControlPlane; o.Name != "" && (o.Address != in.ControlPlane.Address || o.HostKey != in.ControlPlane.HostKey ||
		o.Instance != "" && o.Instance != in.ControlPlane.Instance) {
		return out, fmt.Errorf("%s, the first control plane, is a new server (%s, was %s): the cluster's CA and etcd data were on the old one; kubeadm init runs once in a cluster's life, so meshready will not make a second cluster there — restore the old server, or destroy the stack", in.ControlPlane.Name, in.ControlPlane.Address, o.Address)
	}
	p, err := clusterSettings(in).plan(c.log)
	if err != nil {
		return out, err
	}
	if old.Version != "" && old.Version != in.Version {
		up, err := c.upgrade(ctx, old.ClusterInputs, in, p)
		out.Upgrade = &up
		if err != nil {
			// The outputs keep the old version: the next up resumes the rollout.
			return out, err
		}
	}
	cp, done, err := c.nodes.one(ctx, in.ControlPlane, in.Access)
	if err != nil {
		return out, fmt.Errorf("etcd retune: %w", err)
	}
	defer done()
	if err := bootstrap.UploadClusterConfig(ctx, p, cp); err != nil {
		return out, err
	}
	etcd, err := c.etcd(ctx, cp)
	if err != nil {
		return out, err
	}
	defer etcd.Close()
	if err := snapshot(ctx, c.log, cp, etcd, "retune", in.SnapshotsKeep); err != nil {
		return out, err
	}
	dial := func(ctx context.Context) (bootstrap.Etcd, error) { return c.etcd(ctx, cp) }
	if _, err := bootstrap.RetuneEtcd(ctx, c.log, cp, dial, p.Etcd.ExtraArgs()); err != nil {
		return out, err
	}
	return out, c.readBack(ctx, cp, p, &out)
}

// upgrade moves every node from old's version to in's (bootstrap.Upgrade),
// after an etcd snapshot, while a steady load is sent to a workload of
// two replicas from every node (package traffic). A load that cannot run
// does not hold the upgrade back: the record says why it was not measured.
func (c clusters) upgrade(ctx context.Context, old, in contract.ClusterInputs, p bootstrap.Plan) (report.Upgrade, error) {
	rec := report.Upgrade{UpgradeResult: bootstrap.UpgradeResult{From: config.Version(old.Version).Tag(), To: config.Version(in.Version).Tag()}}
	fail := func(err error) (report.Upgrade, error) {
		rec.Error = err.Error()
		return rec, err
	}
	refs := in.Nodes
	if len(refs) == 0 {
		refs = []contract.NodeRef{in.ControlPlane}
	}
	nodes, done, err := c.nodes.all(ctx, refs, in.Access)
	if err != nil {
		return fail(fmt.Errorf("kubernetes upgrade: %w", err))
	}
	defer done()
	var cp bootstrap.Node
	var others []bootstrap.Node
	for _, n := range nodes {
		if n.Name == in.ControlPlane.Name {
			cp = n
		} else {
			others = append(others, n)
		}
	}
	if cp.Runner == nil {
		return fail(fmt.Errorf("kubernetes upgrade: %s, the first control plane, is not among the cluster's nodes", in.ControlPlane.Name))
	}
	etcd, err := c.etcd(ctx, cp)
	if err != nil {
		return fail(err)
	}
	err = snapshot(ctx, c.log, cp, etcd, "upgrade-"+rec.To, in.SnapshotsKeep)
	etcd.Close()
	if err != nil {
		return fail(err)
	}
	drainTimeout, err := time.ParseDuration(cmp.Or(in.DrainTimeout, "5m"))
	if err != nil {
		return fail(fmt.Errorf("drainTimeout %q: %w", in.DrainTimeout, err))
	}
	// Every node has the release's kubeadm and images first; the load's
	// workload may run the new CoreDNS image on any of them.
	if err := bootstrap.StageUpgrade(ctx, p, nodes); err != nil {
		return fail(err)
	}
	k := kube.OnNode{Runner: cp.Runner}
	load, note := c.startLoad(ctx, k, nodes)
	res, err := bootstrap.Upgrade(ctx, p, config.Version(old.Version), cp, others, drainTimeout)
	rec.UpgradeResult = res
	if load != nil {
		t := load.Stop()
		rec.Traffic = &t
		c.log.InfoContext(ctx, "traffic during the upgrade", "sent", t.Sent, "failed", t.Failed, "longest failure window s", t.LongestSec)
		if rerr := traffic.Remove(context.WithoutCancel(ctx), k); rerr != nil {
			c.log.WarnContext(ctx, "could not remove the traffic workload", "namespace", traffic.Namespace, "err", rerr)
		}
	} else {
		rec.TrafficNote = note
	}
	if err != nil {
		return fail(err)
	}
	return rec, nil
}

// loadQPS is the steady load of an upgrade, from every node.
const loadQPS = 100

// loadTimeout is how long a request of the load may take before it counts
// as failed.
const loadTimeout = 5 * time.Second

// startLoad deploys the traffic workload and starts the load from every
// node; nil and why when it cannot.
func (c clusters) startLoad(ctx context.Context, k kube.Kubectl, nodes []bootstrap.Node) (*traffic.Recorder, string) {
	var clients []traffic.Client
	for _, n := range nodes {
		if t, ok := n.Runner.(remote.Tunnel); ok {
			clients = append(clients, traffic.Client{Name: n.Name, Dial: t.DialContext})
		}
	}
	if len(clients) == 0 {
		return nil, "no node connection can open TCP connections (SSH direct-tcpip)"
	}
	target, err := traffic.Deploy(ctx, k)
	if err != nil {
		c.log.WarnContext(ctx, "the upgrade runs without a load", "err", err)
		return nil, err.Error()
	}
	// A request fails when it is refused, reset, or not answered in 5 s:
	// each is a new TCP connection through the SSH connection, so a host
	// short of CPU (two clusters on 2 cores in CI) adds its own delay (a
	// p99 of 0.8 s was seen there, and 22 of 110551 requests over 2 s).
	// Slow answers still show, in the load's p99 and max.
	load := traffic.Load{Target: target, Path: traffic.Path, QPS: loadQPS, Timeout: loadTimeout}
	if err := traffic.Reachable(ctx, load, clients, time.Minute); err != nil {
		c.log.WarnContext(ctx, "the upgrade runs without a load", "err", err)
		return nil, err.Error()
	}
	rec, err := traffic.Start(context.WithoutCancel(ctx), load, clients)
	if err != nil {
		return nil, err.Error()
	}
	c.log.InfoContext(ctx, "steady load during the upgrade", "target", target, "from", len(clients), "qps each", loadQPS)
	return rec, ""
}

// readBack sets the etcd outputs from what cp's manifest holds, each with
// why the tuning chose it.
func (c clusters) readBack(ctx context.Context, cp remote.Node, p bootstrap.Plan, out *contract.ClusterOutputs) error {
	res, err := cp.Runner.Run(ctx, "cat "+bootstrap.EtcdManifest)
	if err != nil {
		return fmt.Errorf("%s: etcd manifest: %w", cp.Name, err)
	}
	running, err := bootstrap.ManifestFlags(res.Stdout)
	if err != nil {
		return fmt.Errorf("%s: %w", cp.Name, err)
	}
	flags, ionice := p.Etcd.Flags()
	out.EtcdArgs = nil
	for _, f := range flags {
		v, ok := running[f.Name]
		if !ok {
			return fmt.Errorf("%s: etcd runs without --%s", cp.Name, f.Name)
		}
		why := f.Why
		if v != f.Value {
			why = fmt.Sprintf("found on the node (the tuning says %s)", f.Value)
		}
		out.EtcdArgs = append(out.EtcdArgs, contract.EtcdArg{Name: f.Name, Value: v, Why: why})
	}
	out.Ionice = ionice
	return nil
}

func (clusters) read(_ context.Context, _ string, _ contract.ClusterInputs, state contract.ClusterOutputs) (contract.ClusterOutputs, bool, error) {
	return state, true, nil
}

// delete resets kubeadm on every node when they outlive the stack (static
// servers); servers the stack created are deleted right after, reset or not.
func (c clusters) delete(ctx context.Context, _ string, in contract.ClusterInputs, _ contract.ClusterOutputs) error {
	if config.Provider(in.Provider) != config.ProviderStatic {
		return nil
	}
	refs := in.Nodes
	if len(refs) == 0 {
		refs = []contract.NodeRef{in.ControlPlane}
	}
	nodes, done, err := c.nodes.all(ctx, refs, in.Access)
	if err != nil {
		return fmt.Errorf("kubeadm reset: %w", err)
	}
	defer done()
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
