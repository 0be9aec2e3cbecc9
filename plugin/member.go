package plugin

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/remote"
	"github.com/meshready/meshready/report"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// members serves contract.Member: bootstrap.Join on create,
// bootstrap.RetuneEtcd on update, bootstrap.Leave on delete.
type members struct {
	noop[contract.MemberInputs, contract.MemberOutputs]
	nodes nodeDialer
	etcd  func(ctx context.Context, cp remote.Node) (bootstrap.Etcd, error)
	log   *slog.Logger
}

func memberSettings(in contract.MemberInputs) settings {
	return settings{in.Stack, in.Provider, in.Version, in.PodSubnet, in.ServiceSubnet, in.Etcd, in.ControlPlane,
		in.ControlPlanes, in.SnapshotsKeep, in.Schedulable, in.PeerRTTP99Ms, in.FdatasyncP99Ms, in.Bundle}
}

func (m members) create(ctx context.Context, in contract.MemberInputs) (string, contract.MemberOutputs, error) {
	out := contract.MemberOutputs{MemberInputs: in}
	p, err := memberSettings(in).plan(m.log)
	if err != nil {
		return "", out, err
	}
	all, done, err := m.nodes.all(ctx, []contract.NodeRef{in.ControlPlane, in.Node}, in.Access)
	if err != nil {
		return "", out, fmt.Errorf("join %s: %w", in.Node.Name, err)
	}
	defer done()
	cp, n := all[0], all[1]
	if err := m.snapshot(ctx, cp, "join-"+n.Name, in.SnapshotsKeep); err != nil {
		return "", out, err
	}
	if n.Role == config.RoleControlPlane {
		if err := m.dropStaleMember(ctx, cp, n); err != nil {
			return "", out, err
		}
	}
	if err := bootstrap.Join(ctx, p, cp, n, in.CACertHash); err != nil {
		return "", out, err
	}
	out.EtcdRunning, err = m.retune(ctx, cp, n, in.EtcdFlags)
	return in.Node.Name, out, err
}

// snapshot takes an automatic etcd snapshot before a node joins or leaves.
func (m members) snapshot(ctx context.Context, cp remote.Node, why string, keep int) error {
	if keep == 0 {
		return nil
	}
	etcd, err := m.etcd(ctx, cp)
	if err != nil {
		return err
	}
	defer etcd.Close()
	return snapshot(ctx, m.log, cp, etcd, why, keep)
}

// dropStaleMember removes name's etcd member when it is there but does not
// answer: an earlier join killed half-way (or a server replaced without
// leaving) left it, and a member that never comes back costs the quorum
// the next join needs. A healthy one stays: the node joined already.
func (m members) dropStaleMember(ctx context.Context, cp, n remote.Node) error {
	etcd, err := m.etcd(ctx, cp)
	if err != nil {
		return err
	}
	defer etcd.Close()
	list, err := etcd.Members(ctx)
	if err != nil {
		return err
	}
	peer := "https://" + n.Address + ":2380"
	for i, mb := range list {
		// A member added but never started has no name yet: its peer URL tells.
		if mb.Healthy || mb.Name != n.Name && (mb.Name != "" || !slices.Contains(mb.PeerURLs, peer)) {
			continue
		}
		named := slices.Clone(list)
		named[i].Name = n.Name
		if _, err := bootstrap.CheckRemoval(named, n.Name); err != nil {
			return err
		}
		m.log.WarnContext(ctx, "removing an etcd member an earlier join left behind", "host", n.Name, "member", fmt.Sprintf("%x", mb.ID))
		return etcd.Remove(ctx, mb.ID)
	}
	return nil
}

// update gives a control plane's etcd the cluster's new flags.
func (m members) update(ctx context.Context, _ string, old contract.MemberOutputs, in contract.MemberInputs) (contract.MemberOutputs, error) {
	out := contract.MemberOutputs{MemberInputs: in, EtcdRunning: old.EtcdRunning}
	if in.Node.Role != config.RoleControlPlane {
		return out, nil
	}
	all, done, err := m.nodes.all(ctx, []contract.NodeRef{in.ControlPlane, in.Node}, in.Access)
	if err != nil {
		return out, fmt.Errorf("etcd retune of %s: %w", in.Node.Name, err)
	}
	defer done()
	out.EtcdRunning, err = m.retune(ctx, all[0], all[1], in.EtcdFlags)
	return out, err
}

