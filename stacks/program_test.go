package stacks

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/bundle"
	"github.com/meshready/meshready/config"
)

// graph records what the program registers, as the engine would see it.
type graph struct {
	mu      sync.Mutex
	byName  map[string]pulumi.MockResourceArgs
	ordered []string
}

func (g *graph) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.byName[args.TypeToken+"::"+args.Name] = args
	g.ordered = append(g.ordered, args.TypeToken+"::"+args.Name)
	return args.Name + "-id", args.Inputs, nil
}

func (g *graph) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

func run(t *testing.T, raw config.Raw) (*graph, error) {
	t.Helper()
	g := &graph{byName: map[string]pulumi.MockResourceArgs{}}
	err := pulumi.RunErr(Program(raw, Env{ProjectDir: t.TempDir(), LocalMesh: localMesh, LocalCanaryMesh: canaryMesh, LocalKubernetes: localKube, Flanneld: flanneld}),
		pulumi.WithMocks("meshready", "test", g))
	return g, err
}

func values(kv ...string) config.Raw {
	r := config.Raw{Values: map[string]string{}, Secrets: map[string]bool{}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Values[kv[i]] = kv[i+1]
	}
	return r
}

func TestProgramRegistersTheRegionTree(t *testing.T) {
	g, err := run(t, values("meshready:region", "hel1x", "meshready:nodes", `{"controlPlanes":3,"workers":2}`))
	if err != nil {
		t.Fatal(err)
	}
	region, ok := g.byName["meshready:stack:Region::hel1x"]
	if !ok {
		t.Fatalf("no region component; registered %v", g.ordered)
	}
	pool, ok := g.byName["meshready:infra:NodePool::nodes"]
	if !ok {
		t.Fatalf("no node pool; registered %v", g.ordered)
	}
	if !strings.HasSuffix(pool.RegisterRPC.GetParent(), "meshready:stack:Region::hel1x") {
		t.Errorf("node pool parent = %q, want the region", pool.RegisterRPC.GetParent())
	}
	if region.Custom || pool.Custom {
		t.Errorf("region and pool must be components")
	}
}

func TestBadConfigRegistersNothing(t *testing.T) {
	g, err := run(t, values("meshready:region", "r", "meshready:nodes", `{"controlPlanes":2}`))
	if err == nil || !strings.Contains(err.Error(), "meshready:nodes.controlPlanes") {
		t.Fatalf("want a config error naming the key, got %v", err)
	}
	if len(g.ordered) != 0 {
		t.Errorf("bad config registered %v", g.ordered)
	}
}

const meshStack = `{"enabled":true,"version":"1.31-alpha.eed52ebb66ad","mtls":"STRICT","injectNamespaces":["demo","shop"],"namespaceMTLS":{"shop":"PERMISSIVE"},"proxylessChecks":true}`

// flanneld stands for a built flanneld.
var flanneld = &bundle.Flanneld{Path: "/cache/tools/flannel-v0.28.10/bin/flanneld", SHA256: strings.Repeat("f", 64), Version: "v0.28.10"}

// localKube stands for a built air-gapped Kubernetes bundle.
var localKube = &bundle.Bundle{Dir: "/cache/bundle/v1.34.4", Version: "v1.34.4",
	Images: []bundle.Image{{Ref: "registry.k8s.io/pause:3.10.1", Path: "/cache/bundle/v1.34.4/images/pause_3.10.1.tar"}}}

