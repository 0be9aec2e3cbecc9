package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/remote"
	"github.com/meshready/meshready/report"
	"github.com/meshready/meshready/toolchain"
)

// day2Stack is a local stack on a bridge and subnet of its own, measured
// (briefly: the walk checks who is measured, not what), gate off: the
// host's disk is what it is.
func day2Stack(controlPlanes, workers int, snapshotCount string, extra ...string) string {
	etcd := ""
	if snapshotCount != "" {
		etcd = "  meshready:etcd:\n    snapshotCount: " + snapshotCount + "\n"
	}
	etcd += strings.Join(extra, "")
	return fmt.Sprintf(`config:
  meshready:region: d2
  meshready:provider: local
  meshready:local:
    bridge: mr-day2
    subnet: 10.213.248.0/24
  meshready:nodes:
    controlPlanes: %d
    workers: %d
    drainTimeout: 2m
  meshready:etcdSnapshots:
    keep: 3
  meshready:benchmarks:
    enabled: true
    gate: false
    diskRuntime: 5s
    stealIdle: 5s
    stealLoaded: 5s
%s`, controlPlanes, workers, etcd)
}

// TestLocalDay2 walks a running cluster through its life on the local
// stack: 1 control plane + 1 worker → 2 workers (the new one measured
// alone) → worker-2 replaced → 3 control planes (the first up killed
// half-way through, the next converging) → 1 control plane + 2 workers →
// an etcd flag changed → snapshot and restore drill → Kubernetes upgraded
// 1.34.4 → 1.35.4 under a steady load → destroy. A workload on worker-1
// serves throughout: until the upgrade its pods, and the nodes that stay
// (their boot, their containers), are never touched. Bad input is refused
// first, and before the upgrade a downgrade, a skipped minor and a
// version outside Istio's window.
func TestLocalDay2(t *testing.T) {
	if testing.Short() {
		t.Skip("boots up to five systemd-nspawn machines")
	}
	clusterSlot(t, 0) // two clusters at a time, the longest first (see main_test.go)
	took := walkDay2(t)
	for _, s := range slices.Sorted(func(yield func(string) bool) {
		for k := range took {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Logf("%-28s %s", s, took[s].Round(time.Second))
	}
}

// BenchmarkDay2 is the same walk, each step's wall time reported (go test
// -run XXX -bench Day2 -benchtime 1x ./cli): the README's day-2 figures.
func BenchmarkDay2(b *testing.B) {
	for b.Loop() {
		for step, d := range walkDay2(b) {
			b.ReportMetric(d.Seconds(), step+"-s")
		}
	}
}

// walkDay2 runs the walk and returns how long each step took.
func walkDay2(t testing.TB) map[string]time.Duration {
	took := map[string]time.Duration{}
	dir := newProject(t, map[string]string{"d2": day2Stack(1, 1, "")})
	t.Cleanup(func() { // whatever happens, leave nothing running, and say when that failed
		if r := runCLI(t, nil, "--project-dir", dir, "destroy", "--stack", "d2", "--yes"); r.code != ExitOK {
			t.Errorf("cleanup: destroy: exit %d\n%s\n%s", r.code, pulumiFailure(r.stdout), r.stderr)
		}
	})
	cache, err := toolchain.DefaultDir(os.Getenv)
	must(t, err)
	stackFile := filepath.Join(dir, "stacks", "Pulumi.d2.yaml")
	setStack := func(cp, w int, snap string, extra ...string) {
		must(t, os.WriteFile(stackFile, []byte(day2Stack(cp, w, snap, extra...)), 0o644))
	}
	up := func(step string) {
		t.Helper()
		start := time.Now()
		r := runCLI(t, nil, "--project-dir", dir, "up", "--stack", "d2", "--yes")
		took[step] = time.Since(start)
		if r.code != ExitOK {
			t.Fatalf("%s: exit %d\n%s\n%s", step, r.code, pulumiFailure(r.stdout), r.stderr)
		}
	}
	c := &day2Cluster{t: t, dir: dir, kubectlBin: filepath.Join(cache, "bundle", "v1.34.4", "bin", "kubectl")}

	// 1 control plane + 1 worker, and a workload on the worker.
	up("up 1+1")
	c.refresh()
	c.kubectl("create", "deployment", "web", "--image=registry.k8s.io/pause:3.10.1", "--replicas=2")
	c.kubectl("create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=1")
	c.kubectl("rollout", "status", "deployment/web", "--timeout=3m")
	pods := c.kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.metadata.uid} {.spec.nodeName} {.status.containerStatuses[0].containerID}{\"\\n\"}{end}")
	stay := []string{"d2-cp-1", "d2-worker-1"}
	before := c.identities(stay)
	measured := c.measured()

	// Bad input is refused before anything changes.
	for _, args := range [][]string{
		{"node", "replace", "d2-worker-9", "--stack", "d2", "--yes"},
		{"node", "replace", "d2-cp-1", "--stack", "d2", "--yes"},
		{"etcd", "restore", "--stack", "d2", "--from", stackFile, "--yes"},
	} {
		if r := runCLI(t, nil, append([]string{"--project-dir", dir}, args...)...); r.code != ExitBadInput {
			t.Errorf("%v: exit %d, want %d\n%s", args, r.code, ExitBadInput, r.stderr)
		}
	}
	setStack(2, 1, "")
	if r := runCLI(t, nil, "--project-dir", dir, "up", "--stack", "d2", "--yes"); r.code != ExitBadInput || !strings.Contains(r.stderr, "nodes.controlPlanes") {
		t.Errorf("2 control planes: exit %d\n%s", r.code, r.stderr)
	}
	setStack(0, 1, "")
	if r := runCLI(t, nil, "--project-dir", dir, "up", "--stack", "d2", "--yes"); r.code != ExitBadInput || !strings.Contains(r.stderr, "nodes.controlPlanes") {
		t.Errorf("no control plane: exit %d\n%s", r.code, r.stderr)
	}

	// A second worker: measured alone, joined; nothing else touched.
	setStack(1, 2, "")
	up("add a worker")
	c.refresh()
	c.wantNodes("d2-cp-1", "d2-worker-1", "d2-worker-2")
	after := c.measured()
	for node, m := range measured {
		if after[node] != m {
			t.Errorf("%s was measured again when d2-worker-2 joined: %q, then %q", node, m, after[node])
		}
	}
	if after["d2-worker-2"] == "" {
		t.Errorf("d2-worker-2 was not measured: %v", after)
	}

	// worker-2 replaced: a new server, the old one drained out first.
	start := time.Now()
	if r := runCLI(t, nil, "--project-dir", dir, "node", "replace", "d2-worker-2", "--stack", "d2", "--yes"); r.code != ExitOK {
		t.Fatalf("node replace: exit %d\n%s\n%s", r.code, pulumiFailure(r.stdout), r.stderr)
	}
	took["replace a worker"] = time.Since(start)
	c.refresh()
	c.wantNodes("d2-cp-1", "d2-worker-1", "d2-worker-2")

	// Three control planes, one at a time; the first up is killed while
	// d2-cp-2 joins, the next converges.
	setStack(3, 2, "")
	cp2 := filepath.Join(cache, "local", "machines", "mr-d2-cp-2", "rootfs", "etc", "kubernetes", "kubelet.conf")
	p := startCLI(t, nil, dir, "up", "--stack", "d2", "--yes")
	p.waitUntil(t, "d2-cp-2 joining", 10*time.Minute, func() bool { _, err := os.Stat(cp2); return err == nil })
	p.kill(t)
	up("1 -> 3 control planes")
	c.refresh()
	c.wantNodes("d2-cp-1", "d2-cp-2", "d2-cp-3", "d2-worker-1", "d2-worker-2")
	// Three etcd members answering (their mirror pods show in the API a
	// little after the nodes are Ready).
	var etcdPods string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(3 * time.Second) {
		if etcdPods = c.kubectl("-n", "kube-system", "get", "pods", "-l", "component=etcd", "--field-selector=status.phase=Running", "-o", "name"); strings.Count(etcdPods, "pod/") == 3 {
			break
		}
	}
	if strings.Count(etcdPods, "pod/") != 3 {
		t.Errorf("etcd pods: %s", etcdPods)
	}

	// Nodes that stayed, through the scale-out: same boot, same containers.
	c.untouched(stay, before)

	// A restore drill with three members (it restarts the control planes'
	// static pods, so the nodes that stay are looked at afresh after it).
	drill(t, c, dir, "drill-3", took, "etcd restore, 3 members")
	before = c.identities(stay)

	// Back to 1 + 2: control planes leave one at a time.
	setStack(1, 2, "")
	up("3+2 -> 1+2")
	c.refresh()
	c.wantNodes("d2-cp-1", "d2-worker-1", "d2-worker-2")
	for _, gone := range []string{"d2-cp-2", "d2-cp-3"} {
		if _, err := os.Stat(filepath.Join(cache, "local", "machines", "mr-"+gone)); err == nil {
			t.Errorf("the machine of %s is still there", gone)
		}
	}

	// Nodes that stayed, through the scale-in: same boot, same containers.
	c.untouched(stay, before)

	// etcd retuned in place; the output says what etcd runs.
	setStack(1, 2, "5000")
	up("etcd retune")
	c.refresh()
	if !strings.Contains(c.run("d2-cp-1", "cat /etc/kubernetes/manifests/etcd.yaml"), "--snapshot-count=5000") {
		t.Error("etcd's manifest does not have the new snapshot count")
	}
	var etcdOut []struct{ Name, Value string }
	c.output("etcd", &etcdOut)
	if !slices.Contains(etcdOut, struct{ Name, Value string }{"snapshot-count", "5000"}) {
		t.Errorf("etcd output %v", etcdOut)
	}
	var snaps []string
	c.output("etcdSnapshots", &snaps)
	if len(snaps) == 0 || len(snaps) > 3 || !strings.Contains(snaps[0], "-retune.db") {
		t.Errorf("automatic snapshots %v: want the newest (before the retune) first, at most 3", snaps)
	}

	// The workload's pods on the node that stayed are the same ones.
	if again := c.kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.metadata.uid} {.spec.nodeName} {.status.containerStatuses[0].containerID}{\"\\n\"}{end}"); again != pods {
		t.Errorf("the workload's pods changed:\n%s\nthen\n%s", pods, again)
	}

	// Snapshot, lose a ConfigMap, restore: it is back and every node Ready.
	drill(t, c, dir, "drill-1", took, "etcd restore, 1 member")
	c.wantNodes("d2-cp-1", "d2-worker-1", "d2-worker-2")

	upgrade(t, c, dir, setStack, up, stackFile)

	start = time.Now()
	if r := runCLI(t, nil, "--project-dir", dir, "destroy", "--stack", "d2", "--yes"); r.code != ExitOK {
		t.Fatalf("destroy: exit %d\n%s", r.code, r.stderr)
	}
	took["destroy"] = time.Since(start)
	if out, err := exec.Command("ip", "link", "show", "mr-day2").CombinedOutput(); err == nil {
		t.Errorf("bridge left behind: %s", out)
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "local", "machines", "mr-d2-*")); len(m) > 0 {
		t.Errorf("machines left behind: %v", m)
	}
	return took
}

