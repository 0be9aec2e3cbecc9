package bootstrap

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/kube"
	"github.com/meshready/meshready/remote"
)

// CheckUpgrade says whether a running cluster of version from can be moved
// to version to in place, by kubeadm's version skew policy: the same major,
// no downgrade, at most one minor at a time (kubeadm upgrade apply refuses
// to skip one; the kubelets, one minor behind the new API server for the
// length of the rollout, stay inside the skew Kubernetes supports). nil
// also for a patch upgrade within the minor, and for no change.
func CheckUpgrade(from, to config.Version) error {
	fMaj, fMin, fPatch, err := from.Parse()
	if err != nil {
		return fmt.Errorf("the running cluster's Kubernetes version: %w", err)
	}
	tMaj, tMin, tPatch, err := to.Parse()
	if err != nil {
		return fmt.Errorf("kubernetes.version: %w", err)
	}
	switch {
	case fMaj != tMaj:
		return fmt.Errorf("kubernetes.version %s -> %s changes the major version, which kubeadm does not upgrade", from.Tag(), to.Tag())
	case tMin < fMin || tMin == fMin && tPatch < fPatch:
		return fmt.Errorf("kubernetes.version %s -> %s is a downgrade: kubeadm upgrades only forward (etcd's data and the API's stored objects may already be in the newer form); put %s back, or restore an etcd snapshot into a new cluster", from.Tag(), to.Tag(), strings.TrimPrefix(from.Tag(), "v"))
	case tMin > fMin+1:
		return fmt.Errorf("kubernetes.version %s -> %s skips %d minor release(s): Kubernetes upgrades one minor at a time; set %d.%d.x first, up, then %s", from.Tag(), to.Tag(), tMin-fMin-1, tMaj, fMin+1, strings.TrimPrefix(to.Tag(), "v"))
	}
	return nil
}

// NodeUpgrade is how one node's upgrade went, in the order it ran.
type NodeUpgrade struct {
	Node string `json:"node"`
	Role string `json:"role"`
	// Upgrade is kubeadm (the new one installed, then upgrade apply or
	// upgrade node); Drain the cordon and drain; Ready the new kubelet from
	// its restart to the node Ready on the new version, and uncordoned.
	UpgradeSeconds float64 `json:"upgradeSeconds"`
	DrainSeconds   float64 `json:"drainSeconds"`
	ReadySeconds   float64 `json:"readySeconds"`
	// Skipped: the node ran the new version already (an upgrade resumed).
	Skipped bool `json:"skipped,omitempty"`
}

// UpgradeResult is a whole rollout.
type UpgradeResult struct {
	From    string        `json:"from"`
	To      string        `json:"to"`
	Started time.Time     `json:"started"`
	Seconds float64       `json:"seconds"`
	Nodes   []NodeUpgrade `json:"nodes"`
}

// StageUpgrade installs the new kubeadm on every node at once and, from a
// bundle, imports the release's images: `kubeadm upgrade apply` rolls
// kube-proxy and CoreDNS out to every node at once, and an air-gapped node
// must have their images before that. Nothing runs differently until the
// nodes' turn comes (kubeadm is no daemon). Upgrade runs after it.
func StageUpgrade(ctx context.Context, p Plan, nodes []Node) error {
	to := p.Version.Tag()
	return remote.Parallel(ctx, nodes, len(nodes), func(ctx context.Context, n Node) error {
		return p.run(ctx, n, "kubeadm "+to, func() (string, error) { return UpgradeKubeadmScript(n.Name, to, p.Source.Bundle, p.Source.Images) })
	})
}

