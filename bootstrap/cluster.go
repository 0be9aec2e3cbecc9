package bootstrap

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/kube"
	"github.com/meshready/meshready/remote"
)

// Node is a node to bootstrap, control planes first.
type Node = remote.Node

// Source says where Kubernetes comes from: the air-gapped bundle mounted on
// every node (local stack), or the Kubernetes package repository (Bundle "").
type Source struct {
	Bundle string
	Images []BundleImage
}

// Plan is how every node of one cluster is set up: what Init, Join and
// Network share.
type Plan struct {
	Version config.Version
	// Endpoint is host:port every node reaches the API server at: the first
	// control plane's address, port 6443.
	Endpoint string
	// PublicEndpoint, when the nodes talk over a private network, is the
	// first control plane's public host:port: its certificate is made
	// good for it, and the kubeconfig Init hands back points at it.
	PublicEndpoint           string
	Source                   Source
	PodSubnet, ServiceSubnet string
	Etcd                     EtcdTuning
	// Container nodes (local) share the host's kernel: each kubelet gets its
	// own cgroup root, and checks of the host's kernel are skipped by name.
	Container bool
	// Schedulable control planes: the cluster has no workers (see ClusterParams).
	Schedulable    bool
	Token, CertKey config.Secret
	Log            *slog.Logger
	// NodeReadyTimeout bounds the wait for a node Ready on its new kubelet
	// in an upgrade (0: 3 minutes); Poll is how often an upgrade's waits
	// look again (0: every second).
	NodeReadyTimeout, Poll time.Duration
	// Pods is the pod network Network makes.
	Pods PodNetwork
}

// Result is what a bootstrapped cluster hands back.
type Result struct {
	Kubeconfig config.Secret
	Endpoint   string
	CACertHash string
}

// A cluster's life, in the order the program's resources run it:
//
//  1. Init, once in a cluster's life, on its first control plane;
//  2. Join, for every other node (control planes one at a time, so etcd
//     grows a member at a time, workers together);
//  3. Network, after every join: each node's bridge and routes, all Ready;
//  4. Leave, for a node that goes: drained, out of etcd, reset.
//
// Every step skips what is already done, so a run that was killed half-way
// converges when started again.

// Init prepares the first control plane and runs kubeadm init on it.
func Init(ctx context.Context, p Plan, cp Node) (Result, error) {
	var res Result
	if cp.Role != config.RoleControlPlane {
		return res, fmt.Errorf("kubeadm init: %s is a %s, not a control plane", cp.Name, cp.Role)
	}
	res.Endpoint = p.Endpoint
	if err := p.prepare(ctx, cp); err != nil {
		return res, err
	}
	if err := p.withSecret(ctx, cp, "kubeadm init", func() ([]byte, error) { return RenderInit(p.params(cp)) }, func(path string) (string, error) {
		return InitScript(cp.Name, path, p.ignore())
	}); err != nil {
		return res, err
	}
	hash, err := caCertHash(ctx, cp)
	if err != nil {
		return res, err
	}
	res.CACertHash = hash
	out, err := cp.Runner.Run(ctx, "cat "+kube.AdminKubeconfig)
	if err != nil {
		return res, fmt.Errorf("%s: admin kubeconfig: %w", cp.Name, err)
	}
	kubeconfig := []byte(out.Stdout)
	if p.PublicEndpoint != "" {
		if kubeconfig, err = kube.WithServer(kubeconfig, "https://"+p.PublicEndpoint); err != nil {
			return res, fmt.Errorf("%s: admin kubeconfig: %w", cp.Name, err)
		}
	}
	res.Kubeconfig = config.Secret(kubeconfig)
	return res, nil
}

// Join prepares n and joins it to the cluster whose first control plane is
// cp: a fresh join token first (and, for a control plane, the certificates
// uploaded again: both expire), made on cp from p's secrets.
func Join(ctx context.Context, p Plan, cp, n Node, caCertHash string) error {
	if err := p.prepare(ctx, n); err != nil {
		return err
	}
	certs := n.Role == config.RoleControlPlane
	if err := p.withSecret(ctx, cp, "renew join token for "+n.Name, func() ([]byte, error) { return RenderInit(p.params(cp)) }, func(path string) (string, error) {
		return RenewScript(cp.Name, path, certs)
	}); err != nil {
		return err
	}
	return p.withSecret(ctx, n, "kubeadm join", func() ([]byte, error) {
		return RenderJoin(p.params(n), certs, caCertHash)
	}, func(path string) (string, error) {
		return JoinScript(n.Name, path, p.ignore())
	})
}

// Network gives every node its bridge (with the pod CIDR the controller
// manager allocated to it) and a way to the pods of every node the
// cluster has: flanneld (VXLAN) on each, or a route per node through its
// address; then waits until nodes are all Ready and CoreDNS runs.
// Nodes the cluster has beyond nodes (one on its way out) keep their pods
// reachable until they leave.
func Network(ctx context.Context, p Plan, cp Node, nodes []Node) error {
	if err := p.network(ctx, cp, nodes); err != nil {
		return err
	}
	return p.waitReady(ctx, cp, nodes)
}