// upgrade refuses the versions the running 1.34.4 cluster cannot move to,
// exit 2 and nothing changed, then upgrades its three nodes to 1.35.4
// while a steady load runs: every node on the new version, 0 requests
// failed, and the report's Upgrade section says so.
func upgrade(t testing.TB, c *day2Cluster, dir string, setStack func(int, int, string, ...string), up func(string), stackFile string) {
	t.Helper()
	version := func(v string) string { return "  meshready:kubernetes:\n    version: \"" + v + "\"\n" }
	before, err := os.ReadFile(filepath.Join(dir, ".meshready", "reports", "d2", "report.json"))
	must(t, err)
	for _, bad := range []struct{ extra, says string }{
		{version("1.33.1"), "is a downgrade"},
		{version("1.36.1"), "one minor at a time"},
		{version("1.35.4") + "  meshready:istio:\n    enabled: true\n    version: \"1.28.0\"\n", "outside the Kubernetes versions Istio 1.28.0 supports (1.30-1.34)"},
	} {
		setStack(1, 2, "5000", bad.extra)
		for _, verb := range []string{"preview", "up"} {
			args := []string{"--project-dir", dir, verb, "--stack", "d2"}
			if verb == "up" {
				args = append(args, "--yes")
			}
			if r := runCLI(t, nil, args...); r.code != ExitBadInput || !strings.Contains(r.stderr, bad.says) {
				t.Errorf("%s with %q: exit %d, want %d saying %q\n%s", verb, bad.extra, r.code, ExitBadInput, bad.says, r.stderr)
			}
		}
	}
	if v := c.kubectl("get", "nodes", "-o", "jsonpath={.items[*].status.nodeInfo.kubeletVersion}"); v != "v1.34.4 v1.34.4 v1.34.4" {
		t.Fatalf("a refused upgrade changed the kubelets: %s", v)
	}

	setStack(1, 2, "5000", version("1.35.4"))
	up("upgrade 1.34.4 -> 1.35.4")
	c.refresh()
	c.wantNodes("d2-cp-1", "d2-worker-1", "d2-worker-2")
	if v := c.kubectl("get", "nodes", "-o", "jsonpath={.items[*].status.nodeInfo.kubeletVersion}"); v != "v1.35.4 v1.35.4 v1.35.4" {
		t.Errorf("kubelets after the upgrade: %s", v)
	}
	if v := c.kubectl("version", "-o", "json"); !strings.Contains(v, `"gitVersion": "v1.35.4"`) {
		t.Errorf("the API server after the upgrade: %s", v)
	}
	for _, img := range []string{"registry.k8s.io/etcd:3.6.6-0", "registry.k8s.io/kube-proxy:v1.35.4", "registry.k8s.io/coredns/coredns:v1.13.1"} {
		if all := c.kubectl("get", "pods", "-A", "-o", "jsonpath={.items[*].spec.containers[*].image}"); !strings.Contains(all, img) {
			t.Errorf("no pod runs %s after the upgrade: %s", img, all)
		}
	}
	if ns := c.kubectl("get", "namespaces", "-o", "name"); strings.Contains(ns, "meshready-traffic") &&
		!strings.Contains(c.kubectl("get", "namespace", "meshready-traffic", "-o", "jsonpath={.status.phase}"), "Terminating") {
		t.Errorf("the traffic workload was left behind")
	}
	rep, err := report.Read(filepath.Join(dir, ".meshready", "reports", "d2"))
	must(t, err)
	u := rep.Upgrade
	if u == nil || u.From != "v1.34.4" || u.To != "v1.35.4" || len(u.Nodes) != 3 || u.Error != "" {
		t.Fatalf("the report's upgrade: %+v", u)
	}
	for _, n := range u.Nodes {
		if n.Skipped || n.UpgradeSeconds <= 0 || n.ReadySeconds <= 0 || n.DrainSeconds <= 0 {
			t.Errorf("node %+v: every node upgraded, drained and back", n)
		}
		t.Logf("%s: kubeadm %.1f s, drain %.1f s, kubelet to Ready %.1f s", n.Node, n.UpgradeSeconds, n.DrainSeconds, n.ReadySeconds)
	}
	tr := u.Traffic
	if tr == nil {
		t.Fatalf("no traffic during the upgrade: %s", u.TrafficNote)
	}
	t.Logf("upgrade took %.0f s; load: %d sent, %d failed, longest window %.2f s, p99 %.1f ms, max %.0f ms, errors %v",
		u.Seconds, tr.Sent, tr.Failed, tr.LongestSec, tr.P99Ms, tr.MaxMs, tr.Errors)
	if len(tr.Clients) != 3 || float64(tr.Sent) < 0.5*u.Seconds*3*float64(tr.QPS) {
		t.Errorf("load from %v: %d requests in %.0f s, want about %d a second from each", tr.Clients, tr.Sent, u.Seconds, tr.QPS)
	}
	if tr.Failed != 0 {
		t.Errorf("%d of %d requests failed during the upgrade (windows %+v, errors %v)", tr.Failed, tr.Sent, tr.Windows, tr.Errors)
	}
	if md, err := os.ReadFile(filepath.Join(dir, ".meshready", "reports", "d2", report.MarkdownFile)); err != nil || !strings.Contains(string(md), "## Upgrade") {
		t.Errorf("no Upgrade section in the Markdown report (%v)", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, ".meshready", "reports", "d2", "report.json")); string(after) == string(before) {
		t.Error("the report was not written again")
	}
}

