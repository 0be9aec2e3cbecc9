package mesh

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"gopkg.in/yaml.v3"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/internal/golden"
)

func testIstio() config.Istio {
	c := config.Defaults().Istio
	c.InjectNamespaces = []string{"demo", "shop"}
	c.NamespaceMTLS = map[string]string{"shop": "PERMISSIVE", "demo": "STRICT"}
	c.IngressGateway = true
	return c
}

// render writes objects as the YAML documents kubectl would show.
func render(t *testing.T, objs ...Object) []byte {
	t.Helper()
	var b strings.Builder
	for _, o := range objs {
		doc := map[string]any{"apiVersion": o.APIVersion, "kind": o.Kind,
			"metadata": map[string]any{"name": o.Name, "namespace": o.Namespace}, "spec": o.Spec}
		out, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(out)
	}
	return []byte(b.String())
}

func TestPeerAuthenticationsGolden(t *testing.T) {
	// Mesh-wide STRICT, and only the namespace that differs gets its own policy.
	golden.Check(t, "testdata/peerauthentication.yaml", render(t, PeerAuthentications(testIstio())...))
	c := testIstio()
	c.MTLS, c.NamespaceMTLS = "PERMISSIVE", nil
	pas := PeerAuthentications(c)
	if len(pas) != 1 || pas[0].Spec["mtls"].(map[string]any)["mode"] != "PERMISSIVE" || pas[0].Namespace != SystemNamespace {
		t.Errorf("mesh-wide PERMISSIVE: %+v", pas)
	}
}

func TestCanaryGolden(t *testing.T) {
	cn := config.Canary{Service: "echo", Namespace: "demo", Subsets: map[string]int{"v2": 10, "v1": 90}}
	rule, route, err := Canary(cn, "STRICT")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/canary.yaml", render(t, rule, route))
	// Map order never changes the rendering: an unchanged config is no diff.
	for range 20 {
		r2, v2, _ := Canary(config.Canary{Service: "echo", Namespace: "demo", Subsets: map[string]int{"v1": 90, "v2": 10}}, "STRICT")
		if string(render(t, r2, v2)) != string(render(t, rule, route)) {
			t.Fatal("rendering depends on map order")
		}
	}
	for _, bad := range []map[string]int{nil, {"v1": 90, "v2": 20}} {
		if _, _, err := Canary(config.Canary{Service: "echo", Namespace: "demo", Subsets: bad}, "STRICT"); err == nil {
			t.Errorf("subsets %v accepted", bad)
		}
	}
}

func TestChartsGolden(t *testing.T) {
	c := testIstio()
	remote := Charts(c, Source{}, "1-28-0")
	local := Charts(c, Source{Charts: "/cache/istio/manifests/charts", Hub: "localhost/meshready", Tag: "1.31-alpha.eed52ebb66ad", PullPolicy: "Never",
		Pilot: "pilot", Proxy: "pilot-agent"}, "1-31-alpha-eed52ebb66ad")
	b, err := yaml.Marshal(map[string]any{"repository": remote, "local": local})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/charts.yaml", b)
	if len(remote) != 3 || remote[0].Release != "istio-base" || remote[1].Release != "istiod-1-28-0" || remote[1].Version != c.Version ||
		remote[1].Values["revision"] != "1-28-0" || remote[0].Values["defaultRevision"] != "" {
		t.Errorf("releases %+v", remote)
	}
	c.IngressGateway = false
	if n := len(Charts(c, Source{}, "1-28-0")); n != 2 {
		t.Errorf("without the gateway: %d releases", n)
	}
}

func TestNamespaces(t *testing.T) {
	ns := Namespaces(testIstio())
	if len(ns) != 2 || ns[0].Name != "demo" || len(ns[1].Labels) != 1 || ns[1].Labels["istio.io/rev"] != "stable" {
		t.Errorf("namespaces %+v", ns)
	}
}