// Upgrade moves the cluster whose first control plane is cp to p.Version,
// from version from, node by node in the order kubeadm documents (after
// StageUpgrade): on cp `kubeadm upgrade apply` (control plane, etcd,
// CoreDNS and kube-proxy), then the other control planes and the workers one at a
// time with `kubeadm upgrade node`; every node then cordoned and drained
// (PodDisruptionBudgets respected), its kubelet and kubectl replaced and
// restarted, Ready on the new version, uncordoned. A node already on the
// new version is skipped, so an upgrade killed half-way resumes; a node
// that does not come back stops the rollout with its kubelet's last lines,
// leaving the nodes after it untouched. others are every node but cp.
func Upgrade(ctx context.Context, p Plan, from config.Version, cp Node, others []Node, drainTimeout time.Duration) (UpgradeResult, error) {
	res := UpgradeResult{From: from.Tag(), To: p.Version.Tag(), Started: time.Now().UTC()}
	if err := CheckUpgrade(from, p.Version); err != nil {
		return res, err
	}
	if err := p.waitAPI(ctx, cp, 2*time.Minute); err != nil {
		return res, err
	}
	order := slices.Clone(others)
	// Control planes first (kubelets never newer than an API server), in the given order.
	slices.SortStableFunc(order, func(a, b Node) int { return roleRank(a.Role) - roleRank(b.Role) })
	order = append([]Node{cp}, order...)
	p.Log.InfoContext(ctx, "kubernetes upgrade", "from", res.From, "to", res.To, "nodes", len(order))
	// kubeadm upgrade apply defers CoreDNS and kube-proxy while it sees a
	// control plane on the old version: mirror pods of control planes that
	// left must not count as one.
	if err := DropPodsOfGoneNodes(ctx, p.Log, cp); err != nil {
		return res, err
	}
	if p.Container {
		// The kubelet config every node's `kubeadm upgrade` writes comes from
		// this ConfigMap: set it before the first node takes it.
		if err := allowCgroupV1(ctx, cp); err != nil {
			return res, err
		}
	}
	for i, n := range order {
		step, err := p.upgradeNode(ctx, cp, n, i == 0, len(order) > 1, drainTimeout)
		res.Nodes = append(res.Nodes, step)
		res.Seconds = time.Since(res.Started).Seconds()
		if err != nil {
			var left []string
			for _, o := range order[i+1:] {
				left = append(left, o.Name)
			}
			if len(left) > 0 {
				return res, fmt.Errorf("%w (the upgrade stopped there: %s not touched; the next up resumes it)", err, strings.Join(left, ", "))
			}
			return res, fmt.Errorf("%w (the next up resumes the upgrade)", err)
		}
	}
	p.Log.InfoContext(ctx, "kubernetes upgrade done", "to", res.To, "took", time.Duration(res.Seconds*float64(time.Second)).Round(time.Second))
	return res, nil
}

func roleRank(role string) int {
	if role == config.RoleControlPlane {
		return 0
	}
	return 1
}

// cordonedFor marks a node cordoned by an upgrade, so that a resumed one
// uncordons it and never a node a person cordoned.
const cordonedFor = "meshready.io/upgrade-cordoned"

// upgradeNode upgrades one node; first is the first control plane (kubeadm
// upgrade apply), drain is false for a one-node cluster (nowhere to go).
func (p Plan) upgradeNode(ctx context.Context, cp, n Node, first, drainIt bool, drainTimeout time.Duration) (NodeUpgrade, error) {
	out := NodeUpgrade{Node: n.Name, Role: n.Role}
	to := p.Version.Tag()
	st, err := nodeState(ctx, cp, n.Name)
	if err != nil {
		return out, fmt.Errorf("%s: upgrade: %w", n.Name, err)
	}
	applied := true
	if first {
		if applied, err = controlPlaneApplied(ctx, cp, to); err != nil {
			return out, fmt.Errorf("%s: upgrade: %w", n.Name, err)
		}
	}
	if st.kubelet == to && applied {
		out.Skipped = true
		if st.cordonedByUs {
			return out, uncordon(ctx, cp, n.Name)
		}
		return out, nil
	}
	start := time.Now()
	step := "kubeadm upgrade node"
	if first {
		step = "kubeadm upgrade apply " + to
	}
	apply := first && !applied
	if first && applied {
		// An apply that finished before: kubeadm upgrade node still writes
		// this node's kubelet config from the cluster's.
		p.Log.InfoContext(ctx, "control plane already on "+to, "host", n.Name)
		step = "kubeadm upgrade node"
	}
	if err := p.run(ctx, n, step, func() (string, error) { return UpgradeNodeScript(n.Name, to, apply, p.ignore()) }); err != nil {
		return out, err
	}
	if n.Role == config.RoleControlPlane {
		// Its static pods restart: the API answers again before the drain asks it.
		if err := p.waitAPI(ctx, cp, 2*time.Minute); err != nil {
			return out, err
		}
	}
	out.UpgradeSeconds = time.Since(start).Seconds()
	if drainIt {
		start = time.Now()
		if err := kubectlRetry(ctx, cp, "annotate", "node", n.Name, "--overwrite", cordonedFor+"="+to); err != nil {
			return out, fmt.Errorf("%s: upgrade: %w", n.Name, err)
		}
		if err := drain(ctx, p.Log, cp, n.Name, drainTimeout); err != nil {
			return out, err
		}
		out.DrainSeconds = time.Since(start).Seconds()
	}
	start = time.Now()
	if err := p.run(ctx, n, "kubelet "+to, func() (string, error) { return UpgradeKubeletScript(n.Name, to, p.Source.Bundle) }); err != nil {
		return out, err
	}
	if err := waitKubelet(ctx, cp, n, to, cmp.Or(p.NodeReadyTimeout, 3*time.Minute)); err != nil {
		return out, err
	}
	if n.Role == config.RoleControlPlane {
		// The new kubelet restarts the node's static pods, the API server among them.
		if err := p.waitAPI(ctx, cp, 2*time.Minute); err != nil {
			return out, err
		}
	}
	if drainIt {
		if err := uncordon(ctx, cp, n.Name); err != nil {
			return out, err
		}
	}
	out.ReadySeconds = time.Since(start).Seconds()
	p.Log.InfoContext(ctx, "node upgraded", "host", n.Name, "to", to,
		"upgrade", secs(out.UpgradeSeconds), "drain", secs(out.DrainSeconds), "ready", secs(out.ReadySeconds))
	return out, nil
}