// drill writes a ConfigMap, takes a snapshot, deletes the ConfigMap and
// restores: the ConfigMap is back and every node Ready.
func drill(t testing.TB, c *day2Cluster, dir, name string, took map[string]time.Duration, step string) {
	t.Helper()
	c.kubectl("create", "configmap", name, "--from-literal=k=v")
	snap := filepath.Join(t.TempDir(), name+".db")
	start := time.Now()
	if r := runCLI(t, nil, "--project-dir", dir, "etcd", "snapshot", "--stack", "d2", "--out", snap); r.code != ExitOK {
		t.Fatalf("etcd snapshot: exit %d\n%s", r.code, r.stderr)
	}
	took["etcd snapshot"] = time.Since(start)
	if fi, err := os.Stat(snap); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot file %v %v", fi, err)
	}
	if sum, err := os.ReadFile(snap + ".sha256"); err != nil || !strings.HasSuffix(string(sum), "  "+name+".db\n") {
		t.Errorf("snapshot checksum %q %v", sum, err)
	}
	c.kubectl("delete", "configmap", name)
	start = time.Now()
	if r := runCLI(t, nil, "--project-dir", dir, "etcd", "restore", "--stack", "d2", "--from", snap, "--yes"); r.code != ExitOK {
		t.Fatalf("etcd restore: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	took[step] = time.Since(start)
	if v := c.kubectl("get", "configmap", name, "-o", "jsonpath={.data.k}"); v != "v" {
		t.Errorf("the ConfigMap did not come back: %q", v)
	}
}

// day2Cluster reaches the walk's cluster: kubectl with its kubeconfig,
// commands on its nodes over SSH with the stack's key.
type day2Cluster struct {
	t          testing.TB
	dir        string
	kubectlBin string
	outs       map[string]json.RawMessage
	kc         string
}

// refresh reads the stack's outputs again.
func (c *day2Cluster) refresh() {
	c.t.Helper()
	r := runCLI(c.t, nil, "--project-dir", c.dir, "outputs", "--stack", "d2", "--json", "--show-secrets")
	c.outs = map[string]json.RawMessage{}
	must(c.t, json.Unmarshal([]byte(r.stdout), &c.outs))
	var kc string
	c.output("kubeconfig", &kc)
	c.kc = filepath.Join(c.dir, "kubeconfig-d2")
	must(c.t, os.WriteFile(c.kc, []byte(kc), 0o600))
}

func (c *day2Cluster) output(key string, v any) {
	c.t.Helper()
	if err := json.Unmarshal(c.outs[key], v); err != nil {
		c.t.Fatalf("output %s: %v", key, err)
	}
}

func (c *day2Cluster) kubectl(args ...string) string {
	c.t.Helper()
	out, err := exec.Command(c.kubectlBin, append([]string{"--kubeconfig", c.kc}, args...)...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// wantNodes waits until the cluster's nodes are names, all Ready.
func (c *day2Cluster) wantNodes(names ...string) {
	c.t.Helper()
	want := strings.Join(names, " ")
	var got string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(3 * time.Second) {
		got = c.kubectl("get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}`)
		ok := len(strings.Fields(got)) == len(names)
		for _, n := range names {
			ok = ok && strings.Contains(got, n+"=True")
		}
		if ok {
			return
		}
	}
	c.t.Fatalf("nodes %q, want %s all Ready", got, want)
}

// run runs cmd on node over SSH.
func (c *day2Cluster) run(node, cmd string) string {
	c.t.Helper()
	var nodes []struct {
		Name, Address, SSHUser, HostKey string
		SSHPort                         int
	}
	var key string
	c.output("nodes", &nodes)
	c.output("sshPrivateKey", &key)
	for _, n := range nodes {
		if n.Name != node {
			continue
		}
		r, err := remote.Dial(context.Background(), remote.Target{Name: n.Name, Address: n.Address, Port: n.SSHPort, User: n.SSHUser, HostKey: n.HostKey},
			remote.Auth{PrivateKey: []byte(key)}, remote.DialOptions{Attempts: 3})
		must(c.t, err)
		defer r.Close()
		res, err := r.Run(context.Background(), cmd)
		if err != nil {
			c.t.Fatalf("%s: %s: %v", node, cmd, err)
		}
		return string(res.Stdout)
	}
	c.t.Fatalf("no node %s in the outputs", node)
	return ""
}

// untouched checks that nodes kept their boot and containers since before.
func (c *day2Cluster) untouched(nodes []string, before map[string]identity) {
	c.t.Helper()
	after := c.identities(nodes)
	for _, n := range nodes {
		if before[n].boot != after[n].boot {
			c.t.Errorf("%s was restarted: boot %s, then %s", n, before[n].boot, after[n].boot)
		}
		for name, id := range before[n].containers {
			if after[n].containers[name] != id {
				c.t.Errorf("%s's container %s changed: %s, then %s\n%s", n, name, id, after[n].containers[name], c.ended(name))
			}
		}
	}
}

// ended says how the container before the running one of pod/container
// (namespace/pod/container) ended: the kubelet's last state of it and
// the end of its log, for a failure that has to be understood from CI's
// output alone.
func (c *day2Cluster) ended(name string) string {
	f := strings.SplitN(name, "/", 3)
	if len(f) != 3 {
		return ""
	}
	out, err := exec.Command(c.kubectlBin, "--kubeconfig", c.kc, "-n", f[0], "get", "pod", f[1], "-o",
		`jsonpath={range .status.containerStatuses[?(@.name=="`+f[2]+`")]}restarts {.restartCount}, last state {.lastState}{end}`).CombinedOutput()
	logs, lerr := exec.Command(c.kubectlBin, "--kubeconfig", c.kc, "-n", f[0], "logs", f[1], "-c", f[2], "--previous", "--tail=15").CombinedOutput()
	return fmt.Sprintf("  %s (%v)\n  its previous log's end (%v):\n%s", out, err, lerr, logs)
}

// identity is what a node restarted or a container recreated changes.
type identity struct {
	boot string
	// containers are the running containers' ids by name (pod/container).
	containers map[string]string
}

// identities are the nodes' PID 1 start (a local node's boot) and the
// containers of the pods on them, by pod and container name, as the
// kubelets report them (a restarted container has a new id).
func (c *day2Cluster) identities(nodes []string) map[string]identity {
	out := map[string]identity{}
	lines := c.kubectl("get", "pods", "-A", "-o", `jsonpath={range .items[*]}{.spec.nodeName} {.metadata.namespace}/{.metadata.name} {range .status.containerStatuses[*]}{.name}={.containerID} {end}{"\n"}{end}`)
	for _, n := range nodes {
		stat := strings.Fields(c.run(n, "cat /proc/1/stat"))
		ids := map[string]string{}
		for _, l := range strings.Split(lines, "\n") {
			f := strings.Fields(l)
			if len(f) < 2 || f[0] != n {
				continue
			}
			for _, ct := range f[2:] {
				name, id, _ := strings.Cut(ct, "=")
				ids[f[1]+"/"+name] = id
			}
		}
		out[n] = identity{boot: stat[21], containers: ids}
	}
	return out
}

// measured is each node's benchmark claims as the outputs summarise them.
func (c *day2Cluster) measured() map[string]string {
	var b struct {
		Claims []struct{ ID, Node, Measured string }
	}
	c.output("benchmarks", &b)
	out := map[string]string{}
	for _, cl := range b.Claims {
		if cl.Node != "" {
			out[cl.Node] += cl.ID + ": " + cl.Measured + "; "
		}
	}
	return out
}
