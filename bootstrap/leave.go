package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/kube"
)

// Leaving is a node on its way out of a cluster.
type Leaving struct {
	// Node is the node; a nil Runner means it cannot be reached (a dead
	// server): nothing runs on it, and it is not drained.
	Node Node
	// DrainTimeout bounds the drain (kubectl drain --timeout).
	DrainTimeout time.Duration
}

// Leave takes l out of the cluster whose first control plane is cp, in
// the order that keeps the cluster whole: the etcd quorum checked first
// (nothing changes when removing the member would lose it), then cordon
// and drain (PodDisruptionBudgets respected: kubectl drain evicts), the
// etcd member removed, the Node deleted, the node reset. Each step finds
// its work done on a re-run.
func Leave(ctx context.Context, log *slog.Logger, cp Node, etcd Etcd, l Leaving) error {
	n := l.Node
	if n.Name == cp.Name {
		return fmt.Errorf("%s is the cluster's first control plane (its API endpoint and where kubeadm init ran): it cannot leave", n.Name)
	}
	var member *EtcdMember
	var members []EtcdMember
	if n.Role == config.RoleControlPlane {
		var err error
		if members, err = etcd.Members(ctx); err != nil {
			return err
		}
		m, err := CheckRemoval(members, n.Name)
		if err != nil {
			return err
		}
		member = m
	}
	ready, found, err := nodeReady(ctx, cp, n.Name)
	if err != nil {
		return fmt.Errorf("%s: leave: %w", n.Name, err)
	}
	switch {
	case found && ready && n.Runner != nil:
		if err := drain(ctx, log, cp, n.Name, l.DrainTimeout); err != nil {
			return err
		}
	case found:
		log.WarnContext(ctx, "not drained: the node is not Ready or cannot be reached; its pods go with its Node", "host", n.Name)
	}
	if member != nil {
		handLeadership(ctx, log, etcd, members, *member, cp.Name)
		log.InfoContext(ctx, "etcd member remove", "host", n.Name, "member", fmt.Sprintf("%x", member.ID))
		if err := etcd.Remove(ctx, member.ID); err != nil {
			return fmt.Errorf("%s: leave: %w", n.Name, err)
		}
	}
	if _, err := cp.Runner.Run(ctx, kube.Command("delete", "node", n.Name, "--ignore-not-found")); err != nil {
		return fmt.Errorf("%s: leave: delete Node: %w", n.Name, err)
	}
	if err := DropPodsOfGoneNodes(ctx, log, cp); err != nil {
		return fmt.Errorf("%s: leave: %w", n.Name, err)
	}
	if n.Runner == nil {
		return nil
	}
	return Reset(ctx, []Node{n})
}

// handLeadership moves etcd's leadership from leaving, when it leads, to
// the member of the first control plane (which stays), before leaving is
// removed, as Cluster API's control plane does before it removes a
// machine: a removed leader steps down and the others wait an election
// timeout, in which writes stall, and on a busy host that stall can
// outlast the 10 s in which the scheduler and the controller manager must
// renew their leases (they exit when they cannot). A transfer that fails
// is said and the removal goes on: etcd elects a new leader by itself.
func handLeadership(ctx context.Context, log *slog.Logger, etcd Etcd, members []EtcdMember, leaving EtcdMember, stays string) {
	if !leaving.Leader {
		return
	}
	i := slices.IndexFunc(members, func(m EtcdMember) bool { return m.Name == stays })
	if i < 0 {
		log.WarnContext(ctx, "etcd leadership not moved: the first control plane has no member", "host", leaving.Name)
		return
	}
	log.InfoContext(ctx, "etcd move-leader", "host", leaving.Name, "to", stays)
	if err := etcd.MoveLeader(ctx, leaving, members[i].ID); err != nil {
		log.WarnContext(ctx, "etcd leadership not moved; the member is removed as the leader, and the others elect one", "host", leaving.Name, "err", err)
	}
}

// CheckRemoval finds name's etcd member and refuses its removal when it
// is the last member, or when the members left would not have a healthy
// quorum (more than half of them answering). nil, nil: name is no member.
func CheckRemoval(members []EtcdMember, name string) (*EtcdMember, error) {
	var m *EtcdMember
	healthyLeft := 0
	for i := range members {
		if members[i].Name == name {
			m = &members[i]
		} else if members[i].Healthy {
			healthyLeft++
		}
	}
	if m == nil {
		return nil, nil
	}
	left := len(members) - 1
	if left == 0 {
		return nil, fmt.Errorf("%s holds the last etcd member: removing it would end the cluster", name)
	}
	if quorum := left/2 + 1; healthyLeft < quorum {
		return nil, fmt.Errorf("removing %s's etcd member would leave %d healthy of %d members, below the quorum of %d: repair or replace the unhealthy members first", name, healthyLeft, left, quorum)
	}
	return m, nil
}

// nodeReady says whether the Node exists and is Ready.
func nodeReady(ctx context.Context, cp Node, name string) (ready, found bool, err error) {
	l, err := getNodes(ctx, cp)
	if err != nil {
		return false, false, err
	}
	it, ok := l.find(name)
	for _, c := range it.Status.Conditions {
		ready = ready || (c.Type == "Ready" && c.Status == "True")
	}
	return ready, ok, nil
}

