package contract

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumix"

	"github.com/meshready/meshready/report"
)

// A cluster is three kinds of resource, so that a change to a running
// cluster changes only what it names:
//
//   - Cluster: the cluster's identity, kubeadm init on its first control
//     plane, once in the cluster's life, and etcd's tuning;
//   - Member: every other node's membership: created, it joins; deleted,
//     it drains and leaves (etcd member included); updated, its etcd
//     takes the cluster's new flags;
//   - PodNetwork: every node's bridge and routes, and all of them Ready.

// Cluster is a stack's Kubernetes cluster: kubeadm init on its first
// control plane, over SSH (each step skips what is done, so a killed up
// converges), and etcd tuned from the benchmarks' figures when they exist.
// Changing etcd's settings or its member count retunes etcd in place;
// the first control plane never changes (a new one would be a new
// cluster), nor, here, the version or the subnets: those are refused.
func Cluster() Def[ClusterInputs, ClusterOutputs] {
	return Def[ClusterInputs, ClusterOutputs]{
		Token: "meshready:bootstrap:Cluster",
		Diff: Policy{
			Replace:             []string{"stack", "provider"},
			Update:              []string{"controlPlane", "etcd", "controlPlanes", "version", "podSubnet", "serviceSubnet"},
			Ignore:              ignoreAccess("nodes", "peerRttP99Ms", "fdatasyncP99Ms", "bundle", "schedulable", "snapshotsKeep", "drainTimeout"),
			DeleteBeforeReplace: true,
		},
		SecretInputs:  []string{"sshPrivateKey"},
		SecretOutputs: []string{"kubeconfig"},
	}
}

// ClusterInputs are a cluster's inputs.
type ClusterInputs struct {
	Stack    string `json:"stack"`
	Provider string `json:"provider"`
	Version  string `json:"version"`
	// ControlPlane is the first control plane: where kubeadm init runs and
	// the API endpoint every node reaches.
	ControlPlane NodeRef `json:"controlPlane"`
	// Nodes are all the cluster's nodes: when the cluster is deleted, those
	// that outlive it (static servers) are reset. Members are deleted with
	// the cluster, not one by one: there is nothing left to drain them to.
	Nodes []NodeRef `json:"nodes"`
	Access
	PodSubnet     string `json:"podSubnet"`
	ServiceSubnet string `json:"serviceSubnet"`
	// Etcd is the meshready:etcd config (each knob auto or a value), as JSON.
	Etcd string `json:"etcd"`
	// ControlPlanes is how many etcd members the tuning is for.
	ControlPlanes int `json:"controlPlanes"`
	// Schedulable: the cluster has no workers, so control planes take pods.
	Schedulable bool `json:"schedulable"`
	// SnapshotsKeep is how many automatic etcd snapshots the first control
	// plane keeps (0 takes none); one is taken before each retune and upgrade.
	SnapshotsKeep int `json:"snapshotsKeep"`
	// PeerRTTP99Ms and FdatasyncP99Ms come from the benchmarks (0 when not measured).
	PeerRTTP99Ms   float64 `json:"peerRttP99Ms"`
	FdatasyncP99Ms float64 `json:"fdatasyncP99Ms"`
	// DrainTimeout bounds each node's drain in an upgrade (a Go duration).
	DrainTimeout string `json:"drainTimeout,omitempty"`
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
	ControlPlane             pulumix.Input[NodeRef]
	Nodes                    NodeRefsInput
	Access                   AccessArgs
	PodSubnet, ServiceSubnet string
	Etcd                     string
	ControlPlanes            int
	Schedulable              bool
	SnapshotsKeep            int
	PeerRTTP99Ms             pulumi.Float64Input
	FdatasyncP99Ms           pulumi.Float64Input
	DrainTimeout             string
	Bundle                   *Bundle
}

// ClusterOutputs are the cluster's inputs and how to reach it.
type ClusterOutputs struct {
	ClusterInputs
	Kubeconfig string `json:"kubeconfig"`
	Endpoint   string `json:"endpoint"`
	CACertHash string `json:"caCertHash"`
	// EtcdArgs are the flags etcd runs with on the first control plane,
	// read back from its manifest, each with why.
	EtcdArgs []EtcdArg `json:"etcdArgs"`
	// Ionice says why etcd got ionice -c2 -n0 ("" = it did not).
	Ionice string `json:"ionice,omitempty"`
	// Upgrade is the last Kubernetes upgrade, kept until the next one.
	Upgrade *report.Upgrade `json:"upgrade,omitempty"`
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
	CACertHash pulumi.StringOutput `pulumi:"caCertHash"`
	EtcdArgs   pulumi.ArrayOutput  `pulumi:"etcdArgs"`
	Ionice     pulumi.StringOutput `pulumi:"ionice"`
	Upgrade    pulumi.AnyOutput    `pulumi:"upgrade"`
}

// Member is one node's membership of a cluster, for every node but the
// first control plane. Created, the node is prepared and joins (a control
// plane one at a time: the program chains them); deleted, it is cordoned,
// drained, taken out of etcd, its Node deleted and kubeadm reset on it. A
// new server behind the name (a replaced node) is a new member, the old
// one gone first. A control plane's member takes the cluster's etcd flags
// in place, after the cluster's own.
func Member() Def[MemberInputs, MemberOutputs] {
	return Def[MemberInputs, MemberOutputs]{
		Token: "meshready:bootstrap:Member",
		Diff: Policy{
			Replace: []string{"stack", "provider", "node"},
			Update:  []string{"etcdFlags"},
			Ignore: ignoreAccess("version", "controlPlane", "endpoint", "caCertHash", "podSubnet", "serviceSubnet",
				"etcd", "controlPlanes", "schedulable", "snapshotsKeep", "peerRttP99Ms", "fdatasyncP99Ms", "drainTimeout", "bundle"),
			DeleteBeforeReplace: true,
		},
		SecretInputs: []string{"sshPrivateKey"},
	}
}

