package bootstrap

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/meshready/meshready/config"
)

// Defaults a ClusterParams field takes when left empty.
const (
	DefaultClusterName     = "kubernetes" // kubeadm's default
	DefaultEtcdDataDir     = "/var/lib/etcd"
	DefaultCgroupDriver    = "systemd" // kubeadm's default since 1.22, and what systemd hosts want
	DefaultCRISocket       = "unix:///run/containerd/containerd.sock"
	DefaultImageRepository = "registry.k8s.io"
	DefaultImagePullPolicy = "IfNotPresent"
	// apiServerPort is where each control plane's kube-apiserver listens.
	apiServerPort = 6443
)

// ClusterParams is what one node's kubeadm configuration is made of: the
// cluster's settings plus the node's own name and address. Secrets are
// config.Secret so that printing the params (%v, logs) never shows them.
type ClusterParams struct {
	KubernetesVersion config.Version
	// ClusterName defaults to DefaultClusterName.
	ClusterName string
	// ControlPlaneEndpoint is host:port that every node reaches the API server at (the first control plane, or a load balancer).
	ControlPlaneEndpoint string
	// AdvertiseAddress is this node's IP: its API server's address on a control plane, and the kubelet's --node-ip everywhere.
	AdvertiseAddress string
	// CertSANs are more names and addresses the API servers' certificate is
	// good for: the first control plane's public address where the nodes
	// talk over a private network, so a kubeconfig reaches it from outside.
	CertSANs []string
	// NodeName is this node's Kubernetes name (a lower-case DNS subdomain).
	NodeName string
	// PodSubnet and ServiceSubnet are CIDRs; empty leaves kubeadm's defaults.
	PodSubnet, ServiceSubnet string
	// Etcd is TuneEtcd's result; RenderInit needs it, joins inherit it from the cluster.
	Etcd EtcdTuning
	// EtcdDataDir defaults to DefaultEtcdDataDir; it should be on the disk the benchmarks tested.
	EtcdDataDir string
	// CgroupDriver is systemd or cgroupfs and must match the container runtime's.
	CgroupDriver string
	// CRISocket defaults to containerd's socket.
	CRISocket string
	// ImageRepository is registry.k8s.io, or the prefix images were loaded under on an air-gapped node.
	ImageRepository string
	// ImagePullPolicy is IfNotPresent (default), Never (air-gapped: fail rather than reach out) or Always.
	ImagePullPolicy string
	// BootstrapToken is [a-z0-9]{6}.[a-z0-9]{16}, as kubeadm token generate prints it.
	BootstrapToken config.Secret
	// CertificateKey is 64 hex digits (kubeadm certs certificate-key) that encrypt the uploaded control-plane certificates.
	CertificateKey config.Secret
	// IgnorePreflightErrors names checks to skip, one by one ("all" is refused).
	IgnorePreflightErrors []string
	// SkipConntrackSysctls tells kube-proxy to leave the conntrack sysctls
	// alone (as kind does): on a container node they are the host's, and
	// read-only; kube-proxy exits when it cannot set them.
	SkipConntrackSysctls bool
	// SharedHostDisk says the node's disk is the host's (container nodes): the
	// kubelet's disk-pressure eviction and image GC would act on space the node
	// does not own and taint every node at once when the host fills up, so
	// they are off, as kind turns them off (evictionHard 0% and image GC at
	// 100%); memory eviction stays.
	SharedHostDisk bool
	// CgroupV1 says the node's cgroup tree is v1 (container nodes see their
	// subtree of the host's): kubelets from 1.35 refuse to start on one unless
	// failCgroupV1 is false, which is written from 1.31, where the field came.
	CgroupV1 bool
	// KubeletCgroupRoot, when set, is this node's kubelet --cgroup-root. Local
	// nodes each see a cgroup subtree of the host's as their whole tree (a
	// cgroup namespace); a root of the node's name keeps what the kubelet
	// makes recognisable in the host's tree too.
	KubeletCgroupRoot string
	// NodeLabels become the kubelet's --node-labels (only labels a kubelet may set on itself).
	NodeLabels map[string]string
	// Schedulable control planes (a cluster without workers) register with no
	// taints (kubeadm's `taints: []`), as kind's single-node clusters do;
	// otherwise nothing, CoreDNS included, could run.
	Schedulable bool
}