// drain cordons and drains name; on failure it names the pods that stayed.
func drain(ctx context.Context, log *slog.Logger, cp Node, name string, timeout time.Duration) error {
	start := time.Now()
	log.InfoContext(ctx, "drain", "host", name, "timeout", timeout)
	if _, err := cp.Runner.Run(ctx, kube.Command("cordon", name)); err != nil {
		return fmt.Errorf("%s: cordon: %w", name, err)
	}
	_, err := cp.Runner.Run(ctx, kube.Command("drain", name, "--ignore-daemonsets", "--delete-emptydir-data",
		"--timeout="+timeout.String()))
	if err == nil {
		log.Debug("drained", "host", name, "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	stayed, lerr := podsOn(ctx, cp, name)
	// The node stays in the cluster: it takes pods again, as before the
	// drain, until a drain can finish (or the config keeps it).
	if _, uerr := cp.Runner.Run(context.WithoutCancel(ctx), kube.Command("uncordon", name)); uerr != nil {
		log.WarnContext(ctx, "could not uncordon after the failed drain", "host", name, "err", uerr)
	}
	if lerr != nil || len(stayed) == 0 {
		return fmt.Errorf("%s: drain (the node was uncordoned and stays): %w", name, err)
	}
	return fmt.Errorf("%s: drain did not end in %s, so the node was uncordoned and stays; pods that did not leave (a PodDisruptionBudget that allows no eviction, a pod without a controller, or a pod that does not stop): %s: %w",
		name, timeout, strings.Join(stayed, ", "), err)
}

// podsOn lists the pods on a node that a drain evicts (not DaemonSets').
func podsOn(ctx context.Context, cp Node, name string) ([]string, error) {
	out, err := cp.Runner.Run(ctx, kube.Command("get", "pods", "-A", "--field-selector=spec.nodeName="+name, "-o", "json"))
	if err != nil {
		return nil, err
	}
	return ParseEvictable(out.Stdout)
}

// ParseEvictable reads `kubectl get pods -o json` and names (namespace/name)
// the pods a drain would evict: not a DaemonSet's, not a static pod's
// mirror (owned by its Node), not finished.
func ParseEvictable(b []byte) ([]string, error) {
	var l struct {
		Items []struct {
			Metadata struct {
				Name, Namespace string
				OwnerReferences []struct{ Kind string } `json:"ownerReferences"`
			} `json:"metadata"`
			Status struct{ Phase string } `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, errors.New("kubectl get pods: not the JSON of a pod list")
	}
	var out []string
	for _, p := range l.Items {
		ds := false
		for _, o := range p.Metadata.OwnerReferences {
			ds = ds || o.Kind == "DaemonSet" || o.Kind == "Node"
		}
		if !ds && p.Status.Phase != "Succeeded" && p.Status.Phase != "Failed" {
			out = append(out, p.Metadata.Namespace+"/"+p.Metadata.Name)
		}
	}
	return out, nil
}

// DropPodsOfGoneNodes deletes, at once (--force --grace-period=0), the pods
// still bound to a Node that no longer exists: a node that left has no
// kubelet to confirm their end, so they stay Terminating (static pods'
// mirrors) or Running (DaemonSets') in the API for long after, and kubeadm
// upgrade apply reads the control planes' versions from those mirrors.
func DropPodsOfGoneNodes(ctx context.Context, log *slog.Logger, cp Node) error {
	nodes, err := getNodes(ctx, cp)
	if err != nil {
		return fmt.Errorf("pods of gone nodes: %w", err)
	}
	var names []string
	for _, it := range nodes.Items {
		names = append(names, it.Metadata.Name)
	}
	out, err := cp.Runner.Run(ctx, kube.Command("get", "pods", "-A", "-o", "json"))
	if err != nil {
		return fmt.Errorf("pods of gone nodes: %w", err)
	}
	gone, err := PodsOfGoneNodes(out.Stdout, names)
	if err != nil {
		return err
	}
	for _, p := range gone {
		log.InfoContext(ctx, "deleting a pod of a node that left", "pod", p.Namespace+"/"+p.Name, "node", p.Node)
		if _, err := cp.Runner.Run(ctx, kube.Command("-n", p.Namespace, "delete", "pod", p.Name, "--force", "--grace-period=0", "--ignore-not-found")); err != nil {
			return fmt.Errorf("pods of gone nodes: %w", err)
		}
	}
	return nil
}

// GonePod is a pod bound to a Node that does not exist.
type GonePod struct{ Namespace, Name, Node string }

// PodsOfGoneNodes reads `kubectl get pods -A -o json` and lists the pods
// bound to a node not among nodes.
func PodsOfGoneNodes(b []byte, nodes []string) ([]GonePod, error) {
	var l struct {
		Items []struct {
			Metadata struct{ Name, Namespace string } `json:"metadata"`
			Spec     struct {
				NodeName string `json:"nodeName"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, errors.New("kubectl get pods: not the JSON of a pod list")
	}
	var out []GonePod
	for _, p := range l.Items {
		if n := p.Spec.NodeName; n != "" && !slices.Contains(nodes, n) {
			out = append(out, GonePod{p.Metadata.Namespace, p.Metadata.Name, n})
		}
	}
	return out, nil
}