// retune gives n's etcd args when n is a control plane, and returns the
// flags its manifest holds then.
func (m members) retune(ctx context.Context, cp, n remote.Node, flags map[string]string) (map[string]string, error) {
	if n.Role != config.RoleControlPlane {
		return nil, nil
	}
	var want []bootstrap.Arg
	for _, name := range slices.Sorted(maps.Keys(flags)) {
		want = append(want, bootstrap.Arg{Name: name, Value: flags[name]})
	}
	dial := func(ctx context.Context) (bootstrap.Etcd, error) { return m.etcd(ctx, cp) }
	return bootstrap.RetuneEtcd(ctx, m.log, n, dial, want)
}

// delete takes the node out of the cluster. A node that cannot be reached
// (its server is dead) still leaves: its etcd member and Node go, nothing
// runs on it.
func (m members) delete(ctx context.Context, _ string, in contract.MemberInputs, _ contract.MemberOutputs) error {
	timeout, err := time.ParseDuration(in.DrainTimeout)
	if err != nil || timeout <= 0 {
		timeout = 5 * time.Minute
	}
	cp, done, err := m.nodes.one(ctx, in.ControlPlane, in.Access)
	if err != nil {
		return fmt.Errorf("remove %s: %w", in.Node.Name, err)
	}
	defer done()
	leaving := bootstrap.Leaving{Node: remote.Node{Name: in.Node.Name, Role: in.Node.Role, Address: in.Node.Internal()}, DrainTimeout: timeout}
	dctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	n, ndone, err := m.nodes.one(dctx, in.Node, in.Access)
	cancel()
	if err != nil {
		m.log.WarnContext(ctx, "the leaving node cannot be reached: it leaves without drain or reset", "host", in.Node.Name, "err", err)
	} else {
		defer ndone()
		leaving.Node = n
	}
	etcd, err := m.etcd(ctx, cp)
	if err != nil {
		return err
	}
	defer etcd.Close()
	if err := snapshot(ctx, m.log, cp, etcd, "leave-"+in.Node.Name, in.SnapshotsKeep); err != nil {
		return err
	}
	m.log.InfoContext(ctx, "remove node", "host", in.Node.Name, "role", in.Node.Role)
	return bootstrap.Leave(ctx, m.log, cp, etcd, leaving)
}

// podNetworks serves contract.PodNetwork: bootstrap.Network.
type podNetworks struct {
	noop[contract.PodNetworkInputs, contract.PodNetworkOutputs]
	nodes nodeDialer
	log   *slog.Logger
}

func (podNetworks) id(in contract.PodNetworkInputs) string { return in.Stack + "-pod-network" }

func (w podNetworks) run(ctx context.Context, in contract.PodNetworkInputs) (contract.PodNetworkOutputs, error) {
	return w.network(ctx, in, nil)
}

// update runs the network again; what it measured before is kept when
// only etcd's flags changed (the snapshots are listed again): the same
// nodes on the same network measure the same.
func (w podNetworks) update(ctx context.Context, _ string, old contract.PodNetworkOutputs, in contract.PodNetworkInputs) (contract.PodNetworkOutputs, error) {
	return w.network(ctx, in, &old)
}