// RenderInit writes the config for kubeadm init --config on the first control
// plane: InitConfiguration, ClusterConfiguration (with etcd's tuning) and
// KubeletConfiguration, in the kubeadm API the Kubernetes version reads (see
// kubeadmAPI). Run it with --upload-certs when CertificateKey is set, so that
// other control planes can join with the same key.
func RenderInit(p ClusterParams) ([]byte, error) {
	api, minor, err := p.validate()
	if err == nil {
		err = p.validateInit()
	}
	if err != nil {
		return nil, fmt.Errorf("kubeadm init config for %s: %w", p.NodeName, err)
	}
	p = p.withDefaults()
	list := api == apiV1beta4
	initCfg := initConfiguration{
		typeMeta: typeMeta{api, "InitConfiguration"},
		BootstrapTokens: []bootstrapToken{{
			Token:  p.BootstrapToken.Reveal(),
			TTL:    "24h0m0s",
			Usages: []string{"signing", "authentication"},
			Groups: []string{"system:bootstrappers:kubeadm:default-node-token"},
		}},
		NodeRegistration: p.nodeRegistration(api),
		LocalAPIEndpoint: apiEndpoint{p.AdvertiseAddress, apiServerPort},
		CertificateKey:   p.CertificateKey.Reveal(),
	}
	clusterCfg := clusterConfiguration{
		typeMeta:             typeMeta{api, "ClusterConfiguration"},
		KubernetesVersion:    p.KubernetesVersion.Tag(),
		ClusterName:          p.ClusterName,
		ControlPlaneEndpoint: p.ControlPlaneEndpoint,
		ImageRepository:      p.ImageRepository,
		Networking:           networking{p.PodSubnet, p.ServiceSubnet},
		APIServer:            apiServerConfig{CertSANs: p.CertSANs},
		Etcd: etcdConfig{Local: localEtcd{
			DataDir:   p.EtcdDataDir,
			ExtraArgs: extraArgs{p.Etcd.ExtraArgs(), list},
		}},
	}
	// Before 1.25, kubeadm moves CoreDNS to <repo>/coredns/coredns only when the
	// repository is its default k8s.gcr.io (GetDNSImage in kubeadm's images.go),
	// so registry.k8s.io would yield registry.k8s.io/coredns:<tag>, which is not
	// where CoreDNS is published. Naming the DNS repository fixes that everywhere.
	if minor < 25 && p.ImageRepository == DefaultImageRepository {
		clusterCfg.DNS = &dnsConfig{ImageRepository: DefaultImageRepository + "/coredns"}
	}
	kubelet := kubeletConfiguration{
		typeMeta:     typeMeta{"kubelet.config.k8s.io/v1beta1", "KubeletConfiguration"},
		CgroupDriver: p.CgroupDriver,
		FailSwapOn:   true,
	}
	if p.SharedHostDisk {
		kubelet.EvictionHard = map[string]string{"memory.available": "100Mi",
			"nodefs.available": "0%", "nodefs.inodesFree": "0%", "imagefs.available": "0%"}
		kubelet.ImageGCHighThresholdPercent = new(int32(100))
	}
	if p.CgroupV1 && minor >= 31 {
		kubelet.FailCgroupV1 = new(false)
	}
	if p.SkipConntrackSysctls {
		return encodeDocs(initCfg, clusterCfg, kubelet, kubeProxyConfiguration{
			typeMeta:  typeMeta{"kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"},
			Conntrack: conntrackConfig{MaxPerCore: new(int32(0)), TCPEstablishedTimeout: "0s", TCPCloseWaitTimeout: "0s"},
		})
	}
	return encodeDocs(initCfg, clusterCfg, kubelet)
}

