package bootstrap

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// The wire types below are the few fields of kubeadm's config API meshready
// writes, shared by v1beta2, v1beta3 and v1beta4 (their shapes agree on these
// fields except extraArgs, see extraArgs). They are defined here rather than
// imported because kubeadm's types live in k8s.io/kubernetes, whose module
// graph is far too big for a program that only writes a config file; kubeadm
// itself decodes the file and reports what it does not accept.
//
// References: https://kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta3/
// and https://kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta4/.

type typeMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
}

type initConfiguration struct {
	typeMeta         `yaml:",inline"`
	BootstrapTokens  []bootstrapToken `yaml:"bootstrapTokens"`
	NodeRegistration nodeRegistration `yaml:"nodeRegistration"`
	LocalAPIEndpoint apiEndpoint      `yaml:"localAPIEndpoint"`
	CertificateKey   string           `yaml:"certificateKey,omitempty"`
}

type bootstrapToken struct {
	Token  string   `yaml:"token"`
	TTL    string   `yaml:"ttl"`
	Usages []string `yaml:"usages"`
	Groups []string `yaml:"groups"`
}

type nodeRegistration struct {
	Name      string `yaml:"name"`
	CRISocket string `yaml:"criSocket"`
	// ImagePullPolicy is absent from v1beta2, so it is left empty (omitted) there.
	ImagePullPolicy       string    `yaml:"imagePullPolicy,omitempty"`
	KubeletExtraArgs      extraArgs `yaml:"kubeletExtraArgs,omitempty"`
	IgnorePreflightErrors []string  `yaml:"ignorePreflightErrors,omitempty"`
	// Taints nil means kubeadm's default (control planes tainted); a pointer
	// to an empty list renders `taints: []`: no taints at all.
	Taints *[]taint `yaml:"taints,omitempty"`
}

type taint struct {
	Key    string `yaml:"key"`
	Effect string `yaml:"effect"`
}

type apiEndpoint struct {
	AdvertiseAddress string `yaml:"advertiseAddress"`
	BindPort         int    `yaml:"bindPort"`
}

type clusterConfiguration struct {
	typeMeta             `yaml:",inline"`
	KubernetesVersion    string          `yaml:"kubernetesVersion"`
	ClusterName          string          `yaml:"clusterName"`
	ControlPlaneEndpoint string          `yaml:"controlPlaneEndpoint"`
	ImageRepository      string          `yaml:"imageRepository"`
	Networking           networking      `yaml:"networking"`
	APIServer            apiServerConfig `yaml:"apiServer,omitempty"`
	Etcd                 etcdConfig      `yaml:"etcd"`
	DNS                  *dnsConfig      `yaml:"dns,omitempty"`
}

type networking struct {
	PodSubnet     string `yaml:"podSubnet,omitempty"`
	ServiceSubnet string `yaml:"serviceSubnet,omitempty"`
}

type apiServerConfig struct {
	CertSANs []string `yaml:"certSANs,omitempty"`
}

type etcdConfig struct {
	Local localEtcd `yaml:"local"`
}

type localEtcd struct {
	DataDir   string    `yaml:"dataDir"`
	ExtraArgs extraArgs `yaml:"extraArgs"`
}

type dnsConfig struct {
	ImageRepository string `yaml:"imageRepository"`
}

// kubeletConfiguration is kubelet.config.k8s.io/v1beta1, the same for every
// Kubernetes version meshready bootstraps.
type kubeletConfiguration struct {
	typeMeta     `yaml:",inline"`
	CgroupDriver string `yaml:"cgroupDriver"`
	// FailSwapOn is written out true: meshready turns swap off, and a kubelet
	// that finds it on again should stop rather than run with skewed memory.
	FailSwapOn                  bool              `yaml:"failSwapOn"`
	EvictionHard                map[string]string `yaml:"evictionHard,omitempty"`
	ImageGCHighThresholdPercent *int32            `yaml:"imageGCHighThresholdPercent,omitempty"`
	FailCgroupV1                *bool             `yaml:"failCgroupV1,omitempty"`
}

type joinConfiguration struct {
	typeMeta         `yaml:",inline"`
	NodeRegistration nodeRegistration  `yaml:"nodeRegistration"`
	Discovery        discovery         `yaml:"discovery"`
	ControlPlane     *joinControlPlane `yaml:"controlPlane,omitempty"`
}

type discovery struct {
	BootstrapToken bootstrapTokenDiscovery `yaml:"bootstrapToken"`
}

type bootstrapTokenDiscovery struct {
	APIServerEndpoint string   `yaml:"apiServerEndpoint"`
	Token             string   `yaml:"token"`
	CACertHashes      []string `yaml:"caCertHashes"`
}

type joinControlPlane struct {
	LocalAPIEndpoint apiEndpoint `yaml:"localAPIEndpoint"`
	CertificateKey   string      `yaml:"certificateKey"`
}

// extraArgs is a component's extra flags on the wire. v1beta2 and v1beta3 take
// a map of flag to value; v1beta4 takes a list of {name, value}, so that a flag
// may repeat. One type renders both, so the documents differ only there.
type extraArgs struct {
	args   []Arg
	asList bool
}

// IsZero lets omitempty drop an empty set of flags.
func (e extraArgs) IsZero() bool { return len(e.args) == 0 }

// MarshalYAML writes the list or the map (yaml.v3 sorts map keys).
func (e extraArgs) MarshalYAML() (any, error) {
	if e.asList {
		return e.args, nil
	}
	m := make(map[string]string, len(e.args))
	for _, a := range e.args {
		if _, dup := m[a.Name]; dup {
			return nil, fmt.Errorf("flag %s given twice: before v1beta4 kubeadm takes one value per flag", a.Name)
		}
		m[a.Name] = a.Value
	}
	return m, nil
}

// encodeDocs writes documents as one multi-document YAML stream, indented as
// kubeadm's own examples are.
func encodeDocs(docs ...any) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// kubeProxyConfiguration is kubeproxy.config.k8s.io/v1alpha1, written only to
// skip the conntrack sysctls on container nodes (zero values mean "leave as is").
type kubeProxyConfiguration struct {
	typeMeta  `yaml:",inline"`
	Conntrack conntrackConfig `yaml:"conntrack"`
}

type conntrackConfig struct {
	MaxPerCore            *int32 `yaml:"maxPerCore"`
	TCPEstablishedTimeout string `yaml:"tcpEstablishedTimeout"`
	TCPCloseWaitTimeout   string `yaml:"tcpCloseWaitTimeout"`
}