// TestLocalNodesGetTheBundle: the cluster of a local stack is told where its
// nodes see the bundle (mounted at local.BundleMount); a real one is not.
func TestLocalNodesGetTheBundle(t *testing.T) {
	g, err := run(t, values("meshready:region", "b"))
	if err != nil {
		t.Fatal(err)
	}
	b := g.byName["meshready:bootstrap:Cluster::kubernetes"].Inputs["bundle"].ObjectValue()
	if b["dir"].StringValue() != "/opt/meshready/bundle/v1.34.4" ||
		b["images"].ArrayValue()[0].ObjectValue()["tarball"].StringValue() != "/opt/meshready/bundle/v1.34.4/images/pause_3.10.1.tar" {
		t.Errorf("bundle %v", b)
	}
	real := values("meshready:region", "hel1", "meshready:provider", "hetzner", "hetzner:token", "t0ken",
		"meshready:nodes", `{"serverType":"ccx13","image":"debian-12"}`)
	real.Secrets["hetzner:token"] = true
	if g, err = run(t, real); err != nil {
		t.Fatal(err)
	}
	if in := g.byName["meshready:bootstrap:Cluster::kubernetes"].Inputs; in.HasValue("bundle") {
		t.Errorf("a real cluster was given a local bundle: %v", in["bundle"])
	}
}

// TestPodNetworkKinds: unset, the plugin settles it (flannel for a new
// cluster, what a running one runs) and is given the flanneld to upload
// and its hash (a new one updates the nodes); flannel the same;
// host-routes asks for none.
func TestPodNetworkKinds(t *testing.T) {
	for cni, conf := range map[string]string{"": `{}`, "flannel": `{"podNetwork":"flannel"}`} {
		g, err := run(t, values("meshready:region", "b", "meshready:kubernetes", conf))
		if err != nil {
			t.Fatal(err)
		}
		in := g.byName["meshready:bootstrap:PodNetwork::pod-network"].Inputs
		if got := in["cni"]; (cni == "" && got.HasValue()) || (cni != "" && (!got.IsString() || got.StringValue() != cni)) ||
			in["podSubnet"].StringValue() != "10.244.0.0/16" ||
			in["flanneldPath"].StringValue() != flanneld.Path || in["flanneldSha256"].StringValue() != flanneld.SHA256 {
			t.Errorf("pod network %s: %v", conf, in)
		}
	}
	g, err := run(t, values("meshready:region", "b", "meshready:kubernetes", `{"podNetwork":"host-routes"}`))
	if err != nil {
		t.Fatal(err)
	}
	in := g.byName["meshready:bootstrap:PodNetwork::pod-network"].Inputs
	if in["cni"].StringValue() != "host-routes" || in.HasValue("flanneldPath") || in.HasValue("flanneldSha256") {
		t.Errorf("host-routes pod network: %v", in)
	}
	if _, err = run(t, values("meshready:region", "b", "meshready:kubernetes", `{"podNetwork":"calico"}`)); err == nil || !strings.Contains(err.Error(), "kubernetes.podNetwork") {
		t.Errorf("podNetwork calico: %v", err)
	}
}

// localMesh stands for a built local mesh bundle; its addon manifests are
// the copy of Istio's in mesh/testdata.
var localMesh = &bundle.Mesh{
	Version: "1.31-alpha.eed52ebb66ad", Charts: "/cache/istio/manifests/charts", Addons: "../mesh/testdata/addons",
	Hub: "localhost/meshready", Tag: "1.31-alpha.eed52ebb66ad", Pilot: "pilot", Proxy: "pilot-agent",
	Prometheus: "localhost/meshready/prometheus:v3.16.0", PrometheusUpstream: "docker.io/prom/prometheus",
	Probe: "localhost/meshready/meshprobe:0123456789ab", Fortio: "localhost/meshready/fortio:1.67.1",
	NodeExporter: "localhost/meshready/node-exporter:v1.12.1",
	Dir:          "/cache/bundle/mesh-1.31-alpha.eed52ebb66ad",
	Images:       []bundle.Image{{Ref: "localhost/meshready/pilot:1.31-alpha.eed52ebb66ad", Path: "/cache/bundle/mesh-1.31-alpha.eed52ebb66ad/images/pilot.tar"}},
}

