// Package config is the one place a stack's configuration is read.
//
// A stack file (stacks/Pulumi.<stack>.yaml) holds keys under the `meshready:`
// namespace and the Hetzner token under `hetzner:token`. The Pulumi engine hands
// them to a program as flat strings, objects JSON-encoded; Parse turns that into
// one typed Config, validates it, and reports every problem with the key that
// holds it, so that bad input is refused before any resource is created.
package config

import "time"

// Namespace is the Pulumi config namespace of every meshready key.
const Namespace = "meshready"

// Provider names where a stack's nodes come from.
type Provider string

// The node providers meshready knows.
const (
	ProviderLocal   Provider = "local"   // systemd-nspawn machines on this host
	ProviderStatic  Provider = "static"  // servers that already exist
	ProviderHetzner Provider = "hetzner" // Hetzner Cloud servers
)

// The node roles, as every step names them.
const (
	RoleControlPlane = "control-plane"
	RoleWorker       = "worker"
)

// Config is a stack's whole configuration, typed.
type Config struct {
	// Region labels the stack's reports and, on hetzner, is the location (fsn1, nbg1, hel1, ...).
	Region     string     `mapstructure:"region"`
	Provider   Provider   `mapstructure:"provider"`
	Nodes      Nodes      `mapstructure:"nodes"`
	SSH        SSH        `mapstructure:"ssh"`
	Local      Local      `mapstructure:"local"`
	Kubernetes Kubernetes `mapstructure:"kubernetes"`
	Etcd       Etcd       `mapstructure:"etcd"`
	// EtcdSnapshots are the snapshots taken before every change to the cluster.
	EtcdSnapshots EtcdSnapshots `mapstructure:"etcdSnapshots"`
	Istio         Istio         `mapstructure:"istio"`
	Canary        []Canary      `mapstructure:"canary"`
	Addons        []string      `mapstructure:"addons"`
	Benchmarks    Benchmarks    `mapstructure:"benchmarks"`

	// Hetzner holds what the hetzner provider needs that is not under meshready:.
	Hetzner Hetzner `mapstructure:"-"`
}

// EtcdSnapshots are the automatic etcd snapshots: one before every node
// joins or leaves and before etcd is retuned, kept on the first control
// plane (bootstrap.SnapshotDir).
type EtcdSnapshots struct {
	// Keep is how many the first control plane keeps, newest first; 0 takes none.
	Keep int `mapstructure:"keep"`
}

// Nodes says how many nodes of each role a stack has and what they run on.
type Nodes struct {
	// ControlPlanes is 1, 3 or 5: etcd needs an odd member count for quorum.
	ControlPlanes int `mapstructure:"controlPlanes"`
	Workers       int `mapstructure:"workers"`
	// ServerType is provider-specific (a Hetzner server type such as ccx13; "nspawn" on local).
	ServerType string `mapstructure:"serverType"`
	// Image is provider-specific (a Hetzner image such as debian-12; a Debian suite on local).
	Image string `mapstructure:"image"`
	// Static lists existing servers, control planes first, for provider static.
	Static []StaticHost `mapstructure:"static"`
	// DrainTimeout bounds the drain of a node that leaves the cluster.
	DrainTimeout Duration `mapstructure:"drainTimeout"`
	// AllowedCIDRs may reach the nodes' SSH and API server through the
	// stack's firewall (hetzner; everything else is closed from outside).
	// Empty: from anywhere.
	AllowedCIDRs []string `mapstructure:"allowedCIDRs"`
}

// StaticHost is a server that exists already, reached over SSH.
type StaticHost struct {
	Address string `mapstructure:"address"`
	User    string `mapstructure:"user"`
	Port    int    `mapstructure:"port"`
	// HostKey is the server's SSH host key fingerprint (SHA256:...) or public key line,
	// known before the first connect so that no connection trusts on first use.
	HostKey string `mapstructure:"hostKey"`
}

// SSH is how meshready logs in to nodes it did not create.
type SSH struct {
	// IdentityFile is a private key file; empty means the SSH agent.
	IdentityFile string `mapstructure:"identityFile"`
}

// Local configures the local (systemd-nspawn) provider.
type Local struct {
	// Subnet is the IPv4 /24 the project's bridge and machines use.
	Subnet string `mapstructure:"subnet"`
	// Bridge is the host bridge interface the project owns.
	Bridge string `mapstructure:"bridge"`
}

// The pod networks kubernetes.podNetwork names.
const (
	PodNetworkFlannel    = "flannel"
	PodNetworkHostRoutes = "host-routes"
)

