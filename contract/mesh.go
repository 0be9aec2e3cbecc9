package contract

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/report"
)

// Preflight is what must hold before Istio's charts go on a cluster: on
// local nodes the mesh images imported, then the precheck (Kubernetes
// inside the release's support window, the API groups Istio needs, no
// other Istio control plane). It runs again, in place, when what it checks
// changes.
func Preflight() Def[PreflightInputs, PreflightOutputs] {
	return Def[PreflightInputs, PreflightOutputs]{
		Token:        "meshready:mesh:Preflight",
		Diff:         Policy{Update: []string{"nodes", "istioVersion", "images"}, Ignore: ignoreAccess()},
		SecretInputs: []string{"sshPrivateKey"},
	}
}

// PreflightInputs are a preflight's inputs.
type PreflightInputs struct {
	Nodes []NodeRef `json:"nodes"`
	Access
	// IstioVersion is the release to be installed (its support window is checked).
	IstioVersion string `json:"istioVersion"`
	// Images are image tarballs as the nodes see them (local stacks), imported on every node.
	Images []Image `json:"images,omitempty"`
}

// Image is an image tarball on the nodes and the reference it is imported as.
type Image struct {
	Ref     string `json:"ref"`
	Tarball string `json:"tarball"`
}

// PreflightArgs are PreflightInputs as the program gives them.
type PreflightArgs struct {
	Nodes        NodeRefsInput
	Access       AccessArgs
	IstioVersion string
	Images       []Image
}

// PreflightOutputs are the preflight's inputs and the cluster's version.
type PreflightOutputs struct {
	PreflightInputs
	KubernetesVersion string `json:"kubernetesVersion"`
}

// Injection stands for one namespace in the mesh: created when the
// namespace joins, it restarts the Deployments whose pods run without a
// proxy (Istio injects only into new pods); when the namespace's revision
// changes (an Istio upgrade), it moves it: restarts the Deployments whose
// pods another revision injected and waits for them. Otherwise later ups
// do nothing.
func Injection() Def[InjectionInputs, InjectionOutputs] {
	return Def[InjectionInputs, InjectionOutputs]{
		Token:        "meshready:mesh:Injection",
		Diff:         Policy{Replace: []string{"namespace"}, Update: []string{"revision"}, Ignore: ignoreAccess("nodes")},
		SecretInputs: []string{"sshPrivateKey"},
	}
}

// InjectionInputs are an injection's inputs.
type InjectionInputs struct {
	Nodes []NodeRef `json:"nodes"`
	Access
	Namespace string `json:"namespace"`
	// Revision is the istiod revision the namespace's pods must run with
	// ("" in states from before revisions).
	Revision string `json:"revision,omitempty"`
}

// InjectionArgs are InjectionInputs as the program gives them.
type InjectionArgs struct {
	Nodes     NodeRefsInput
	Access    AccessArgs
	Namespace string
	Revision  string
}

// Webhooks is the wait, after a revision's istiod is installed and Istio's
// default validation webhook points at it, until that webhook answers
// through the API server: what comes after (routes, policies, namespaces)
// writes Istio resources it validates. It runs again when the revision
// changes (an Istio upgrade).
func Webhooks() Def[WebhooksInputs, WebhooksOutputs] {
	return Def[WebhooksInputs, WebhooksOutputs]{
		Token:        "meshready:mesh:Webhooks",
		Diff:         Policy{Update: []string{"revision"}, Ignore: ignoreAccess("nodes")},
		SecretInputs: []string{"sshPrivateKey"},
	}
}

// WebhooksInputs name the revision whose webhook must answer.
type WebhooksInputs struct {
	Nodes []NodeRef `json:"nodes"`
	Access
	Revision string `json:"revision"`
}

// WebhooksArgs are WebhooksInputs as the program gives them.
type WebhooksArgs struct {
	Nodes    NodeRefsInput
	Access   AccessArgs
	Revision string
}

// WebhooksOutputs say how long the webhook took to answer.
type WebhooksOutputs struct {
	WebhooksInputs
	Seconds float64 `json:"seconds"`
}

// InjectionOutputs name the Deployments that were restarted, and for a
// move between revisions, where from and how long it took.
type InjectionOutputs struct {
	InjectionInputs
	Restarted []string `json:"restarted"`
	// From is the revision the namespace left ("" on joining).
	From string `json:"from,omitempty"`
	// Seconds is how long the restarts and their rollouts took.
	Seconds float64 `json:"seconds,omitempty"`
	// Traffic is what meshready's probe watchers in the namespace saw
	// while its Deployments moved (a move between revisions only).
	Traffic *report.MoveTraffic `json:"traffic,omitempty"`
}

// InjectionResource is a registered injection.
type InjectionResource struct {
	pulumi.CustomResourceState

	Namespace pulumi.StringOutput      `pulumi:"namespace"`
	Restarted pulumi.StringArrayOutput `pulumi:"restarted"`
	From      pulumi.StringOutput      `pulumi:"from"`
	Seconds   pulumi.Float64Output     `pulumi:"seconds"`
	Traffic   pulumi.MapOutput         `pulumi:"traffic"`
	Revision  pulumi.StringOutput      `pulumi:"revision"`
}

// Checks are the mesh checks of one canary (split, STRICT, convergence),
// through proxyless gRPC or Envoy sidecars. They run again in place when
// an input changes (weights, mTLS mode, probe image, nodes).
func Checks() Def[ChecksInputs, ChecksOutputs] {
	return Def[ChecksInputs, ChecksOutputs]{
		Token: "meshready:mesh:Checks",
		Diff: Policy{
			Update: []string{"nodes", "namespace", "service", "weights", "mtls", "calls", "runs", "tolerancePts", "image", "sidecars", "kubernetesVersion", "revision"},
			Ignore: ignoreAccess(),
		},
		SecretInputs: []string{"sshPrivateKey"},
	}
}