func TestRevision(t *testing.T) {
	for in, want := range map[string]string{"1.28.0": "1-28-0", "1.31-alpha.eed52ebb66ad": "1-31-alpha-eed52ebb66ad",
		"1.30.0-beta.1": "1-30-0-beta-1", "1.29.0+Build": "1-29-0-build"} {
		if got, err := Revision(in); err != nil || got != want {
			t.Errorf("Revision(%q) = %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "..", strings.Repeat("1", 57)} {
		if got, err := Revision(bad); err == nil {
			t.Errorf("Revision(%q) = %q, want an error", bad, got)
		}
	}
}

// TestRevisionTagGolden: the stable tag's webhook, as istioctl tag set
// writes one (the chart's revision-tags-mwc.yaml), pointing at a revision.
func TestRevisionTagGolden(t *testing.T) {
	b, err := yaml.Marshal(RevisionTag(StableTag, "1-31-alpha-eed52ebb66ad"))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/revision-tag.yaml", b)
}

// TestDefaultValidatorGolden: the base chart's istiod-default-validator,
// pointing at a revision, written fail-open for that istiod to close.
func TestDefaultValidatorGolden(t *testing.T) {
	b, err := yaml.Marshal(DefaultValidator("1-31-alpha-eed52ebb66ad"))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/default-validator.yaml", b)
}

func TestKubernetesSupported(t *testing.T) {
	for _, c := range []struct {
		istio string
		minor int
		ok    bool
	}{{"1.28.0", 34, true}, {"1.28.2", 30, true}, {"1.28.0", 29, false}, {"1.28.0", 35, false}, {"1.29.1", 35, true},
		{"1.31-alpha.eed52ebb66ad", 32, true}, {"1.31-alpha.eed52ebb66ad", 36, true}, {"1.31-alpha.eed52ebb66ad", 31, false}} {
		ok, window, err := KubernetesSupported(c.istio, c.minor)
		if err != nil || ok != c.ok || window == "" {
			t.Errorf("istio %s on 1.%d: %v %q %v, want %v", c.istio, c.minor, ok, window, err, c.ok)
		}
	}
	if _, _, err := KubernetesSupported("1.12.0", 34); err == nil || !strings.Contains(err.Error(), "no Kubernetes support window") {
		t.Errorf("unknown istio: %v", err)
	}
}

// TestLocalAddon adapts Istio's own Prometheus addon (a copy of the pinned
// module's samples/addons/prometheus.yaml) to the local image.
func TestLocalAddon(t *testing.T) {
	in, err := os.ReadFile("testdata/addons/prometheus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules := "groups:\n- name: meshready-claims\n  rules: []\n"
	out, err := LocalAddon(in, map[string]string{"docker.io/prom/prometheus": "localhost/meshready/prometheus:v3.16.0"},
		[]string{"prometheus-server-configmap-reload"}, map[string]string{"alerting_rules.yml": rules})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/addons/prometheus-local.yaml", []byte(out))
	if strings.Contains(out, "config-reloader") || strings.Count(out, "imagePullPolicy: Never") != 1 {
		t.Errorf("reloader kept or image not pinned locally")
	}
	if !strings.Contains(out, "alerting_rules.yml: |\n        groups:\n        - name: meshready-claims") || strings.Count(out, "meshready.io/config-sha256") != 1 {
		t.Errorf("the rules are not in the ConfigMap, or the pods do not roll when they change")
	}
	if _, err := LocalAddon(in, map[string]string{"quay.io/prometheus/prometheus": "x"}, nil, nil); err == nil || !strings.Contains(err.Error(), "no container runs") {
		t.Errorf("a missing image must be an error: %v", err)
	}
	if _, err := LocalAddon(in, nil, nil, map[string]string{"nope.yml": "x"}); err == nil || !strings.Contains(err.Error(), "no ConfigMap has nope.yml") {
		t.Errorf("a missing ConfigMap key must be an error: %v", err)
	}
	if u, _ := AddonURL("1.28.0", "kiali"); u != "https://raw.githubusercontent.com/istio/istio/release-1.28/samples/addons/kiali.yaml" {
		t.Errorf("addon URL %s", u)
	}
}

// TestProbeWorkloads pins the proxyless workloads of a canary: an echo
// Deployment per subset with the grpc-agent template, the two Services, the
// convergence DestinationRule and the clients' DaemonSet.
func TestProbeWorkloads(t *testing.T) {
	objs := ProbeWorkloads(config.Canary{Service: "echo", Namespace: "demo", Subsets: map[string]int{"v2": 10, "v1": 90}},
		"STRICT", "localhost/meshready/meshprobe:0123456789ab", "Never", false)
	objs = append(objs, ConvergenceRoute("echo", "demo", "v2"))
	b, err := yaml.Marshal(objs)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/probe-workloads.yaml", b)
	// Behind Envoy sidecars: plain servers, DNS targets, the clients' API
	// outside Envoy, and a client without a sidecar.
	objs = ProbeWorkloads(config.Canary{Service: "echo", Namespace: "demo", Subsets: map[string]int{"v2": 10, "v1": 90}},
		"STRICT", "registry.example/meshprobe:0123456789ab", "IfNotPresent", true)
	if b, err = yaml.Marshal(objs); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/probe-workloads-sidecars.yaml", b)
}

// TestNodeExporter pins the node_exporter DaemonSet, and holds its release
// image to the version tools/node_exporter builds for the local stack.
func TestNodeExporter(t *testing.T) {
	b, err := yaml.Marshal(NodeExporter(NodeExporterImage, "IfNotPresent"))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/node-exporter.yaml", b)
	mod, err := os.ReadFile("../tools/node_exporter/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.ParseLax("go.mod", mod, nil)
	if err != nil {
		t.Fatal(err)
	}
	pin := ""
	for _, r := range f.Require {
		if r.Mod.Path == "github.com/prometheus/node_exporter" {
			pin = r.Mod.Version
		}
	}
	if pin == "" || !strings.HasSuffix(NodeExporterImage, ":"+pin) {
		t.Errorf("NodeExporterImage %s, but tools/node_exporter pins %q", NodeExporterImage, pin)
	}
	// The folder it reads is the one host preparation writes etcd's series to.
	prep, err := os.ReadFile("../bootstrap/scripts/prep.sh.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(prep), "out="+EtcdMetricsDir+"/etcd.prom") {
		t.Errorf("bootstrap's prep script does not write etcd.prom into %s", EtcdMetricsDir)
	}
}

// TestCanaryCharts: base (the CRDs) from the canary's charts, serving the
// stable revision's validation; the canary's istiod after the stable one;
// the listed namespace follows the canary tag.
func TestCanaryCharts(t *testing.T) {
	c := testIstio()
	c.Canary = config.IstioCanary{Version: "1.29.0", Namespaces: []string{"shop"}}
	got := CanaryCharts(c, Source{}, "1-28-0", Source{Charts: "/old/charts"}, "1-29-0")
	var names []string
	for _, ch := range got {
		names = append(names, ch.Release)
	}
	if strings.Join(names, " ") != "istio-base istiod-1-28-0 istiod-1-29-0 istio-ingressgateway" {
		t.Fatalf("releases %v", names)
	}
	if got[0].Chart != "/old/charts/base" || got[0].Values["defaultRevision"] != "" || got[2].Chart != "/old/charts/istio-control/istio-discovery" ||
		got[2].Values["revision"] != "1-29-0" || got[1].Version != "1.28.0" {
		t.Errorf("charts %+v", got)
	}
	ns := Namespaces(c)
	if ns[0].Labels[RevisionLabel] != StableTag || ns[1].Labels[RevisionLabel] != CanaryTag {
		t.Errorf("namespaces %+v", ns)
	}
}