// Kubernetes configures the cluster kubeadm bootstraps.
type Kubernetes struct {
	// Enabled bootstraps Kubernetes on the nodes; false stops after the benchmarks.
	Enabled       bool    `mapstructure:"enabled"`
	Version       Version `mapstructure:"version"`
	PodSubnet     string  `mapstructure:"podSubnet"`
	ServiceSubnet string  `mapstructure:"serviceSubnet"`
	// PodNetwork is how pods reach other nodes' pods: flannel (a VXLAN
	// overlay: nodes need only reach each other over UDP 8472) or
	// host-routes (a route per node through its address: nodes on one L2
	// segment only, no encapsulation). Unset, a new cluster gets flannel
	// and a running one keeps what it has (the plugin settles it), so a
	// meshready with another default never switches a cluster unasked.
	PodNetwork string `mapstructure:"podNetwork"`
	// KubeconfigFile, when set, is where the admin kubeconfig is written (0600) after up.
	KubeconfigFile string `mapstructure:"kubeconfigFile"`
}

// Etcd holds etcd's tuning knobs; each is auto (derived from measurements) or a value.
type Etcd struct {
	HeartbeatInterval       Auto[Duration] `mapstructure:"heartbeatInterval" json:"heartbeatInterval"`
	ElectionTimeout         Auto[Duration] `mapstructure:"electionTimeout" json:"electionTimeout"`
	SnapshotCount           Auto[int]      `mapstructure:"snapshotCount" json:"snapshotCount"`
	QuotaBackendBytes       Auto[int64]    `mapstructure:"quotaBackendBytes" json:"quotaBackendBytes"`
	AutoCompactionMode      Auto[string]   `mapstructure:"autoCompactionMode" json:"autoCompactionMode"`
	AutoCompactionRetention Auto[string]   `mapstructure:"autoCompactionRetention" json:"autoCompactionRetention"`
	// Ionice gives etcd best-effort class 2, level 0 IO priority on the host.
	Ionice Auto[bool] `mapstructure:"ionice" json:"ionice"`
}

// Istio configures the service mesh.
type Istio struct {
	// Enabled installs the mesh during up (after Kubernetes). Off by default
	// until the local stack can run it end to end (see README, Mesh).
	Enabled bool   `mapstructure:"enabled"`
	Version string `mapstructure:"version"`
	// ChartRepository is where the Helm charts come from on real clusters.
	ChartRepository string `mapstructure:"chartRepository"`
	Profile         string `mapstructure:"profile"`
	// MTLS is the mesh-wide PeerAuthentication mode; NamespaceMTLS overrides
	// it per namespace (the PERMISSIVE -> STRICT migration path).
	MTLS             string            `mapstructure:"mtls"`
	NamespaceMTLS    map[string]string `mapstructure:"namespaceMTLS"`
	InjectNamespaces []string          `mapstructure:"injectNamespaces"`
	IngressGateway   bool              `mapstructure:"ingressGateway"`
	// ProxylessChecks deploys meshready's proxyless gRPC echo service as every
	// canary service (one Deployment per subset) with clients on each node,
	// and checks the mesh with them during up: the canary split, STRICT mTLS
	// refusing plaintext, convergence after a route change. For clusters
	// without Envoy (the local stack); the services must not exist already.
	ProxylessChecks bool `mapstructure:"proxylessChecks"`
	// SidecarChecks runs the same checks on a real cluster, through Envoy
	// sidecars (the probe as plain gRPC behind them), with ProbeImage: the
	// meshprobe image pushed to a registry the nodes pull from.
	SidecarChecks bool   `mapstructure:"sidecarChecks"`
	ProbeImage    string `mapstructure:"probeImage"`
	// Canary is an Istio canary upgrade: a second istiod revision beside
	// Version's, for the namespaces it lists (Istio's canary and stable
	// revision tags); the others stay on Version. Taking a namespace out
	// of the list moves it back; setting Version to the canary's (and
	// dropping the canary) promotes it, and the old revision goes.
	Canary IstioCanary `mapstructure:"canary"`
}

// IstioCanary is a second Istio version for some namespaces.
type IstioCanary struct {
	Version    string   `mapstructure:"version"`
	Namespaces []string `mapstructure:"namespaces"`
}

// Canary splits a service's traffic between subsets by weight.
type Canary struct {
	Service   string `mapstructure:"service"`
	Namespace string `mapstructure:"namespace"`
	// Subsets maps a subset name (the pods' version label) to its percentage of traffic.
	Subsets map[string]int `mapstructure:"subsets"`
}