// canaryMesh stands for the older snapshot's bundle, an Istio canary's.
var canaryMesh = &bundle.Mesh{
	Version: "1.31-alpha.b01690e6db7d", Charts: "/cache/istio-old/manifests/charts", Addons: "../mesh/testdata/addons",
	Hub: "localhost/meshready", Tag: "1.31-alpha.b01690e6db7d", Pilot: "pilot", Proxy: "pilot-agent",
	Dir: "/cache/bundle/mesh-1.31-alpha.b01690e6db7d",
	Images: []bundle.Image{{Ref: "localhost/meshready/pilot:1.31-alpha.b01690e6db7d", Path: "/cache/bundle/mesh-1.31-alpha.b01690e6db7d/images/pilot.tar"},
		{Ref: "localhost/meshready/fortio:1.67.1", Path: "/cache/bundle/mesh-1.31-alpha.b01690e6db7d/images/fortio.tar"}},
}

// TestIstioCanaryGraph: with istio.canary, the canary's istiod runs beside
// the stable one (base, the CRDs, from the canary's charts), each tag
// points at its revision, the listed namespace follows the canary tag and
// moves to its revision, the others stay; the canary's images are loaded
// too (not its copies of the shared ones).
func TestIstioCanaryGraph(t *testing.T) {
	g, err := run(t, values("meshready:region", "hel1x", "meshready:istio",
		strings.Replace(meshStack, `"proxylessChecks":true`, `"proxylessChecks":true,"canary":{"version":"1.31-alpha.b01690e6db7d","namespaces":["shop"]}`, 1),
		"meshready:canary", `[{"service":"echo","namespace":"demo","subsets":{"v1":90,"v2":10}}]`))
	if err != nil {
		t.Fatal(err)
	}
	const stable, canary = "1-31-alpha-eed52ebb66ad", "1-31-alpha-b01690e6db7d"
	for _, rev := range []string{stable, canary} {
		if _, ok := g.byName["kubernetes:helm.sh/v3:Release::istiod-"+rev]; !ok {
			t.Errorf("no istiod revision %s", rev)
		}
	}
	base := g.byName["kubernetes:helm.sh/v3:Release::istio-base"].Inputs
	if base["chart"].StringValue() != "/cache/istio-old/manifests/charts/base" || base["values"].ObjectValue()["defaultRevision"].StringValue() != "" {
		t.Errorf("istio-base: chart %v, values %v", base["chart"], base["values"])
	}
	// Resources naming no revision are validated by the stable one.
	if b, _ := json.Marshal(g.byName["kubernetes:yaml/v2:ConfigGroup::default-validator"].Inputs.Mappable()); !strings.Contains(string(b), `"name":"istiod-`+stable+`"`) {
		t.Errorf("the default validator does not point at %s: %s", stable, b)
	}
	// Nothing the webhook validates is written before the stable
	// revision's webhook answers.
	if in := g.byName["meshready:mesh:Webhooks::validation"].Inputs; in["revision"].StringValue() != stable {
		t.Errorf("the webhook wait: %v", in)
	}
	for _, r := range []string{"kubernetes:networking.istio.io/v1:VirtualService::VirtualService-demo-echo", "kubernetes:core/v1:Namespace::demo"} {
		args, ok := g.byName[r]
		if !ok || args.RegisterRPC == nil || !slices.ContainsFunc(args.RegisterRPC.GetDependencies(), func(urn string) bool {
			return strings.HasSuffix(urn, "meshready:mesh:Webhooks::validation")
		}) {
			t.Errorf("%s does not wait for the webhook (registered: %v)", r, ok)
		}
	}
	for tag, rev := range map[string]string{"stable": stable, "canary": canary} {
		b, _ := json.Marshal(g.byName["kubernetes:yaml/v2:ConfigGroup::revision-tag-"+tag].Inputs.Mappable())
		if !strings.Contains(string(b), `"name":"istiod-`+rev+`"`) {
			t.Errorf("tag %s does not point at %s: %s", tag, rev, b)
		}
	}
	for ns, want := range map[string][2]string{"demo": {"stable", stable}, "shop": {"canary", canary}} {
		label := g.byName["kubernetes:core/v1:Namespace::"+ns].Inputs["metadata"].ObjectValue()["labels"].ObjectValue()["istio.io/rev"].StringValue()
		if rev := g.byName["meshready:mesh:Injection::"+ns].Inputs["revision"].StringValue(); label != want[0] || rev != want[1] {
			t.Errorf("%s: label %q, revision %q, want %v", ns, label, rev, want)
		}
	}
	var refs []string
	for _, im := range g.byName["meshready:mesh:Preflight::preflight"].Inputs["images"].ArrayValue() {
		refs = append(refs, im.ObjectValue()["ref"].StringValue())
	}
	if strings.Join(refs, " ") != "localhost/meshready/pilot:1.31-alpha.eed52ebb66ad localhost/meshready/pilot:1.31-alpha.b01690e6db7d" {
		t.Errorf("images loaded: %v", refs)
	}
}