// ChecksInputs are the checks' inputs.
type ChecksInputs struct {
	Nodes []NodeRef `json:"nodes"`
	Access
	Namespace string         `json:"namespace"`
	Service   string         `json:"service"`
	Weights   map[string]int `json:"weights"`
	// MTLS is the PeerAuthentication mode in force in Namespace.
	MTLS string `json:"mtls"`
	// Calls is how many calls the split check makes; Runs how many
	// convergence runs; TolerancePts the split's allowed deviation.
	Calls        int     `json:"calls"`
	Runs         int     `json:"runs"`
	TolerancePts float64 `json:"tolerancePts"`
	// Image is the probe image (a new one means new pods: check again).
	Image string `json:"image"`
	// Sidecars: the probe runs behind Envoy sidecars, not proxyless.
	Sidecars bool `json:"sidecars,omitempty"`
	// KubernetesVersion is the cluster's: after an upgrade the checks run again.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// Revision is the istiod revision of the namespace: after its move
	// to another the checks run again (and read that istiod's metrics).
	Revision string `json:"revision,omitempty"`
}

// ChecksArgs are ChecksInputs as the program gives them.
type ChecksArgs struct {
	Nodes        NodeRefsInput
	Access       AccessArgs
	Namespace    string
	Service      string
	Weights      map[string]int
	MTLS         string
	Calls, Runs  int
	TolerancePts float64
	Image        string
	Sidecars     bool
	// KubernetesVersion is the cluster's: after an upgrade the checks run again.
	KubernetesVersion string
	Revision          string
}

// ChecksOutputs are the checks' inputs and what they found.
type ChecksOutputs struct {
	ChecksInputs
	Results report.MeshResult `json:"results"`
}

// ChecksResource is a registered set of checks.
type ChecksResource struct {
	pulumi.CustomResourceState

	Results pulumi.MapOutput `pulumi:"results"`
}

// Latency is the mesh latency benchmark (METHODS.md, Istio's method):
// fortio between two fixed nodes without a mesh, with sidecars and STRICT
// mTLS, with sidecars and mTLS off, each in a namespace deleted after its
// run. It runs again in place when an input changes.
func Latency() Def[LatencyInputs, LatencyOutputs] {
	return Def[LatencyInputs, LatencyOutputs]{
		Token: "meshready:mesh:Latency",
		Diff: Policy{
			Update: []string{"nodes", "sidecars", "noSidecars", "image", "pullPolicy", "proxyless", "probeImage", "qps", "connections", "payloadBytes", "duration", "istioVersion"},
			Ignore: ignoreAccess(),
		},
		SecretInputs: []string{"sshPrivateKey"},
	}
}

// LatencyInputs are the latency benchmark's inputs.
type LatencyInputs struct {
	Nodes []NodeRef `json:"nodes"`
	Access
	// Sidecars says whether Envoy sidecars can run; without them only the
	// baseline runs, and NoSidecars says why.
	Sidecars   bool   `json:"sidecars"`
	NoSidecars string `json:"noSidecars,omitempty"`
	// Image is the fortio image, PullPolicy Never where it is pre-loaded.
	Image      string `json:"image"`
	PullPolicy string `json:"pullPolicy"`
	// Proxyless adds the proxyless gRPC runs (mTLS on and off, no Envoy)
	// with the pre-loaded meshprobe image ProbeImage.
	Proxyless    bool   `json:"proxyless,omitempty"`
	ProbeImage   string `json:"probeImage,omitempty"`
	QPS          int    `json:"qps"`
	Connections  int    `json:"connections"`
	PayloadBytes int    `json:"payloadBytes"`
	Duration     string `json:"duration"`
	// IstioVersion is the mesh measured (a new one is measured again).
	IstioVersion string `json:"istioVersion"`
}

// LatencyArgs are LatencyInputs as the program gives them.
type LatencyArgs struct {
	Nodes                          NodeRefsInput
	Access                         AccessArgs
	Sidecars                       bool
	NoSidecars                     string
	Image, PullPolicy              string
	Proxyless                      bool
	ProbeImage                     string
	QPS, Connections, PayloadBytes int
	Duration, IstioVersion         string
}

// LatencyOutputs are the benchmark's inputs and its runs.
type LatencyOutputs struct {
	LatencyInputs
	Results benchmarks.MeshLatency `json:"results"`
}

// LatencyResource is a registered latency benchmark.
type LatencyResource struct {
	pulumi.CustomResourceState

	Results pulumi.MapOutput `pulumi:"results"`
}

// Components are the component resources of the program: a token each, so
// that every token the project registers is declared here.
const (
	RegionComponent     = "meshready:stack:Region"
	NodePoolComponent   = "meshready:infra:NodePool"
	MeshComponent       = "meshready:mesh:Mesh"
	IstioComponent      = "meshready:mesh:Istio"
	NamespacesComponent = "meshready:mesh:Namespaces"
	PolicyComponent     = "meshready:mesh:Policy"
	CanaryComponent     = "meshready:mesh:Canary"
	AddonsComponent     = "meshready:mesh:Addons"
	// ProbesComponent holds the probe workloads and the Checks of every canary.
	ProbesComponent = "meshready:mesh:Probes"
)

// ProbesAliases keep the URNs of stacks made when the probes' component
// had the Checks resource's token.
func ProbesAliases() []pulumi.Alias {
	return []pulumi.Alias{{Type: pulumi.String(Checks().Token)}}
}
