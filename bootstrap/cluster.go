package bootstrap

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
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

// Plan is everything Bootstrap needs.
type Plan struct {
	Version                  config.Version
	Nodes                    []Node
	Source                   Source
	PodSubnet, ServiceSubnet string
	Etcd                     EtcdTuning
	// Container nodes (local) share the host's kernel: each kubelet gets its
	// own cgroup root, and checks of the host's kernel are skipped by name.
	Container      bool
	Token, CertKey config.Secret
	Log            *slog.Logger
}

// Result is what a bootstrapped cluster hands back.
type Result struct {
	Kubeconfig config.Secret
	Endpoint   string
	CACertHash string
}

// Bootstrap turns bare nodes into a Ready cluster, top to bottom. Every step
// skips what is already done, so a run that was killed half-way converges
// when started again.
func Bootstrap(ctx context.Context, p Plan) (Result, error) {
	var res Result
	if len(p.Nodes) == 0 || p.Nodes[0].Role != config.RoleControlPlane {
		return res, errors.New("bootstrap: the first node must be a control plane")
	}
	cp := p.Nodes[0]
	res.Endpoint = cp.Address + ":6443"
	log := p.Log

	// 1. Every node in parallel: host prep, container runtime, kubeadm/kubelet/kubectl.
	if err := remote.Parallel(ctx, p.Nodes, len(p.Nodes), func(ctx context.Context, n Node) error {
		return p.prepare(ctx, n)
	}); err != nil {
		return res, err
	}
	// 2. kubeadm init on the first control plane.
	log.Info("kubeadm init", "host", cp.Name)
	if err := p.withSecret(ctx, cp, "init", func() ([]byte, error) { return RenderInit(p.params(cp)) }, func(path string) (string, error) {
		return InitScript(cp.Name, path, p.ignore())
	}); err != nil {
		return res, err
	}
	hash, err := caCertHash(ctx, cp)
	if err != nil {
		return res, err
	}
	res.CACertHash = hash
	// 3. Joins: fresh token and re-uploaded certificates first (both expire), then
	// control planes one by one (etcd grows a member at a time), workers together.
	if len(p.Nodes) > 1 {
		if err := p.withSecret(ctx, cp, "renew join token and certificates", func() ([]byte, error) { return RenderInit(p.params(cp)) }, func(path string) (string, error) {
			return RenewScript(cp.Name, path)
		}); err != nil {
			return res, err
		}
	}
	var workers []Node
	for _, n := range p.Nodes[1:] {
		if n.Role != config.RoleControlPlane {
			workers = append(workers, n)
			continue
		}
		if err := p.join(ctx, n, hash); err != nil {
			return res, err
		}
	}
	if err := remote.Parallel(ctx, workers, len(workers), func(ctx context.Context, n Node) error {
		return p.join(ctx, n, hash)
	}); err != nil {
		return res, err
	}
	// 4. The pod network: each node's bridge, routes to the others' pods.
	if err := p.network(ctx, cp); err != nil {
		return res, err
	}
	// 5. Wait until every node is Ready and CoreDNS runs.
	if err := p.waitReady(ctx, cp); err != nil {
		return res, err
	}
	// 6. The admin kubeconfig, for the stack's secret output.
	out, err := cp.Runner.Run(ctx, "cat "+kube.AdminKubeconfig)
	if err != nil {
		return res, fmt.Errorf("%s: admin kubeconfig: %w", cp.Name, err)
	}
	res.Kubeconfig = config.Secret(out.Stdout)
	return res, nil
}

