package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/remote"
)

func TestCheckUpgrade(t *testing.T) {
	for _, c := range []struct {
		from, to, refusal string
	}{
		{"1.34.4", "1.34.4", ""},
		{"1.34.4", "1.34.6", ""},
		{"1.34.4", "1.35.4", ""},
		{"v1.34.4", "1.35.0", ""},
		{"1.34.4", "1.36.1", "skips 1 minor release(s): Kubernetes upgrades one minor at a time; set 1.35.x first"},
		{"1.34.4", "1.37.2", "skips 2 minor release(s)"},
		{"1.35.4", "1.34.4", "is a downgrade"},
		{"1.34.4", "1.34.3", "is a downgrade"},
		{"1.34.4", "2.0.0", "changes the major version"},
		{"1.34.4", "1.35", "kubernetes.version"},
	} {
		err := CheckUpgrade(config.Version(c.from), config.Version(c.to))
		switch {
		case c.refusal == "" && err != nil:
			t.Errorf("%s -> %s refused: %v", c.from, c.to, err)
		case c.refusal != "" && (err == nil || !strings.Contains(err.Error(), c.refusal)):
			t.Errorf("%s -> %s: got %v, want a refusal saying %q", c.from, c.to, err, c.refusal)
		}
	}
}

func TestParseNodeStatus(t *testing.T) {
	st, err := ParseNodeStatus([]byte(`{"metadata":{"name":"w-1","annotations":{"meshready.io/upgrade-cordoned":"v1.35.4"}},
		"spec":{"unschedulable":true},
		"status":{"conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True"}],
		"nodeInfo":{"kubeletVersion":"v1.35.4"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (nodeStatus{ready: true, cordonedByUs: true, kubelet: "v1.35.4"}); st != want {
		t.Errorf("got %+v, want %+v", st, want)
	}
	// Cordoned by a person: an upgrade leaves it so.
	st, _ = ParseNodeStatus([]byte(`{"spec":{"unschedulable":true},"status":{"nodeInfo":{"kubeletVersion":"v1.34.4"}}}`))
	if st.cordonedByUs || st.ready || st.kubelet != "v1.34.4" {
		t.Errorf("got %+v", st)
	}
	if _, err := ParseNodeStatus([]byte("error: the server doesn't have a resource type")); err == nil {
		t.Error("no error for text")
	}
}

func TestCgroupV1Patch(t *testing.T) {
	patch, err := CgroupV1Patch([]byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\nfailSwapOn: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(patch), `failCgroupV1: false\n`) || !strings.Contains(string(patch), `cgroupDriver: cgroupfs`) {
		t.Errorf("patch %s", patch)
	}
	if p, err := CgroupV1Patch([]byte("kind: KubeletConfiguration\nfailCgroupV1: false\n")); p != nil || err != nil {
		t.Errorf("set already: %s %v", p, err)
	}
	if _, err := CgroupV1Patch([]byte("kind: ConfigMap\n")); err == nil {
		t.Error("no error for another kind")
	}
}

// cluster is an upgrade's world: each node's kubelet version, whether
// kubeadm upgrade apply ran, and what ran where.
type cluster struct {
	mu      sync.Mutex
	kubelet map[string]string
	applied bool
	broken  string // this node's new kubelet never gets Ready
	log     []string
}

type clusterNode struct {
	c    *cluster
	name string
}

func (n clusterNode) Host() string { return n.name }
func (n clusterNode) Close() error { return nil }
func (n clusterNode) Upload(context.Context, string, []byte, os.FileMode) error {
	return nil
}

func (n clusterNode) Run(_ context.Context, cmd string, _ ...remote.RunOption) (remote.Result, error) {
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd = strings.ReplaceAll(cmd, "'", "")
	first, _, _ := strings.Cut(strings.TrimSpace(cmd), "\n")
	out := func(s string) (remote.Result, error) { return remote.Result{Stdout: []byte(s)}, nil }
	switch {
	case strings.Contains(cmd, "get --raw /readyz"):
		return out("ok")
	case strings.Contains(cmd, "get pods -A -o json"):
		return out(`{"items":[{"metadata":{"name":"kube-apiserver-cp-9","namespace":"kube-system"},"spec":{"nodeName":"cp-9"}}]}`)
	case strings.Contains(cmd, "get nodes -o json"):
		var items []string
		for n := range c.kubelet {
			items = append(items, fmt.Sprintf(`{"metadata":{"name":%q}}`, n))
		}
		return out(`{"items":[` + strings.Join(items, ",") + `]}`)
	case strings.Contains(cmd, "get configmap kubeadm-config"):
		if c.applied {
			return out("apiServer: {}\nkubernetesVersion: v1.35.4\nnetworking: {}\n")
		}
		return out("apiServer: {}\nkubernetesVersion: v1.34.4\nnetworking: {}\n")
	case strings.Contains(cmd, "get node "):
		name := strings.Fields(cmd[strings.Index(cmd, "get node ")+len("get node "):])[0]
		return out(fmt.Sprintf(`{"status":{"conditions":[{"type":"Ready","status":"True"}],"nodeInfo":{"kubeletVersion":%q}}}`, c.kubelet[name]))
	case strings.HasPrefix(cmd, "journalctl"):
		return out("E1203 kubelet: failed to start")
	}
	c.log = append(c.log, n.name+": "+strings.TrimPrefix(first, "kubectl --kubeconfig /etc/kubernetes/admin.conf "))
	switch {
	case strings.Contains(first, "kubeadm upgrade apply"):
		c.applied = true
	case strings.Contains(first, "kubelet and kubectl") && n.name != c.broken:
		c.kubelet[n.name] = "v1.35.4"
	}
	return remote.Result{}, nil
}

func TestUpgradeOrder(t *testing.T) {
	world := func() (*cluster, Node, []Node) {
		c := &cluster{kubelet: map[string]string{"cp-1": "v1.34.4", "cp-2": "v1.34.4", "w-1": "v1.34.4", "w-2": "v1.34.4"}}
		mk := func(name, role string) Node { return Node{Name: name, Role: role, Runner: clusterNode{c, name}} }
		// Workers given first: control planes still go first.
		return c, mk("cp-1", "control-plane"), []Node{mk("w-1", "worker"), mk("cp-2", "control-plane"), mk("w-2", "worker")}
	}
	p := Plan{Version: "1.35.4", Log: slog.New(slog.DiscardHandler), NodeReadyTimeout: time.Millisecond, Poll: time.Millisecond}
	c, cp, others := world()
	res, err := Upgrade(t.Context(), p, "1.34.4", cp, others, time.Minute)
	must(t, err)
	// The mirror pod of a control plane that left goes first.
	want := []string{"cp-1: -n kube-system delete pod kube-apiserver-cp-9 --force --grace-period=0 --ignore-not-found"}
	for _, n := range []string{"cp-1", "cp-2", "w-1", "w-2"} {
		step := "# meshready upgrade of " + n + " to Kubernetes v1.35.4: kubeadm upgrade node."
		if n == "cp-1" {
			step = "# meshready upgrade of cp-1 to Kubernetes v1.35.4: kubeadm upgrade apply, on the first control plane."
		}
		want = append(want, n+": "+step,
			"cp-1: annotate node "+n+" --overwrite meshready.io/upgrade-cordoned=v1.35.4",
			"cp-1: cordon "+n,
			"cp-1: drain "+n+" --ignore-daemonsets --delete-emptydir-data --timeout=1m0s",
			n+": # meshready upgrade of "+n+" to Kubernetes v1.35.4: kubelet and kubectl, then the kubelet restarted (its pods keep running).",
			"cp-1: uncordon "+n,
			"cp-1: annotate node "+n+" meshready.io/upgrade-cordoned-")
	}
	if got := strings.Join(c.log, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("ran:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if len(res.Nodes) != 4 || res.Nodes[0].Node != "cp-1" || res.Nodes[3].Node != "w-2" || res.From != "v1.34.4" || res.To != "v1.35.4" {
		t.Errorf("result %+v", res)
	}

	// A worker that does not come back stops the rollout there: its
	// kubelet's lines in the error, the worker after it untouched.
	c, cp, others = world()
	c.broken = "w-1"
	_, err = Upgrade(t.Context(), p, "1.34.4", cp, others, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "w-1: not Ready on v1.35.4") || !strings.Contains(err.Error(), "kubelet: failed to start") ||
		!strings.Contains(err.Error(), "w-2 not touched") {
		t.Fatalf("err = %v", err)
	}
	if s := strings.Join(c.log, "\n"); strings.Contains(s, "w-2") || strings.Contains(s, "uncordon w-1") {
		t.Errorf("ran after the broken node:\n%s", s)
	}

	// Resumed: the nodes on the new version are skipped (cp-1 runs kubeadm
	// upgrade node again, which writes its kubelet config).
	c, cp, others = world()
	c.applied, c.kubelet["cp-1"], c.kubelet["cp-2"] = true, "v1.35.4", "v1.35.4"
	res, err = Upgrade(t.Context(), p, "1.34.4", cp, others, time.Minute)
	must(t, err)
	if s := strings.Join(c.log[1:], "\n"); strings.Contains(s, "cp-1: #") || strings.Contains(s, "cp-2") || !strings.Contains(s, "w-2: # meshready upgrade of w-2") {
		t.Errorf("a resumed upgrade ran:\n%s", s)
	}
	if !res.Nodes[0].Skipped || !res.Nodes[1].Skipped || res.Nodes[2].Skipped {
		t.Errorf("skipped %+v", res.Nodes)
	}
	if _, err := Upgrade(t.Context(), p, "1.33.1", cp, others, time.Minute); err == nil || !strings.Contains(err.Error(), "one minor at a time") {
		t.Errorf("a two-minor upgrade: %v", err)
	}
}

// FuzzParseNodeStatus: whatever kubectl prints for a Node, reading it never panics.
func FuzzParseNodeStatus(f *testing.F) {
	f.Add([]byte(`{"metadata":{"annotations":{"meshready.io/upgrade-cordoned":"v1.35.4"}},"spec":{"unschedulable":true},"status":{"conditions":[{"type":"Ready","status":"True"}],"nodeInfo":{"kubeletVersion":"v1.35.4"}}}`))
	f.Add([]byte(`{"status":{"conditions":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) { ParseNodeStatus(b) })
}

// FuzzCgroupV1Patch: whatever the kubelet-config ConfigMap holds, making
// the patch never panics, and a patch made is JSON that sets the field.
func FuzzCgroupV1Patch(f *testing.F) {
	f.Add([]byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\n"))
	f.Add([]byte("kind: KubeletConfiguration\nfailCgroupV1: true\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := CgroupV1Patch(b)
		if err == nil && p != nil && !strings.Contains(string(p), "failCgroupV1: false") {
			t.Errorf("patch %s", p)
		}
	})
}