// RenderJoin writes the config for kubeadm join --config: a JoinConfiguration
// that finds the cluster with the bootstrap token and pins its CA with
// caCertHash ("sha256:<hex>", as kubeadm init prints it). A control plane
// also gets its API endpoint and the certificate key to fetch the shared
// certificates; its etcd member takes the cluster's ClusterConfiguration, so
// every member runs with the same tuning.
func RenderJoin(p ClusterParams, controlPlane bool, caCertHash string) ([]byte, error) {
	api, _, err := p.validate()
	if err == nil {
		err = p.validateJoin(controlPlane, caCertHash)
	}
	if err != nil {
		return nil, fmt.Errorf("kubeadm join config for %s: %w", p.NodeName, err)
	}
	p = p.withDefaults()
	join := joinConfiguration{
		typeMeta:         typeMeta{api, "JoinConfiguration"},
		NodeRegistration: p.nodeRegistration(api),
		Discovery: discovery{BootstrapToken: bootstrapTokenDiscovery{
			APIServerEndpoint: p.ControlPlaneEndpoint,
			Token:             p.BootstrapToken.Reveal(),
			CACertHashes:      []string{caCertHash},
		}},
	}
	if controlPlane {
		join.ControlPlane = &joinControlPlane{
			LocalAPIEndpoint: apiEndpoint{p.AdvertiseAddress, apiServerPort},
			CertificateKey:   p.CertificateKey.Reveal(),
		}
	}
	return encodeDocs(join)
}

// The kubeadm config APIs meshready writes.
const (
	apiV1beta2 = "kubeadm.k8s.io/v1beta2"
	apiV1beta3 = "kubeadm.k8s.io/v1beta3"
	apiV1beta4 = "kubeadm.k8s.io/v1beta4"
)

// kubeadmAPI picks the newest kubeadm config API a Kubernetes version reads:
// v1beta3 arrived in kubeadm 1.22, so 1.21 reads v1beta2 (its newest); v1beta4
// arrived in 1.31 and replaced extraArgs maps with lists. Later kubeadms still
// read the older version for a while, but the newest is the one not deprecated.
func kubeadmAPI(v config.Version) (api string, minor int, err error) {
	major, minor, _, err := v.Parse()
	switch {
	case err != nil:
		return "", 0, fmt.Errorf("KubernetesVersion: %w", err)
	case major != 1 || minor < config.MinKubernetesMinor:
		return "", 0, fmt.Errorf("KubernetesVersion %s is older than 1.%d, the oldest meshready bootstraps", v, config.MinKubernetesMinor)
	case minor < 22:
		return apiV1beta2, minor, nil
	case minor < 31:
		return apiV1beta3, minor, nil
	default:
		return apiV1beta4, minor, nil
	}
}

// nodeRegistration is this node's registration, the same in init and join.
func (p ClusterParams) nodeRegistration(api string) nodeRegistration {
	// --node-ip makes the node's InternalIP the address meshready chose: on a
	// host with a public and a private interface the kubelet would otherwise
	// take the default route's, and pod and mesh traffic would follow it.
	kubelet := []Arg{{"node-ip", p.AdvertiseAddress}}
	if len(p.NodeLabels) > 0 {
		var labels []string
		for _, k := range slices.Sorted(maps.Keys(p.NodeLabels)) {
			labels = append(labels, k+"="+p.NodeLabels[k])
		}
		kubelet = append(kubelet, Arg{"node-labels", strings.Join(labels, ",")})
	}
	if p.KubeletCgroupRoot != "" {
		kubelet = append(kubelet, Arg{"cgroup-root", p.KubeletCgroupRoot})
	}
	nr := nodeRegistration{
		Name:                  p.NodeName,
		CRISocket:             p.CRISocket,
		KubeletExtraArgs:      extraArgs{kubelet, api == apiV1beta4},
		IgnorePreflightErrors: p.IgnorePreflightErrors,
	}
	if api != apiV1beta2 {
		nr.ImagePullPolicy = p.ImagePullPolicy
	}
	if p.Schedulable {
		nr.Taints = &[]taint{}
	}
	return nr
}

// withDefaults fills the fields left empty.
func (p ClusterParams) withDefaults() ClusterParams {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&p.ClusterName, DefaultClusterName)
	def(&p.EtcdDataDir, DefaultEtcdDataDir)
	def(&p.CgroupDriver, DefaultCgroupDriver)
	def(&p.CRISocket, DefaultCRISocket)
	def(&p.ImageRepository, DefaultImageRepository)
	def(&p.ImagePullPolicy, DefaultImagePullPolicy)
	return p
}