func (p Plan) prepare(ctx context.Context, n Node) error {
	if err := p.run(ctx, n, "host prep", func() (string, error) {
		return PrepScript(n.Name, p.cgroupRoot(n), p.Etcd.Ionice && n.Role == config.RoleControlPlane)
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

// cgroupDriver is systemd on real hosts; container nodes share the host's
// cgroup v1 tree, where only cgroupfs works (seen here: the systemd driver
// cannot place the kubelet's slices).
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
	p.Log.Info("step", "host", n.Name, "step", step)
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
		KubernetesVersion: p.Version, ControlPlaneEndpoint: p.Nodes[0].Address + ":6443",
		AdvertiseAddress: n.Address, NodeName: n.Name, PodSubnet: p.PodSubnet, ServiceSubnet: p.ServiceSubnet,
		Etcd: p.Etcd, CgroupDriver: p.cgroupDriver(), BootstrapToken: p.Token, CertificateKey: p.CertKey,
		IgnorePreflightErrors: p.ignore(), KubeletCgroupRoot: p.cgroupRoot(n), SkipConntrackSysctls: p.Container, SharedHostDisk: p.Container,
		Schedulable: n.Role == config.RoleControlPlane && !p.hasWorkers(),
	}
	if p.Source.Bundle != "" {
		cp.ImagePullPolicy = "Never" // air-gapped: fail rather than reach out
	}
	return cp
}

func (p Plan) hasWorkers() bool {
	for _, n := range p.Nodes {
		if n.Role != config.RoleControlPlane {
			return true
		}
	}
	return false
}

// ignore names the preflight checks a container node cannot pass: its kernel
// config is the host's, and br_netfilter may be the host's to load.
func (p Plan) ignore() []string {
	if !p.Container {
		return nil
	}
	return []string{"SystemVerification", "FileContent--proc-sys-net-bridge-bridge-nf-call-iptables"}
}

func (p Plan) join(ctx context.Context, n Node, hash string) error {
	return p.withSecret(ctx, n, "kubeadm join", func() ([]byte, error) {
		return RenderJoin(p.params(n), n.Role == config.RoleControlPlane, hash)
	}, func(path string) (string, error) {
		return JoinScript(n.Name, path, p.ignore())
	})
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
	Items []struct {
		Metadata struct{ Name string } `json:"metadata"`
		Spec     struct {
			PodCIDR string `json:"podCIDR"`
		} `json:"spec"`
		Status struct {
			Conditions []struct{ Type, Status string }  `json:"conditions"`
			Addresses  []struct{ Type, Address string } `json:"addresses"`
		} `json:"status"`
	} `json:"items"`
}

func getNodes(ctx context.Context, cp Node) (nodeList, error) {
	var l nodeList
	out, err := cp.Runner.Run(ctx, kube.Command("get", "nodes", "-o", "json"))
	if err != nil {
		return l, err
	}
	return l, json.Unmarshal(out.Stdout, &l)
}

// network gives every node its bridge (with the pod CIDR the controller
// manager allocated to it) and a route to every other node's pods.
func (p Plan) network(ctx context.Context, cp Node) error {
	var l nodeList
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var err error
		l, err = getNodes(ctx, cp)
		ok := err == nil && len(l.Items) == len(p.Nodes)
		for _, it := range l.Items {
			ok = ok && it.Spec.PodCIDR != ""
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: nodes did not all register with a pod CIDR (%d of %d): %v", cp.Name, len(l.Items), len(p.Nodes), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	cidr := map[string]string{}
	for _, it := range l.Items {
		cidr[it.Metadata.Name] = it.Spec.PodCIDR
	}
	return remote.Parallel(ctx, p.Nodes, len(p.Nodes), func(ctx context.Context, n Node) error {
		var routes []Route
		for _, o := range p.Nodes {
			if o.Name != n.Name {
				routes = append(routes, Route{CIDR: cidr[o.Name], Via: o.Address})
			}
		}
		return p.run(ctx, n, "pod network", func() (string, error) { return CNIScript(n.Name, cidr[n.Name], routes) })
	})
}

// waitReady polls until every node is Ready and a CoreDNS pod runs.
func (p Plan) waitReady(ctx context.Context, cp Node) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		l, err := getNodes(ctx, cp)
		notReady := []string{}
		for _, it := range l.Items {
			ready := false
			for _, c := range it.Status.Conditions {
				ready = ready || (c.Type == "Ready" && c.Status == "True")
			}
			if !ready {
				notReady = append(notReady, it.Metadata.Name)
			}
		}
		if err == nil && len(l.Items) == len(p.Nodes) && len(notReady) == 0 {
			out, err := cp.Runner.Run(ctx, kube.Command("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "--field-selector=status.phase=Running", "-o", "name"))
			if err == nil && len(strings.TrimSpace(string(out.Stdout))) > 0 {
				p.Log.Info("cluster ready", "nodes", len(l.Items))
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not ready after 5 minutes: not ready %v (%d of %d nodes registered), or CoreDNS not running: %v", notReady, len(l.Items), len(p.Nodes), err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
}