// allowCgroupV1 sets failCgroupV1: false in the cluster's kubelet config
// (the ConfigMap kubeadm keeps it in), unless it is there already: kubelets
// from 1.35 do not start on a cgroup v1 tree without it, and container
// nodes have one. Clusters made by meshready from 1.31 have it already.
func allowCgroupV1(ctx context.Context, cp Node) error {
	out, err := cp.Runner.Run(ctx, kube.Command("-n", "kube-system", "get", "configmap", "kubelet-config", "-o", "jsonpath={.data.kubelet}"))
	if err != nil {
		return fmt.Errorf("%s: kubelet config: %w", cp.Name, err)
	}
	patch, err := CgroupV1Patch(out.Stdout)
	if err != nil || patch == nil {
		return err
	}
	if _, err := cp.Runner.Run(ctx, kube.Command("-n", "kube-system", "patch", "configmap", "kubelet-config", "--type", "merge", "-p", string(patch))); err != nil {
		return fmt.Errorf("%s: kubelet config: %w", cp.Name, err)
	}
	return nil
}

// CgroupV1Patch is the merge patch of the kubelet-config ConfigMap that
// sets failCgroupV1: false in the KubeletConfiguration kubelet (YAML), nil
// when it says so already.
func CgroupV1Patch(kubelet []byte) ([]byte, error) {
	var cfg map[string]any
	if err := yaml.Unmarshal(kubelet, &cfg); err != nil || cfg["kind"] != "KubeletConfiguration" {
		return nil, fmt.Errorf("the kubelet-config ConfigMap holds no KubeletConfiguration (%v)", err)
	}
	if v, ok := cfg["failCgroupV1"].(bool); ok && !v {
		return nil, nil
	}
	cfg["failCgroupV1"] = false
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"data": map[string]string{"kubelet": string(b)}})
}

// waitAPI waits until the API server answers /readyz three times in a row
// (it restarts with its static pod, and its authorizer fills its caches
// after it first answers).
func (p Plan) waitAPI(ctx context.Context, cp Node, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	ok := 0
	var err error
	for ok < 3 {
		if _, err = cp.Runner.Run(ctx, kube.Command("get", "--raw", "/readyz")); err == nil {
			ok++
		} else {
			ok = 0
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: the API server is not ready %s after its upgrade: %w", cp.Name, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(cmp.Or(p.Poll, time.Second)):
		}
	}
	return nil
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)).Round(time.Second) }

func uncordon(ctx context.Context, cp Node, name string) error {
	if err := kubectlRetry(ctx, cp, "uncordon", name); err != nil {
		return fmt.Errorf("%s: uncordon: %w", name, err)
	}
	if err := kubectlRetry(ctx, cp, "annotate", "node", name, cordonedFor+"-"); err != nil {
		return fmt.Errorf("%s: uncordon: %w", name, err)
	}
	return nil
}