// defaults settles a pod network the program left unnamed (cni empty:
// kubernetes.podNetwork unset). A new one is flannel; a running one keeps
// what it runs, so that a meshready with another default never switches
// a cluster's network unasked. A state's empty cni is host-routes (made
// before flannel): the program naming host-routes for it changes nothing
// either. flanneld goes from the inputs of a network that is not flannel.
func (podNetworks) defaults(olds, news resource.PropertyMap) resource.PropertyMap {
	const key = resource.PropertyKey("cni") // contract.PodNetworkInputs.CNI
	cni := func(m resource.PropertyMap) string {
		if v := m[key]; v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	was, want := cni(olds), cni(news)
	switch {
	case len(olds) == 0 && want == "":
		news[key] = resource.NewStringProperty(config.PodNetworkFlannel)
	case len(olds) > 0 && want == "" && was != "":
		news[key] = resource.NewStringProperty(was)
	case len(olds) > 0 && was == "" && (want == "" || want == config.PodNetworkHostRoutes):
		delete(news, key)
		// Clusters made before flannel were given no pod subnet either.
		if _, ok := olds["podSubnet"]; !ok {
			delete(news, "podSubnet")
		}
	}
	if cni(news) != config.PodNetworkFlannel {
		delete(news, "flanneldPath")
		delete(news, "flanneldSha256")
	}
	return news
}

// sameNetwork says whether old ran the pod network in's nodes have now.
func sameNetwork(old contract.PodNetworkOutputs, in contract.PodNetworkInputs) bool {
	return old.Measured != nil && old.CNI == in.CNI && old.FlanneldSHA256 == in.FlanneldSHA256 &&
		slices.EqualFunc(old.Nodes, in.Nodes, func(a, b contract.NodeRef) bool { return a.Name == b.Name && a.Internal() == b.Internal() })
}

func (w podNetworks) network(ctx context.Context, in contract.PodNetworkInputs, old *contract.PodNetworkOutputs) (contract.PodNetworkOutputs, error) {
	out := contract.PodNetworkOutputs{PodNetworkInputs: in}
	nodes, done, err := w.nodes.all(ctx, in.Nodes, in.Access)
	if err != nil {
		return out, fmt.Errorf("pod network: %w", err)
	}
	defer done()
	cp, err := firstControlPlane(nodes)
	if err != nil {
		return out, err
	}
	pods := bootstrap.PodNetwork{Kind: in.CNI, Subnet: in.PodSubnet, FlanneldPath: in.FlanneldPath, FlanneldSHA256: in.FlanneldSHA256}
	if err := bootstrap.Network(ctx, bootstrap.Plan{Log: w.log, Pods: pods}, cp, nodes); err != nil {
		return out, err
	}
	if out.EtcdSnapshots, err = bootstrap.ListSnapshots(ctx, cp, bootstrap.SnapshotDir); err != nil {
		return out, err
	}
	switch {
	case old != nil && sameNetwork(*old, in):
		out.Measured = old.Measured
	case pods.Flannel():
		vteps, err := bootstrap.VTEPs(ctx, cp)
		if err != nil {
			return out, err
		}
		w.log.InfoContext(ctx, "pod network RTT: every pair over the nodes' addresses, then over flannel", "nodes", len(nodes))
		m := measurePodNetwork(ctx, nodes, vteps)
		m.Kind = in.CNI
		out.Measured = &m
	default:
		out.Measured = &report.PodNetwork{Kind: config.PodNetworkHostRoutes}
	}
	return out, nil
}

// measurePodNetwork pings between every two nodes over their addresses
// and, at the same time, to each other's VTEP address (through the
// overlay): the same pairs under the same conditions, in the time of one
// set (a few packets a second each way; they do not queue).
func measurePodNetwork(ctx context.Context, nodes []remote.Node, vteps map[string]string) report.PodNetwork {
	var m report.PodNetwork
	var direct []benchmarks.RTT
	var directNotes []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		direct, directNotes = benchmarks.RTTs(ctx, nodes)
	}()
	var over []remote.Node
	for _, n := range nodes {
		if vteps[n.Name] == "" {
			m.Notes = append(m.Notes, n.Name+": no pod CIDR, so no overlay address")
			continue
		}
		o := n
		o.Address = vteps[n.Name]
		over = append(over, o)
	}
	overlay, notes := benchmarks.RTTs(ctx, over)
	wg.Wait()
	m.Notes = append(append(m.Notes, directNotes...), notes...)
	type pair struct{ from, to string }
	pods := map[pair]benchmarks.RTT{}
	for _, r := range overlay {
		pods[pair{r.From, r.To}] = r
	}
	for _, d := range direct {
		row := report.PodRTT{From: d.From, To: d.To, Node: d.Latency, NodeLoss: d.Loss, PodsLoss: 100}
		if p, ok := pods[pair{d.From, d.To}]; ok {
			row.Pods, row.PodsLoss = p.Latency, p.Loss
		}
		m.RTTs = append(m.RTTs, row)
	}
	slices.SortFunc(m.RTTs, func(a, b report.PodRTT) int {
		return cmp.Or(strings.Compare(a.From, b.From), strings.Compare(a.To, b.To))
	})
	return m
}