// Benchmarks configures the hardware checks and the gate bootstrap runs first.
type Benchmarks struct {
	// Enabled runs the suite during up; the gate needs it.
	Enabled bool `mapstructure:"enabled"`
	// Gate refuses to bootstrap Kubernetes on hardware that fails it; false only warns.
	Gate bool `mapstructure:"gate"`
	// Dir is the folder on each node whose disk is tested: where etcd's data will live.
	Dir string `mapstructure:"dir"`
	// DiskRuntime is how long the random-read latency test runs.
	DiskRuntime Duration `mapstructure:"diskRuntime"`
	// StealIdle and StealLoaded are how long each CPU steal phase samples /proc/stat.
	StealIdle   Duration   `mapstructure:"stealIdle"`
	StealLoaded Duration   `mapstructure:"stealLoaded"`
	Thresholds  Thresholds `mapstructure:"thresholds"`
	// MeshLatency is the mesh overhead benchmark, run after the mesh is up.
	MeshLatency MeshLatency `mapstructure:"meshLatency"`
}

// MeshLatency configures the fortio benchmark of the mesh's latency
// (METHODS.md: Istio's method): a fortio client and server on two fixed
// nodes, without a mesh, with sidecars and STRICT mTLS, and with sidecars
// and mTLS disabled. It needs istio.enabled and benchmarks.enabled.
type MeshLatency struct {
	Enabled bool `mapstructure:"enabled"`
	// Duration is each variant's load time (METHODS.md: 240s).
	Duration     Duration `mapstructure:"duration"`
	QPS          int      `mapstructure:"qps"`
	Connections  int      `mapstructure:"connections"`
	PayloadBytes int      `mapstructure:"payloadBytes"`
	// Image is the fortio image real clusters pull (the local stack builds its own).
	Image string `mapstructure:"image"`
}

// Thresholds are the verdict limits; their defaults and sources are in METHODS.md.
type Thresholds struct {
	// FdatasyncP99 is etcd's limit for the WAL fdatasync 99th percentile (etcd docs: 10 ms).
	FdatasyncP99 Duration `mapstructure:"fdatasyncP99"`
	// ReadP99 is the 4k QD1 random-read p99 the guide claims for NVMe (project-chosen: 0.5 ms).
	ReadP99 Duration `mapstructure:"readP99"`
	// StealMeanPercent and StealMaxPercent bound loaded steal (project-chosen: 0.5 % and 2 %).
	StealMeanPercent float64 `mapstructure:"stealMeanPercent"`
	StealMaxPercent  float64 `mapstructure:"stealMaxPercent"`
}

// Hetzner is the hetzner provider's account access.
type Hetzner struct {
	// Token is the Hetzner Cloud API token: config key hetzner:token, set as a secret.
	Token Secret
}

// Defaults is the configuration a key takes when the stack file leaves it out.
func Defaults() Config {
	return Config{
		Provider:      ProviderLocal,
		Nodes:         Nodes{ControlPlanes: 1, Workers: 2, DrainTimeout: Duration(5 * time.Minute)},
		EtcdSnapshots: EtcdSnapshots{Keep: 5},
		Local:         Local{Subnet: "10.213.0.0/24", Bridge: "mr-br0"},
		Kubernetes: Kubernetes{
			Enabled:       true,
			Version:       "1.34.4",
			PodSubnet:     "10.244.0.0/16",
			ServiceSubnet: "10.96.0.0/12",
		},
		Istio: Istio{Version: "1.28.0", ChartRepository: "https://istio-release.storage.googleapis.com/charts", Profile: "default", MTLS: "STRICT"},
		Benchmarks: Benchmarks{
			Enabled:     true,
			Gate:        true,
			Dir:         "/var/lib",
			DiskRuntime: Duration(20 * time.Second),
			StealIdle:   Duration(10 * time.Second),
			StealLoaded: Duration(30 * time.Second),
			Thresholds: Thresholds{
				FdatasyncP99:     Duration(10 * time.Millisecond),
				ReadP99:          Duration(500 * time.Microsecond),
				StealMeanPercent: 0.5,
				StealMaxPercent:  2,
			},
			// Istio's published runs: 1000 rps, 1 KB, 16 connections; METHODS.md: 240 s.
			MeshLatency: MeshLatency{Enabled: true, Duration: Duration(240 * time.Second), QPS: 1000, Connections: 16,
				PayloadBytes: 1024, Image: "fortio/fortio:1.67.1"},
		},
	}
}