// kubectlRetry runs kubectl on cp, again every 2 s for a minute while it
// fails: an upgrade restarts the API server under it more than once.
func kubectlRetry(ctx context.Context, cp Node, args ...string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := cp.Runner.Run(ctx, kube.Command(args...))
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// nodeStatus is what an upgrade reads of a Node.
type nodeStatus struct {
	ready, cordonedByUs bool
	kubelet             string
}

func nodeState(ctx context.Context, cp Node, name string) (nodeStatus, error) {
	var st nodeStatus
	out, err := cp.Runner.Run(ctx, kube.Command("get", "node", name, "-o", "json"))
	if err != nil {
		return st, err
	}
	return ParseNodeStatus(out.Stdout)
}

// ParseNodeStatus reads `kubectl get node NAME -o json`: the kubelet's
// version, Ready, and whether an upgrade cordoned it.
func ParseNodeStatus(b []byte) (nodeStatus, error) {
	var n struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			Unschedulable bool `json:"unschedulable"`
		} `json:"spec"`
		Status struct {
			Conditions []struct{ Type, Status string } `json:"conditions"`
			NodeInfo   struct {
				KubeletVersion string `json:"kubeletVersion"`
			} `json:"nodeInfo"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &n); err != nil {
		return nodeStatus{}, fmt.Errorf("kubectl get node: not the JSON of a Node")
	}
	st := nodeStatus{kubelet: n.Status.NodeInfo.KubeletVersion}
	for _, c := range n.Status.Conditions {
		st.ready = st.ready || c.Type == "Ready" && c.Status == "True"
	}
	_, marked := n.Metadata.Annotations[cordonedFor]
	st.cordonedByUs = n.Spec.Unschedulable && marked
	return st, nil
}

// controlPlaneApplied says whether `kubeadm upgrade apply` of version got
// past the control plane: its upload-config phase, right after the static
// pods, stores the version in the kubeadm-config ConfigMap. (CoreDNS and
// kube-proxy come later, and with several control planes only with the
// last one's `kubeadm upgrade node`.)
func controlPlaneApplied(ctx context.Context, cp Node, version string) (bool, error) {
	out, err := cp.Runner.Run(ctx, kube.Command("-n", "kube-system", "get", "configmap", "kubeadm-config", "-o", "jsonpath={.data.ClusterConfiguration}"))
	if err != nil {
		return false, err
	}
	m := storedVersion.FindSubmatch(out.Stdout)
	return m != nil && string(m[1]) == version, nil
}

var storedVersion = regexp.MustCompile(`(?m)^kubernetesVersion: *(\S+)\s*$`)

// waitKubelet waits until n is Ready with its kubelet on version; when it
// does not come, the error carries the kubelet's last journal lines.
func waitKubelet(ctx context.Context, cp, n Node, version string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var st nodeStatus
	var err error
	for {
		// The API server may be restarting (the first control plane's own
		// kubelet restarts its static pods): errors are retried until the deadline.
		st, err = nodeState(ctx, cp, n.Name)
		if err == nil && st.ready && st.kubelet == version {
			return nil
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	why := fmt.Sprintf("kubelet %s, Ready %v", st.kubelet, st.ready)
	if err != nil {
		why = err.Error()
	}
	journal := ""
	if res, jerr := n.Runner.Run(context.WithoutCancel(ctx), "journalctl -u kubelet --no-pager -n 10 -o cat 2>/dev/null | cut -c1-300"); jerr == nil {
		journal = "; the kubelet's last lines:\n" + strings.TrimSpace(string(res.Stdout))
	}
	return fmt.Errorf("%s: not Ready on %s %s after its kubelet was upgraded (%s)%s", n.Name, version, timeout, why, journal)
}

// UpgradeKubeadmScript installs kubeadm of version (and, from a bundle, the
// release's images) before kubeadm upgrades the node.
func UpgradeKubeadmScript(node, version, bundle string, images []BundleImage) (string, error) {
	plain, minor, err := aptVersion(version)
	if err != nil {
		return "", err
	}
	return render("upgrade-kubeadm.sh.tmpl", struct {
		Node, Version, Plain, Minor, Bundle string
		Images                              []BundleImage
	}{node, version, plain, minor, bundle, images})
}

// UpgradeNodeScript runs kubeadm upgrade apply (apply: the first control
// plane) or kubeadm upgrade node.
func UpgradeNodeScript(node, version string, apply bool, ignore []string) (string, error) {
	if _, _, err := aptVersion(version); err != nil {
		return "", err
	}
	return render("upgrade-node.sh.tmpl", struct {
		Node, Version, Ignore string
		Apply                 bool
	}{node, version, strings.Join(ignore, ","), apply})
}

// UpgradeKubeletScript installs kubelet and kubectl of version and restarts the kubelet.
func UpgradeKubeletScript(node, version, bundle string) (string, error) {
	plain, minor, err := aptVersion(version)
	if err != nil {
		return "", err
	}
	return render("upgrade-kubelet.sh.tmpl", struct{ Node, Version, Plain, Minor, Bundle string }{node, version, plain, minor, bundle})
}

// aptVersion is version without its v, and its MAJOR.MINOR (the package
// repository's channel); only a well-formed version reaches a script.
func aptVersion(version string) (plain, minor string, err error) {
	maj, min, _, err := config.Version(version).Parse()
	if err != nil {
		return "", "", err
	}
	return strings.TrimPrefix(config.Version(version).Tag(), "v"), fmt.Sprintf("%d.%d", maj, min), nil
}