func (p Plan) prepare(ctx context.Context, n Node) error {
	if err := p.run(ctx, n, "host prep", func() (string, error) {
		cp := n.Role == config.RoleControlPlane
		return PrepScript(n.Name, p.cgroupRoot(n), p.Etcd.Ionice && cp, cp)
	}); err != nil {
		return err
	}
	if err := p.run(ctx, n, "container runtime", func() (string, error) {
		cfg, err := ContainerdConfig(p.pauseImage(), p.cgroupDriver(), p.Container)
		if err != nil {
			return "", err
		}
		return RuntimeScript(n.Name, p.cgroupDriver(), cfg)
	}); err != nil {
		return err
	}
	return p.run(ctx, n, "kubernetes "+p.Version.Tag(), func() (string, error) {
		if p.Source.Bundle != "" {
			return KubeBundleScript(n.Name, p.Version.Tag(), p.Source.Bundle, p.Source.Images)
		}
		return KubeAptScript(n.Name, p.Version.Tag())
	})
}

// cgroupDriver is systemd on real hosts; container nodes have a cgroup v1
// tree (their subtree of the host's), where only cgroupfs works (seen here:
// the systemd driver cannot place the kubelet's slices).
func (p Plan) cgroupDriver() string {
	if p.Container {
		return "cgroupfs"
	}
	return DefaultCgroupDriver
}

// cgroupRoot is the kubelet's own cgroup root on a container node ("" elsewhere).
func (p Plan) cgroupRoot(n Node) string {
	if p.Container {
		return "/meshready/" + n.Name
	}
	return ""
}

func (p Plan) pauseImage() string {
	for _, im := range p.Source.Images {
		if strings.Contains(im.Ref, "/pause:") {
			return im.Ref
		}
	}
	return "registry.k8s.io/pause:3.10.1"
}