// MemberInputs are a membership's inputs: the node, and the cluster's
// settings it joins with (those of ClusterInputs it needs).
type MemberInputs struct {
	Stack        string  `json:"stack"`
	Provider     string  `json:"provider"`
	Version      string  `json:"version"`
	Node         NodeRef `json:"node"`
	ControlPlane NodeRef `json:"controlPlane"`
	Access
	Endpoint      string `json:"endpoint"`
	CACertHash    string `json:"caCertHash"`
	PodSubnet     string `json:"podSubnet"`
	ServiceSubnet string `json:"serviceSubnet"`
	Etcd          string `json:"etcd"`
	ControlPlanes int    `json:"controlPlanes"`
	Schedulable   bool   `json:"schedulable"`
	// SnapshotsKeep: an etcd snapshot is taken before the node joins and
	// before it leaves, and the first control plane keeps this many.
	SnapshotsKeep  int     `json:"snapshotsKeep"`
	PeerRTTP99Ms   float64 `json:"peerRttP99Ms"`
	FdatasyncP99Ms float64 `json:"fdatasyncP99Ms"`
	// EtcdFlags are the cluster's etcd flags by name (from its output), for
	// a control plane, whose etcd takes them when they change; none for a worker.
	EtcdFlags map[string]string `json:"etcdFlags,omitempty"`
	// DrainTimeout bounds the drain when the node leaves (a Go duration).
	DrainTimeout string  `json:"drainTimeout"`
	Bundle       *Bundle `json:"bundle,omitempty"`
}

// MemberArgs are MemberInputs as the program gives them.
type MemberArgs struct {
	Stack, Provider, Version string
	Node                     pulumix.Input[NodeRef]
	ControlPlane             pulumix.Input[NodeRef]
	Access                   AccessArgs
	Endpoint, CACertHash     pulumi.StringInput
	PodSubnet, ServiceSubnet string
	Etcd                     string
	ControlPlanes            int
	Schedulable              bool
	SnapshotsKeep            int
	PeerRTTP99Ms             pulumi.Float64Input
	FdatasyncP99Ms           pulumi.Float64Input
	EtcdFlags                pulumi.StringMapInput
	DrainTimeout             string
	Bundle                   *Bundle
}

// MemberOutputs are the membership's inputs and the etcd flags the node
// runs with (read back from its manifest; none on a worker).
type MemberOutputs struct {
	MemberInputs
	EtcdRunning map[string]string `json:"etcdRunning,omitempty"`
}

// MemberResource is a registered membership.
type MemberResource struct {
	pulumi.CustomResourceState
}

// PodNetwork is the pod network of a cluster's nodes: each node's bridge
// and its way to every node's pods (flannel's VXLAN overlay, or host
// routes), then every node Ready and CoreDNS
// running, and the automatic etcd snapshots listed. It runs again whenever
// the nodes or etcd's flags change, touching no pod.
func PodNetwork() Def[PodNetworkInputs, PodNetworkOutputs] {
	return Def[PodNetworkInputs, PodNetworkOutputs]{
		Token: "meshready:bootstrap:PodNetwork",
		Diff: Policy{
			Replace: []string{"stack"},
			Update:  []string{"nodes", "etcdFlags", "cni", "podSubnet", "flanneldSha256"},
			Ignore:  ignoreAccess("flanneldPath"),
		},
		SecretInputs: []string{"sshPrivateKey"},
	}
}

// PodNetworkInputs are the nodes, the first control plane first.
type PodNetworkInputs struct {
	Stack string    `json:"stack"`
	Nodes []NodeRef `json:"nodes"`
	Access
	// EtcdFlags are the cluster's etcd flags: after a retune the snapshots
	// are listed again.
	EtcdFlags map[string]string `json:"etcdFlags,omitempty"`
	// CNI is how pods reach other nodes' pods: "flannel" (a VXLAN overlay,
	// flanneld on every node) or "host-routes" (a route per node through
	// its address: nodes on one L2 segment only). Empty is host-routes, what
	// clusters made before flannel have.
	CNI string `json:"cni,omitempty"`
	// PodSubnet is the cluster's pod network (flannel's Network).
	PodSubnet string `json:"podSubnet,omitempty"`
	// FlanneldPath is flanneld on the machine running the plugin, uploaded
	// to nodes that do not have FlanneldSHA256 (a new one updates them).
	FlanneldPath   string `json:"flanneldPath,omitempty"`
	FlanneldSHA256 string `json:"flanneldSha256,omitempty"`
}

// PodNetworkArgs are PodNetworkInputs as the program gives them.
type PodNetworkArgs struct {
	Stack                        string
	Nodes                        NodeRefsInput
	Access                       AccessArgs
	EtcdFlags                    pulumi.StringMapInput
	CNI, PodSubnet               string
	FlanneldPath, FlanneldSHA256 string
}

// PodNetworkOutputs are the inputs, the automatic etcd snapshots on the
// first control plane as the run left them (newest first), and what the
// pod network costs.
type PodNetworkOutputs struct {
	PodNetworkInputs
	EtcdSnapshots []string `json:"etcdSnapshots"`
	// Measured is the RTT between nodes over their addresses and over the
	// pod network, as the run measured it once the network was up.
	Measured *report.PodNetwork `json:"measured,omitempty"`
}

// PodNetworkResource is a registered pod network.
type PodNetworkResource struct {
	pulumi.CustomResourceState

	EtcdSnapshots pulumi.StringArrayOutput `pulumi:"etcdSnapshots"`
	Measured      pulumi.AnyOutput         `pulumi:"measured"`
}