func meshRun(t *testing.T, canary string) *graph {
	t.Helper()
	g, err := run(t, values("meshready:region", "hel1x", "meshready:istio", meshStack, "meshready:canary", canary,
		"meshready:addons", `["prometheus","kiali"]`))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestMeshGraph: with the mesh on, up registers Istio's releases in order,
// the injected namespaces, the mTLS policies and the canary routes, all on
// one Kubernetes provider and under the mesh component.
func TestMeshGraph(t *testing.T) {
	g := meshRun(t, `[{"service":"echo","namespace":"demo","subsets":{"v1":90,"v2":10}}]`)
	for _, want := range []string{
		"meshready:mesh:Mesh::mesh", "pulumi:providers:kubernetes::cluster",
		"kubernetes:helm.sh/v3:Release::istio-base", "kubernetes:helm.sh/v3:Release::istiod-1-31-alpha-eed52ebb66ad",
		"kubernetes:yaml/v2:ConfigGroup::revision-tag-stable",
		"kubernetes:core/v1:Namespace::demo", "kubernetes:core/v1:Namespace::shop",
		"kubernetes:security.istio.io/v1:PeerAuthentication::PeerAuthentication-istio-system-default",
		"kubernetes:security.istio.io/v1:PeerAuthentication::PeerAuthentication-shop-default",
		"kubernetes:networking.istio.io/v1:DestinationRule::DestinationRule-demo-echo",
		"kubernetes:networking.istio.io/v1:VirtualService::VirtualService-demo-echo",
	} {
		if _, ok := g.byName[want]; !ok {
			t.Errorf("not registered: %s", want)
		}
	}
	pre := g.byName["meshready:mesh:Preflight::preflight"]
	if img := pre.Inputs["images"].ArrayValue(); len(img) != 1 ||
		img[0].ObjectValue()["tarball"].StringValue() != "/opt/meshready/bundle/mesh-1.31-alpha.eed52ebb66ad/images/pilot.tar" {
		t.Errorf("preflight images %v", pre.Inputs["images"])
	}
	if deps := strings.Join(g.byName["meshready:mesh:Preflight::preflight"].RegisterRPC.GetDependencies(), " "); !strings.Contains(deps, "PodNetwork::pod-network") {
		t.Errorf("the mesh does not wait for every node joined and Ready: %s", deps)
	}
	if deps := strings.Join(g.byName["kubernetes:helm.sh/v3:Release::istio-base"].RegisterRPC.GetDependencies(), " "); !strings.Contains(deps, "::preflight") {
		t.Errorf("istio-base does not wait for the preflight: %s", deps)
	}
	inj := g.byName["meshready:mesh:Injection::demo"]
	if deps := strings.Join(inj.RegisterRPC.GetDependencies(), " "); inj.Inputs["namespace"].StringValue() != "demo" ||
		inj.Inputs["revision"].StringValue() != "1-31-alpha-eed52ebb66ad" ||
		!strings.Contains(deps, "Namespace::demo") || !strings.Contains(deps, "::istiod-1-31-alpha-eed52ebb66ad") || !strings.Contains(deps, "::revision-tag-stable") {
		t.Errorf("demo's restart-on-join: inputs %v, deps %s", inj.Inputs, deps)
	}
	// One namespace at a time: shop moves after demo's checks ran.
	if deps := strings.Join(g.byName["meshready:mesh:Injection::shop"].RegisterRPC.GetDependencies(), " "); !strings.Contains(deps, "Checks::demo-echo") ||
		!strings.Contains(deps, "Injection::demo") {
		t.Errorf("shop moves without waiting for demo and its checks: %s", deps)
	}
	tag := g.byName["kubernetes:yaml/v2:ConfigGroup::revision-tag-stable"]
	if b, _ := json.Marshal(tag.Inputs.Mappable()); !strings.Contains(string(b), `"name":"istiod-1-31-alpha-eed52ebb66ad"`) ||
		!strings.Contains(string(b), `"istio.io/tag":"stable"`) {
		t.Errorf("the stable tag does not point at the revision: %s", b)
	}
	probe := g.byName["kubernetes:yaml/v2:ConfigGroup::probe-demo-echo"]
	if objs := probe.Inputs["objs"].ArrayValue(); len(objs) != 7 {
		t.Errorf("probe workloads: %d objects, want 3 Deployments, 2 Services, a DestinationRule and a DaemonSet", len(objs))
	}
	checks := g.byName["meshready:mesh:Checks::demo-echo"]
	if w := checks.Inputs["weights"].ObjectValue(); w["v1"].NumberValue() != 90 || checks.Inputs["mtls"].StringValue() != "STRICT" ||
		checks.Inputs["image"].StringValue() != "localhost/meshready/meshprobe:0123456789ab" || checks.Inputs["revision"].StringValue() != "1-31-alpha-eed52ebb66ad" {
		t.Errorf("checks inputs %v", checks.Inputs)
	}
	if deps := strings.Join(checks.RegisterRPC.GetDependencies(), " "); !strings.Contains(deps, "ConfigGroup::probe-demo-echo") {
		t.Errorf("the checks do not wait for their workloads: %s", deps)
	}
	if deps := strings.Join(probe.RegisterRPC.GetDependencies(), " "); !strings.Contains(deps, "VirtualService-demo-echo") {
		t.Errorf("the probe workloads do not wait for the routes: %s", deps)
	}
	if _, ok := g.byName["kubernetes:yaml/v2:ConfigGroup::prometheus"]; !ok {
		t.Error("no Prometheus addon")
	}
	// node_exporter beside it, from the pre-loaded image.
	if ne, ok := g.byName["kubernetes:yaml/v2:ConfigGroup::node-exporter"]; !ok {
		t.Error("no node_exporter with the Prometheus addon")
	} else if b, _ := json.Marshal(ne.Inputs.Mappable()); !strings.Contains(string(b), `"image":"localhost/meshready/node-exporter:v1.12.1"`) ||
		!strings.Contains(string(b), `"imagePullPolicy":"Never"`) || !strings.Contains(string(b), `"kind":"DaemonSet"`) {
		t.Errorf("node_exporter inputs %s", b)
	}
	for name := range g.byName {
		if strings.Contains(name, "kiali") {
			t.Errorf("kiali has no image offline, yet %s was registered", name)
		}
	}
	if _, ok := g.byName["kubernetes:helm.sh/v3:Release::istio-ingressgateway"]; ok {
		t.Error("the ingress gateway was installed without being asked for")
	}
	istiod := g.byName["kubernetes:helm.sh/v3:Release::istiod-1-31-alpha-eed52ebb66ad"]
	if deps := istiod.RegisterRPC.GetDependencies(); len(deps) != 1 || !strings.HasSuffix(deps[0], "::istio-base") {
		t.Errorf("istiod depends on %v, want istio-base (its CRDs)", deps)
	}
	if !strings.HasSuffix(istiod.RegisterRPC.GetProvider(), "::cluster::cluster-id") {
		t.Errorf("istiod's provider = %q", istiod.RegisterRPC.GetProvider())
	}
	if !g.byName["kubernetes:core/v1:Namespace::demo"].RegisterRPC.GetRetainOnDelete() {
		t.Error("the demo namespace would be deleted with the stack or when it leaves the mesh")
	}
	ns := g.byName["kubernetes:core/v1:Namespace::demo"].Inputs
	if labels := ns["metadata"].ObjectValue()["labels"].ObjectValue(); len(labels) != 1 || labels["istio.io/rev"].StringValue() != "stable" {
		t.Errorf("demo's labels = %v, want istio.io/rev=stable alone", labels)
	}
	mode := func(name string) string {
		return g.byName["kubernetes:security.istio.io/v1:PeerAuthentication::"+name].Inputs["spec"].ObjectValue()["mtls"].ObjectValue()["mode"].StringValue()
	}
	if mode("PeerAuthentication-istio-system-default") != "STRICT" || mode("PeerAuthentication-shop-default") != "PERMISSIVE" {
		t.Errorf("modes: mesh %s, shop %s", mode("PeerAuthentication-istio-system-default"), mode("PeerAuthentication-shop-default"))
	}
	pa := g.byName["kubernetes:security.istio.io/v1:PeerAuthentication::PeerAuthentication-istio-system-default"]
	if deps := strings.Join(pa.RegisterRPC.GetDependencies(), " "); !strings.Contains(deps, "::istiod-1-31-alpha-eed52ebb66ad") || !strings.Contains(deps, "::demo") {
		t.Errorf("the mesh policy does not wait for istiod and the namespaces: %s", deps)
	}
}

// weights reads the VirtualService's route weights by subset.
func weights(t *testing.T, g *graph) map[string]float64 {
	t.Helper()
	vs, ok := g.byName["kubernetes:networking.istio.io/v1:VirtualService::VirtualService-demo-echo"]
	if !ok {
		t.Fatal("no VirtualService")
	}
	out := map[string]float64{}
	for _, r := range vs.Inputs["spec"].ObjectValue()["http"].ArrayValue()[0].ObjectValue()["route"].ArrayValue() {
		out[r.ObjectValue()["destination"].ObjectValue()["subset"].StringValue()] = r.ObjectValue()["weight"].NumberValue()
	}
	return out
}

// TestCanaryWeightsFollowConfig: changing the weights in config changes the
// VirtualService up applies (and only its weights).
func TestCanaryWeightsFollowConfig(t *testing.T) {
	before := weights(t, meshRun(t, `[{"service":"echo","namespace":"demo","subsets":{"v1":90,"v2":10}}]`))
	after := weights(t, meshRun(t, `[{"service":"echo","namespace":"demo","subsets":{"v1":50,"v2":50}}]`))
	if before["v1"] != 90 || before["v2"] != 10 || after["v1"] != 50 || after["v2"] != 50 {
		t.Errorf("weights before %v, after %v", before, after)
	}
}

func TestMeshOffRegistersNoKubernetesResources(t *testing.T) {
	g, err := run(t, values("meshready:region", "hel1x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range g.ordered {
		if strings.HasPrefix(name, "kubernetes:") || strings.HasPrefix(name, "meshready:mesh:") {
			t.Errorf("mesh off, yet registered %s", name)
		}
	}
}

// TestMeshLatencyGraph: the latency benchmark runs after the mesh and its
// checks; on the local stack with the pre-loaded fortio and the baseline
// (no Envoy) and, as the proxyless checks run there, the proxyless pair
// with the pre-loaded probe image; elsewhere with the configured image and sidecars; off
// with the benchmarks or its own switch.
func TestMeshLatencyGraph(t *testing.T) {
	g := meshRun(t, `[{"service":"echo","namespace":"demo","subsets":{"v1":90,"v2":10}}]`)
	lat, ok := g.byName["meshready:mesh:Latency::latency"]
	if !ok {
		t.Fatalf("no latency benchmark; registered %v", g.ordered)
	}
	in := lat.Inputs
	if in["sidecars"].BoolValue() || in["image"].StringValue() != "localhost/meshready/fortio:1.67.1" || in["pullPolicy"].StringValue() != "Never" ||
		!strings.Contains(in["noSidecars"].StringValue(), "no Envoy") || in["duration"].StringValue() != "4m0s" || in["qps"].NumberValue() != 1000 {
		t.Errorf("local latency inputs %v", in)
	}
	if !in["proxyless"].BoolValue() || !strings.Contains(in["probeImage"].StringValue(), "meshprobe") {
		t.Errorf("local latency without the proxyless pair: %v", in)
	}
	deps := strings.Join(lat.RegisterRPC.GetDependencies(), " ")
	for _, want := range []string{"::preflight", "::istiod-1-31-alpha-eed52ebb66ad", "Checks::demo-echo", "VirtualService-demo-echo", "Injection::demo", "ConfigGroup::prometheus"} {
		if !strings.Contains(deps, want) {
			t.Errorf("latency does not wait for %s: %s", want, deps)
		}
	}

	real := values("meshready:region", "hel1", "meshready:provider", "hetzner", "hetzner:token", "t0ken",
		"meshready:nodes", `{"serverType":"ccx13","image":"debian-12"}`,
		"meshready:istio", `{"enabled":true,"version":"1.28.0"}`, "meshready:benchmarks", `{"meshLatency":{"duration":"60s","connections":8}}`)
	real.Secrets["hetzner:token"] = true
	g, err := run(t, real)
	if err != nil {
		t.Fatal(err)
	}
	in = g.byName["meshready:mesh:Latency::latency"].Inputs
	if !in["sidecars"].BoolValue() || in["image"].StringValue() != "fortio/fortio:1.67.1" || in["pullPolicy"].StringValue() != "IfNotPresent" ||
		in.HasValue("noSidecars") || in["duration"].StringValue() != "1m0s" || in["connections"].NumberValue() != 8 ||
		in.HasValue("proxyless") && in["proxyless"].BoolValue() || in.HasValue("probeImage") {
		t.Errorf("real cluster latency inputs %v", in)
	}

	for _, bench := range []string{`{"enabled":false,"gate":false}`, `{"meshLatency":{"enabled":false}}`} {
		g, err := run(t, values("meshready:region", "hel1x", "meshready:istio", meshStack, "meshready:benchmarks", bench,
			"meshready:canary", `[{"service":"echo","namespace":"demo","subsets":{"v1":90,"v2":10}}]`))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := g.byName["meshready:mesh:Latency::latency"]; ok {
			t.Errorf("benchmarks %s: latency registered", bench)
		}
	}
}

// TestSidecarChecksGraph: on a real cluster the same checks run behind
// Envoy sidecars with the configured probe image, pulled.
func TestSidecarChecksGraph(t *testing.T) {
	real := values("meshready:region", "hel1", "meshready:provider", "hetzner", "hetzner:token", "t0ken",
		"meshready:nodes", `{"serverType":"ccx13","image":"debian-12"}`,
		"meshready:istio", `{"enabled":true,"version":"1.28.0","injectNamespaces":["shop"],"sidecarChecks":true,"probeImage":"registry.example/meshprobe:1"}`,
		"meshready:canary", `[{"service":"cart","namespace":"shop","subsets":{"v1":90,"v2":10}}]`)
	real.Secrets["hetzner:token"] = true
	g, err := run(t, real)
	if err != nil {
		t.Fatal(err)
	}
	checks, ok := g.byName["meshready:mesh:Checks::shop-cart"]
	if !ok || !checks.Inputs["sidecars"].BoolValue() || checks.Inputs["image"].StringValue() != "registry.example/meshprobe:1" {
		t.Fatalf("sidecar checks: %v", checks.Inputs)
	}
	objs := g.byName["kubernetes:yaml/v2:ConfigGroup::probe-shop-cart"].Inputs["objs"].ArrayValue()
	if len(objs) != 8 {
		t.Errorf("sidecar probe workloads: %d objects, want the 7 of the proxyless ones and a plaintext client", len(objs))
	}
	for _, o := range objs {
		if tmpl, ok := o.ObjectValue()["spec"].ObjectValue()["template"]; ok {
			pod := tmpl.ObjectValue()["spec"].ObjectValue()["containers"].ArrayValue()[0].ObjectValue()
			if pod["image"].StringValue() != "registry.example/meshprobe:1" || pod["imagePullPolicy"].StringValue() != "Always" {
				t.Errorf("probe container %v", pod)
			}
		}
	}
}

// TestClusterMembershipGraph: the first control plane is the cluster, every
// other node a membership of its own; control planes join one after the
// other (so etcd changes a member at a time, and deletes run in reverse),
// workers with no such chain; the pod network waits for every membership
// (TestMeshGraph: the mesh waits for the pod network).
func TestClusterMembershipGraph(t *testing.T) {
	g, err := run(t, values("meshready:region", "r", "meshready:nodes", `{"controlPlanes":3,"workers":2}`,
		"meshready:benchmarks", `{"enabled":true,"gate":false}`, "meshready:etcd", `{"heartbeatInterval":"100ms","electionTimeout":"1s"}`))
	if err != nil {
		t.Fatal(err)
	}
	deps := func(token, name string) string {
		t.Helper()
		r, ok := g.byName[token+"::"+name]
		if !ok {
			t.Fatalf("no %s %s; registered %v", token, name, g.ordered)
		}
		return strings.Join(r.RegisterRPC.GetDependencies(), " ")
	}
	cl := g.byName["meshready:bootstrap:Cluster::kubernetes"].Inputs
	if cl["controlPlane"].ObjectValue()["name"].StringValue() != "test-cp-1" || cl["controlPlanes"].NumberValue() != 3 || cl["schedulable"].BoolValue() {
		t.Errorf("cluster inputs %v", cl)
	}
	if _, ok := g.byName["meshready:bootstrap:Member::test-cp-1"]; ok {
		t.Errorf("the first control plane has a membership: it is the cluster")
	}
	const member = "meshready:bootstrap:Member"
	if d := deps(member, "test-cp-2"); !strings.Contains(d, "Cluster::kubernetes") || !strings.Contains(d, "Suite::benchmarks") {
		t.Errorf("test-cp-2 depends on %s", d)
	}
	if d := deps(member, "test-cp-3"); !strings.Contains(d, "Member::test-cp-2") {
		t.Errorf("test-cp-3 does not join after test-cp-2: %s", d)
	}
	for _, w := range []string{"test-worker-1", "test-worker-2"} {
		if d := deps(member, w); strings.Contains(d, "Member::") {
			t.Errorf("%s waits for another member: %s", w, d)
		}
		if dw := g.byName[member+"::"+w].RegisterRPC.GetDeletedWith(); !strings.HasSuffix(dw, "Cluster::kubernetes") {
			t.Errorf("%s is not deleted with the cluster (a destroy would drain it): %q", w, dw)
		}
		in := g.byName[member+"::"+w].Inputs
		if in["node"].ObjectValue()["name"].StringValue() != w || in["controlPlane"].ObjectValue()["name"].StringValue() != "test-cp-1" ||
			in["drainTimeout"].StringValue() != "5m0s" {
			t.Errorf("%s inputs %v", w, in)
		}
	}
	d := deps("meshready:bootstrap:PodNetwork", "pod-network")
	for _, n := range []string{"Cluster::kubernetes", "Member::test-cp-2", "Member::test-cp-3", "Member::test-worker-1", "Member::test-worker-2"} {
		if !strings.Contains(d, n) {
			t.Errorf("the pod network does not wait for %s: %s", n, d)
		}
	}
}