// run renders a step's script and runs it on n, logging progress and wrapping
// errors with the host and step.
func (p Plan) run(ctx context.Context, n Node, step string, script func() (string, error)) error {
	s, err := script()
	if err != nil {
		return fmt.Errorf("%s: %s: %w", n.Name, step, err)
	}
	start := time.Now()
	p.Log.InfoContext(ctx, step, "host", n.Name)
	if _, err := n.Runner.Run(ctx, serialised(StepLock, s)); err != nil {
		return fmt.Errorf("%s: %s: %w", n.Name, step, err)
	}
	p.Log.Debug("step done", "host", n.Name, "step", step, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// StepLock is the node-side lock every bootstrap step holds. A meshready that
// was killed (a CI job cancelled, a laptop closed) can leave its step running
// on the node; the next run's step waits for it to end instead of racing it
// (a second kubeadm init beside the first), then finds its work done or
// half-done and converges from there.
const StepLock = "/run/meshready-step.lock"

// serialised makes script wait for the lock file (at most 15 minutes, longer
// than any step) after its first line, the one errors quote.
func serialised(lock, script string) string {
	first, rest, _ := strings.Cut(script, "\n")
	return first + "\n" + `exec 9>` + lock + `
if ! flock -n 9; then
  echo "waiting for an earlier meshready step on this node to end" >&2
  flock -w 900 9 || { echo "an earlier meshready step still runs on this node after 15 minutes" >&2; exit 1; }
fi
` + rest
}

func (p Plan) params(n Node) ClusterParams {
	cp := ClusterParams{
		KubernetesVersion: p.Version, ControlPlaneEndpoint: p.Endpoint,
		AdvertiseAddress: n.Address, NodeName: n.Name, PodSubnet: p.PodSubnet, ServiceSubnet: p.ServiceSubnet,
		Etcd: p.Etcd, CgroupDriver: p.cgroupDriver(), BootstrapToken: p.Token, CertificateKey: p.CertKey,
		IgnorePreflightErrors: p.ignore(), KubeletCgroupRoot: p.cgroupRoot(n), SkipConntrackSysctls: p.Container, SharedHostDisk: p.Container, CgroupV1: p.Container,
		Schedulable: n.Role == config.RoleControlPlane && p.Schedulable,
	}
	if p.Source.Bundle != "" {
		cp.ImagePullPolicy = "Never" // air-gapped: fail rather than reach out
	}
	if host, _, err := net.SplitHostPort(p.PublicEndpoint); err == nil {
		cp.CertSANs = []string{host}
	}
	return cp
}

// ignore names the preflight checks a container node cannot pass: its kernel
// config is the host's, and br_netfilter may be the host's to load.
func (p Plan) ignore() []string {
	if !p.Container {
		return nil
	}
	return []string{"SystemVerification", "FileContent--proc-sys-net-bridge-bridge-nf-call-iptables"}
}

// caCertHash is kubeadm's discovery hash: sha256 of the CA's public key info.
func caCertHash(ctx context.Context, cp Node) (string, error) {
	out, err := cp.Runner.Run(ctx, "cat /etc/kubernetes/pki/ca.crt")
	if err != nil {
		return "", fmt.Errorf("%s: CA certificate: %w", cp.Name, err)
	}
	block, _ := pem.Decode(out.Stdout)
	if block == nil {
		return "", fmt.Errorf("%s: CA certificate is not PEM", cp.Name)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("%s: CA certificate: %w", cp.Name, err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// nodeList is what meshready reads of `kubectl get nodes -o json`.
type nodeList struct {
	Items []nodeItem `json:"items"`
}

// internalIP is the node's InternalIP, the address its kubelet registered.
func (it nodeItem) internalIP() string {
	for _, a := range it.Status.Addresses {
		if a.Type == "InternalIP" {
			return a.Address
		}
	}
	return ""
}

func getNodes(ctx context.Context, cp Node) (nodeList, error) {
	var l nodeList
	out, err := cp.Runner.Run(ctx, kube.Command("get", "nodes", "-o", "json"))
	if err != nil {
		return l, err
	}
	return l, json.Unmarshal(out.Stdout, &l)
}

// network waits until every node of nodes registered with a pod CIDR, then
// gives each its bridge and a route to every other registered node's pods,
// through that node's InternalIP.
func (p Plan) network(ctx context.Context, cp Node, nodes []Node) error {
	var l nodeList
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var err error
		l, err = getNodes(ctx, cp)
		missing := []string{}
		for _, n := range nodes {
			if it, ok := l.find(n.Name); !ok || it.Spec.PodCIDR == "" {
				missing = append(missing, n.Name)
			}
		}
		if err == nil && len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: nodes %v did not register with a pod CIDR: %v", cp.Name, missing, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	if p.Pods.Flannel() {
		bin := &flanneldBinary{path: p.Pods.FlanneldPath, sha256: p.Pods.FlanneldSHA256}
		token, err := p.flannelToken(ctx, cp)
		if err != nil {
			return err
		}
		return remote.Parallel(ctx, nodes, len(nodes), func(ctx context.Context, n Node) error {
			self, _ := l.find(n.Name)
			var others []string
			for _, o := range l.Items {
				if o.Metadata.Name != n.Name && o.Spec.PodCIDR != "" {
					others = append(others, o.Spec.PodCIDR)
				}
			}
			b, err := p.flannel(ctx, n, bin, token, self.Spec.PodCIDR, others)
			if err != nil {
				return err
			}
			return p.run(ctx, n, "pod network", func() (string, error) { return CNIScript(n.Name, b, true, nil) })
		})
	}
	return remote.Parallel(ctx, nodes, len(nodes), func(ctx context.Context, n Node) error {
		self, _ := l.find(n.Name)
		var routes []Route
		for _, o := range l.Items {
			if addr := o.internalIP(); o.Metadata.Name != n.Name && o.Spec.PodCIDR != "" && addr != "" {
				routes = append(routes, Route{CIDR: o.Spec.PodCIDR, Via: addr})
			}
		}
		b := Bridge{PodCIDR: self.Spec.PodCIDR, IPMasq: true}
		return p.run(ctx, n, "pod network", func() (string, error) { return CNIScript(n.Name, b, false, routes) })
	})
}

type nodeItem struct {
	Metadata struct{ Name string } `json:"metadata"`
	Spec     struct {
		PodCIDR       string `json:"podCIDR"`
		Unschedulable bool   `json:"unschedulable"`
	} `json:"spec"`
	Status struct {
		Conditions []struct{ Type, Status string }  `json:"conditions"`
		Addresses  []struct{ Type, Address string } `json:"addresses"`
	} `json:"status"`
}

func (l nodeList) find(name string) (nodeItem, bool) {
	for _, it := range l.Items {
		if it.Metadata.Name == name {
			return it, true
		}
	}
	return nodeItem{}, false
}

// waitReady polls until every node of nodes is Ready and a CoreDNS pod runs.
func (p Plan) waitReady(ctx context.Context, cp Node, nodes []Node) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		l, err := getNodes(ctx, cp)
		notReady := []string{}
		for _, n := range nodes {
			it, ok := l.find(n.Name)
			ready := false
			for _, c := range it.Status.Conditions {
				ready = ready || (c.Type == "Ready" && c.Status == "True")
			}
			if !ok || !ready {
				notReady = append(notReady, n.Name)
			}
		}
		if err == nil && len(notReady) == 0 {
			out, err := cp.Runner.Run(ctx, kube.Command("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "--field-selector=status.phase=Running", "-o", "name"))
			if err == nil && len(strings.TrimSpace(string(out.Stdout))) > 0 {
				p.Log.InfoContext(ctx, "cluster ready", "nodes", len(nodes))
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not ready after 5 minutes: not ready or not registered %v, or CoreDNS not running: %v", notReady, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
}
