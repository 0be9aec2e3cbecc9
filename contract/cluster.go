package contract

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Cluster is a stack's Kubernetes cluster, bootstrapped with kubeadm over
// SSH: its Create runs the whole bootstrap (each step skips what is done,
// so a killed up converges), its Delete resets nodes that outlive the
// stack. etcd is tuned from the benchmarks' figures when they exist; new
// figures alone never rebuild a working cluster.
func Cluster() Def[ClusterInputs, ClusterOutputs] {
	return Def[ClusterInputs, ClusterOutputs]{
		Token: "meshready:bootstrap:Cluster",
		Diff: Policy{
			Replace:             []string{"stack", "provider", "version", "nodes", "podSubnet", "serviceSubnet", "etcd"},
			Ignore:              ignoreAccess("peerRttP99Ms", "fdatasyncP99Ms", "bundle"),
			DeleteBeforeReplace: true,
		},
		SecretInputs:  []string{"sshPrivateKey"},
		SecretOutputs: []string{"kubeconfig"},
	}
}

// ClusterInputs are a cluster's inputs.
type ClusterInputs struct {
	Stack    string    `json:"stack"`
	Provider string    `json:"provider"`
	Version  string    `json:"version"`
	Nodes    []NodeRef `json:"nodes"`
	Access
	PodSubnet     string `json:"podSubnet"`
	ServiceSubnet string `json:"serviceSubnet"`
	// Etcd is the meshready:etcd config (each knob auto or a value), as JSON.
	Etcd string `json:"etcd"`
	// PeerRTTP99Ms and FdatasyncP99Ms come from the benchmarks (0 when not measured).
	PeerRTTP99Ms   float64 `json:"peerRttP99Ms"`
	FdatasyncP99Ms float64 `json:"fdatasyncP99Ms"`
	// Bundle is where local nodes find Kubernetes (the air-gapped bundle, as
	// the nodes see it); nil on real nodes, which use the package repository.
	// Derived from the pinned version, so never a reason to change anything.
	Bundle *Bundle `json:"bundle,omitempty"`
}

// Bundle is an air-gapped Kubernetes as the nodes see it: its folder and
// the images to import.
type Bundle struct {
	Dir    string  `json:"dir"`
	Images []Image `json:"images"`
}

// ClusterArgs are ClusterInputs as the program gives them.
type ClusterArgs struct {
	Stack, Provider, Version string
	Nodes                    NodeRefsInput
	Access                   AccessArgs
	PodSubnet, ServiceSubnet string
	Etcd                     string
	PeerRTTP99Ms             pulumi.Float64Input
	FdatasyncP99Ms           pulumi.Float64Input
	Bundle                   *Bundle
}

// ClusterOutputs are the cluster's inputs and how to reach it.
type ClusterOutputs struct {
	ClusterInputs
	Kubeconfig string `json:"kubeconfig"`
	Endpoint   string `json:"endpoint"`
	CACertHash string `json:"caCertHash"`
	// EtcdArgs are the flags etcd was given, each with why.
	EtcdArgs []EtcdArg `json:"etcdArgs"`
	// Ionice says why etcd got ionice -c2 -n0 ("" = it did not).
	Ionice string `json:"ionice,omitempty"`
}

// EtcdArg is one etcd flag and why it has its value.
type EtcdArg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Why   string `json:"why"`
}

// ClusterResource is a registered cluster.
type ClusterResource struct {
	pulumi.CustomResourceState

	Kubeconfig pulumi.StringOutput `pulumi:"kubeconfig"`
	Endpoint   pulumi.StringOutput `pulumi:"endpoint"`
	EtcdArgs   pulumi.ArrayOutput  `pulumi:"etcdArgs"`
	Ionice     pulumi.StringOutput `pulumi:"ionice"`
}
