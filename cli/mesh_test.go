package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/bundle"
	"github.com/meshready/meshready/mesh"
	"github.com/meshready/meshready/report"
	"github.com/meshready/meshready/toolchain"
)

// meshStackFile is a two-node local stack with the mesh, its proxyless
// checks and the addons, on its own bridge and subnet.
func meshStackFile(version, weights, namespaces string) string {
	return fmt.Sprintf(`config:
  meshready:region: mesh
  meshready:provider: local
  meshready:local:
    bridge: mr-mesh0
    subnet: 10.213.250.0/24
  meshready:nodes:
    controlPlanes: 1
    workers: 1
  meshready:kubernetes:
    kubeconfigFile: kc/mesh
  meshready:benchmarks:
    enabled: true
    gate: false
    diskRuntime: 5s
    stealIdle: 5s
    stealLoaded: 5s
    meshLatency:
      duration: 10s
  meshready:istio:
    enabled: true
    version: %q
    mtls: STRICT
    injectNamespaces: %s
    proxylessChecks: true
  meshready:canary:
    - service: echo
      namespace: demo
      subsets: %s
  meshready:addons:
    - prometheus
    - kiali
`, version, namespaces, weights)
}

// TestLocalMesh is the mesh end to end on a local cluster: up installs
// Istio (the older of the two snapshots, istiod Ready as its revision), the
// STRICT policy and the canary routes (visible with kubectl), Prometheus
// scraping istiod, and the proxyless checks write their rows into the region
// report; a second up upgrades Istio to the newer snapshot by revision (the
// stable tag moved, demo's workloads moved while the probe watchers keep
// calling through the mesh, 0 failed, the old revision gone), with new
// weights and a newly injected namespace: the observed split shifts and the
// Deployment that ran there without a proxy is restarted; destroy leaves
// nothing.
func TestLocalMesh(t *testing.T) {
	if testing.Short() {
		t.Skip("boots two systemd-nspawn machines with Kubernetes and Istio")
	}
	clusterSlot(t, 1) // two clusters at a time, the longest first (see main_test.go)
	cacheDir, err := toolchain.DefaultDir(os.Getenv)
	must(t, err)
	// The mesh bundle is built by `meshready tools --mesh` (make test runs it).
	cache := toolchain.Cache{Dir: cacheDir, ProjectDir: repoRoot(t), Log: testLogger(t)}
	pins, err := bundle.IstioPins(t.Context(), cache)
	must(t, err)
	if len(pins) < 2 {
		t.Fatalf("one Istio snapshot pinned (%v): the upgrade needs two", pins)
	}
	older, newer := pins[1].Version, pins[0].Version
	oldRev, err := mesh.Revision(older)
	must(t, err)
	newRev, err := mesh.Revision(newer)
	must(t, err)
	m, err := bundle.EnsureMesh(t.Context(), cache, testLogger(t), newer)
	must(t, err)
	_, err = bundle.EnsureMesh(t.Context(), cache, testLogger(t), older)
	must(t, err)
	dir := newProject(t, map[string]string{"mesh": meshStackFile(older, "{v1: 90, v2: 10}", "[demo]")})
	t.Cleanup(func() { runCLI(t, nil, "--project-dir", dir, "destroy", "--stack", "mesh", "--yes") })

	r := runCLI(t, nil, "--project-dir", dir, "up", "--stack", "mesh", "--yes")
	if r.code != ExitOK {
		t.Fatalf("up: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(filepath.Join(cacheDir, "bundle", "v1.34.4", "bin", "kubectl"),
			append([]string{"--kubeconfig", filepath.Join(dir, "kc", "mesh")}, args...)...).CombinedOutput()
		if err != nil {
			t.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if got := kubectl("-n", "istio-system", "get", "deployment", "istiod-"+oldRev, "-o", "jsonpath={.status.readyReplicas}"); got != "1" {
		t.Errorf("istiod ready replicas %q", got)
	}
	// istiod says which build it is (Istio's version stamp, not "unknown").
	istioBuild := func(rev string) string {
		t.Helper()
		for _, l := range strings.Split(kubectl("get", "--raw", "/api/v1/namespaces/istio-system/services/istiod-"+rev+":15014/proxy/metrics"), "\n") {
			if strings.HasPrefix(l, "istio_build{") {
				return l
			}
		}
		return ""
	}
	if got := istioBuild(oldRev); !strings.Contains(got, `tag="`+older+`"`) {
		t.Errorf("istiod %s's istio_build: %q, want tag %s", oldRev, got, older)
	}
	if got := kubectl("get", "mutatingwebhookconfiguration", "istio-revision-tag-stable", "-o", `jsonpath={.metadata.labels.istio\.io/rev}`); got != oldRev {
		t.Errorf("the stable tag points at %q, want %s", got, oldRev)
	}
	if got := kubectl("-n", "istio-system", "get", "peerauthentication", "default", "-o", "jsonpath={.spec.mtls.mode}"); got != "STRICT" {
		t.Errorf("mesh-wide mTLS %q", got)
	}
	if got := kubectl("-n", "demo", "get", "virtualservice", "echo", "-o", "jsonpath={.spec.http[0].route[*].weight}"); got != "90 10" {
		t.Errorf("canary weights %q", got)
	}
	// Prometheus (the addon, adapted to the local image) scrapes istiod.
	var targets struct {
		Data struct {
			ActiveTargets []struct {
				Labels map[string]string
				Health string
			}
		}
	}
	// And node_exporter on each of the two nodes (a target is "unknown"
	// until its first scrape, every 15 s).
	var scraped bool
	var exporters map[string]bool
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Second) {
		must(t, json.Unmarshal([]byte(kubectl("get", "--raw", "/api/v1/namespaces/istio-system/services/prometheus:9090/proxy/api/v1/targets?state=active")), &targets))
		scraped, exporters = false, map[string]bool{}
		for _, tg := range targets.Data.ActiveTargets {
			scraped = scraped || (tg.Labels["app"] == "istiod" && tg.Health == "up")
			if tg.Labels["app"] == "node-exporter" && tg.Health == "up" {
				exporters[tg.Labels["node"]] = true
			}
		}
		if scraped && len(exporters) == 2 {
			break
		}
	}
	if !scraped {
		t.Errorf("Prometheus does not scrape istiod: %+v", targets.Data.ActiveTargets)
	}
	if len(exporters) != 2 {
		t.Errorf("Prometheus scrapes node_exporter on %v, want both nodes: %+v", exporters, targets.Data.ActiveTargets)
	}
	// The series the rules read: steal on each node, etcd's WAL fsync on
	// the control plane (copied from its loopback /metrics by the node).
	query := func(q string) []map[string]string {
		var res struct {
			Data struct {
				Result []struct{ Metric map[string]string }
			}
		}
		must(t, json.Unmarshal([]byte(kubectl("get", "--raw", "/api/v1/namespaces/istio-system/services/prometheus:9090/proxy/api/v1/query?query="+url.QueryEscape(q))), &res))
		var out []map[string]string
		for _, r := range res.Data.Result {
			out = append(out, r.Metric)
		}
		return out
	}
	if steal := query(`count by (node) (node_cpu_seconds_total{mode="steal"})`); len(steal) != 2 {
		t.Errorf("steal series per node: %+v", steal)
	}
	var fsync []map[string]string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Second) {
		if fsync = query(`count by (node) (etcd_disk_wal_fsync_duration_seconds_bucket)`); len(fsync) > 0 {
			break
		}
	}
	if len(fsync) != 1 || !strings.HasSuffix(fsync[0]["node"], "cp-1") {
		t.Errorf("etcd's WAL fsync series: %+v", fsync)
	}
	// It loaded meshready's alerting rules (the report's thresholds), healthy.
	var rules struct {
		Data struct {
			Groups []struct {
				Name  string
				Rules []struct{ Name, Health, Type string }
			}
		}
	}
	// A rule is "unknown" until its first evaluation (each minute).
	var loaded []string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Second) {
		must(t, json.Unmarshal([]byte(kubectl("get", "--raw", "/api/v1/namespaces/istio-system/services/prometheus:9090/proxy/api/v1/rules?type=alert")), &rules))
		loaded = nil
		for _, g := range rules.Data.Groups {
			for _, r := range g.Rules {
				if g.Name == report.AlertGroup && r.Health == "ok" {
					loaded = append(loaded, r.Name)
				}
			}
		}
		if len(loaded) == 3 {
			break
		}
	}
	if strings.Join(loaded, " ") != "MeshreadyCPUSteal MeshreadyEtcdWALFsyncSlow MeshreadyMeshConvergenceSlow" {
		t.Errorf("Prometheus' healthy meshready rules: %v (groups %+v)", loaded, rules.Data.Groups)
	}
	if out := kubectl("-n", "istio-system", "get", "deployments", "-o", "name"); strings.Contains(out, "kiali") {
		t.Errorf("kiali installed without an image:\n%s", out)
	}
	if !strings.Contains(r.stdout+r.stderr, "addon kiali is not installed: no Kiali image exists offline") {
		t.Error("up did not say that Kiali is missing")
	}
	claims := meshClaims(t, dir)
	for _, id := range []string{report.IDMeshConvergence, report.IDCanarySplit, report.IDMTLSStrict} {
		if c := claims[id]; c.Verdict != "PASS" || !strings.Contains(c.Measured, "proxyless gRPC") {
			t.Errorf("%s: %s %q %q", id, c.Verdict, c.Measured, c.Why)
		}
	}
	// STRICT earned its PASS: the same plaintext client was answered on the
	// control port, and the mesh port's TLS listener turned it away.
	if c := claims[report.IDMTLSStrict]; !strings.Contains(c.Measured, "turned away by the server's TLS listener") ||
		!strings.Contains(c.Measured, "answered 5 of 5 times on port 7071") {
		t.Errorf("mtls-strict without its positive control: %q", c.Measured)
	}
	// Convergence is timed on each client's own clock.
	if c := claims[report.IDMeshConvergence]; !strings.Contains(c.Measured, "each timed on the client's own clock") {
		t.Errorf("convergence does not say how T0 was taken: %q", c.Measured)
	}
	// fortio without a mesh between the two nodes: a real baseline; the
	// sidecar runs need Envoy, so the overhead rows say so.
	if c := claims[report.IDEnvoyPerHop]; c.Verdict != "NOT MEASURABLE" || !strings.Contains(c.Why, "no Envoy") ||
		!strings.HasPrefix(c.Measured, "baseline without a mesh p50 ") || !strings.Contains(c.Measured, "1000 qps, 16 connections, 10s per run") {
		t.Errorf("per-hop row %+v", c)
	}
	if c := claims[report.IDMTLSOverhead]; c.Verdict != "NOT MEASURABLE" || !strings.Contains(c.Why, "no Envoy") {
		t.Errorf("mTLS row %+v", c)
	}
	// The same load between proxyless gRPC pods, mTLS on and off: the
	// cost of mTLS measured without Envoy, whatever this host's figure is.
	// (10 s runs on a busy 2-core host may be too noisy for a verdict: the
	// row then says so, and still has the figures. A run whose load fell
	// short of its rate is not compared at all, as fortio's figures at an
	// unreached rate hide the wait: the row names the rate reached.)
	if c := claims[report.IDMTLSOverheadProxyless]; c.Verdict == "NOT MEASURABLE" && strings.Contains(c.Why, "of the 1000 qps asked for") {
		t.Logf("proxyless mTLS not compared on this busy host: %s", c.Why)
	} else if !strings.HasPrefix(c.Measured, "p90 ") ||
		!strings.Contains(c.Measured, "with STRICT mTLS") || !strings.Contains(c.Measured, "grpc-go 1.") ||
		c.Verdict == "NOT MEASURABLE" && !strings.Contains(c.Why, "noise is larger than") {
		t.Errorf("proxyless mTLS row %+v", c)
	}
	rep, err := report.Read(filepath.Join(dir, ".meshready", "reports", "mesh"))
	must(t, err)
	if rep.MeshUpgrade != nil {
		t.Errorf("an Istio upgrade reported after the first up: %+v", rep.MeshUpgrade)
	}
	// The mesh ran over flannel (the default pod network), which the
	// report measured both ways between the two nodes.
	if pn := rep.PodNetwork; pn == nil || pn.Kind != "flannel" || len(pn.RTTs) != 2 {
		t.Errorf("pod network %+v", rep.PodNetwork)
	} else {
		for _, r := range pn.RTTs {
			if r.Node.Samples == 0 || r.Pods.Samples == 0 || r.PodsLoss != 0 {
				t.Errorf("pod network RTT %+v (notes %v)", r, pn.Notes)
			}
		}
	}
	if l := rep.Mesh.Latency; l == nil || len(l.Runs) != 3 || l.Client == l.Server || l.ProxylessMTLSCostP90 == nil {
		t.Errorf("latency runs %+v", rep.Mesh.Latency)
	} else {
		for _, r := range l.Runs {
			if r.Calls < 5000 || r.OK != r.Calls {
				t.Errorf("latency run %+v", r)
			}
		}
	}
	if out := kubectl("get", "namespaces", "-o", "name"); strings.Contains(out, "meshready-latency") {
		t.Errorf("the latency benchmark left its namespace:\n%s", out)
	}

	// A Deployment that ran in a namespace before it joins the mesh.
	kubectl("create", "namespace", "shop")
	kubectl("-n", "shop", "create", "deployment", "legacy", "--image=registry.k8s.io/pause:3.10.1")
	kubectl("-n", "shop", "rollout", "status", "deployment/legacy", "--timeout=120s")
	must(t, os.WriteFile(filepath.Join(dir, "stacks", "Pulumi.mesh.yaml"), []byte(meshStackFile(m.Version, "{v1: 50, v2: 50}", "[demo, shop]")), 0o644))
	upgradeStart := time.Now()
	r = runCLI(t, nil, "--project-dir", dir, "up", "--stack", "mesh", "--yes")
	if r.code != ExitOK {
		t.Fatalf("second up: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("the upgrade's up (Istio %s -> %s, new weights, shop joining) took %s", older, newer, time.Since(upgradeStart).Round(time.Second))
	// The Istio upgrade: the new revision serves, the tag points at it,
	// every pod of demo runs with it, the old revision is gone.
	if got := kubectl("-n", "istio-system", "get", "deployments", "-l", "app=istiod", "-o", "jsonpath={.items[*].metadata.name}"); got != "istiod-"+newRev {
		t.Errorf("istiod deployments after the upgrade: %q, want istiod-%s alone", got, newRev)
	}
	if got := istioBuild(newRev); !strings.Contains(got, `tag="`+newer+`"`) {
		t.Errorf("istiod %s's istio_build: %q, want tag %s", newRev, got, newer)
	}
	if got := kubectl("get", "mutatingwebhookconfiguration", "istio-revision-tag-stable", "-o", `jsonpath={.metadata.labels.istio\.io/rev}`); got != newRev {
		t.Errorf("the stable tag points at %q after the upgrade, want %s", got, newRev)
	}
	// Istio resources that name no revision are validated by the new one
	// (its istiod closed the webhook once it answered): a bad route is
	// refused.
	validator := func() string {
		return kubectl("get", "validatingwebhookconfiguration", "istiod-default-validator", "-o",
			`jsonpath={.metadata.labels.istio\.io/rev} {.webhooks[0].clientConfig.service.name} {.webhooks[0].failurePolicy}`)
	}
	for deadline := time.Now().Add(time.Minute); validator() != newRev+" istiod-"+newRev+" Fail" && time.Now().Before(deadline); {
		time.Sleep(2 * time.Second)
	}
	if got := validator(); got != newRev+" istiod-"+newRev+" Fail" {
		t.Errorf("the default validation webhook after the upgrade: %q, want %s's, failing closed", got, newRev)
	}
	bad := exec.Command(filepath.Join(cacheDir, "bundle", "v1.34.4", "bin", "kubectl"), "--kubeconfig", filepath.Join(dir, "kc", "mesh"),
		"apply", "--dry-run=server", "-f", "-")
	bad.Stdin = strings.NewReader("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bad, namespace: demo}\n" +
		"spec: {hosts: [echo], http: [{route: [{destination: {host: echo}, weight: -5}]}]}\n")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "validation.istio.io") {
		t.Errorf("a route with a negative weight, after the upgrade: %v\n%s", err, out)
	}
	revs := kubectl("-n", "demo", "get", "pods", "-o", `jsonpath={range .items[*]}{.metadata.name} {.metadata.annotations.istio\.io/rev} {.spec.containers[*].image} {.spec.initContainers[*].image}{"\n"}{end}`)
	for _, l := range strings.Split(strings.TrimSpace(revs), "\n") {
		if f := strings.Fields(l); len(f) < 2 || f[1] != newRev || !strings.Contains(l, "pilot-agent:"+newer) {
			t.Errorf("a demo pod not on the new revision: %q", l)
		}
	}
	rep, err = report.Read(filepath.Join(dir, ".meshready", "reports", "mesh"))
	must(t, err)
	if u := rep.MeshUpgrade; u == nil || u.From != oldRev || u.To != newRev || len(u.Namespaces) != 1 || u.Namespaces[0].Namespace != "demo" {
		t.Errorf("the report's Istio upgrade: %+v", rep.MeshUpgrade)
	} else if tr := u.Namespaces[0].Traffic; tr == nil || tr.Failed != 0 || tr.Sent < 200 ||
		// Each watcher calls at -rate 100/s, one call at a time: a tick
		// that comes while a call waits is skipped, so the rate falls
		// with the answers' latency (40/s per watcher in CI on 2 loaded
		// cores). 10/s says the watchers called all through the move.
		float64(tr.Sent) < 10*float64(len(tr.Clients))*tr.Seconds {
		t.Errorf("the probe watchers during demo's move: %+v", tr)
	} else {
		t.Logf("Istio upgrade: demo moved in %.1f s (%v); watchers %d calls, %d failed", u.Namespaces[0].Seconds, u.Namespaces[0].Restarted, tr.Sent, tr.Failed)
	}
	if got := kubectl("-n", "shop", "get", "deployment", "legacy", "-o", `jsonpath={.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}`); got == "" {
		t.Error("the Deployment that ran before shop joined was not restarted")
	}
	if got := kubectl("-n", "demo", "get", "virtualservice", "echo", "-o", "jsonpath={.spec.http[0].route[*].weight}"); got != "50 50" {
		t.Errorf("canary weights after the change %q", got)
	}
	split := meshClaims(t, dir)[report.IDCanarySplit]
	if split.Verdict != "PASS" || !strings.Contains(split.Measured, "weights v1=50 v2=50") {
		t.Errorf("split after the change: %s %q", split.Verdict, split.Measured)
	}

	r = runCLI(t, nil, "--project-dir", dir, "destroy", "--stack", "mesh", "--yes")
	if r.code != ExitOK {
		t.Fatalf("destroy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if out, _ := exec.Command("pgrep", "-af", "systemd-nspawn.*mr-mesh-").CombinedOutput(); len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("nspawn processes left behind:\n%s", out)
	}
}

// meshClaims reads the region report's rows by id.
func meshClaims(t *testing.T, dir string) map[string]report.Claim {
	t.Helper()
	rep, err := report.Read(filepath.Join(dir, ".meshready", "reports", "mesh"))
	must(t, err)
	out := map[string]report.Claim{}
	for _, c := range rep.Claims {
		out[c.ID] = c
	}
	return out
}
