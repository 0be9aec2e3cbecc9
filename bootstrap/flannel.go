package bootstrap

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/meshready/meshready/config"
)

// PodNetwork is how pods reach other nodes' pods.
type PodNetwork struct {
	// Kind is config.PodNetworkFlannel or config.PodNetworkHostRoutes ("" is
	// host routes: clusters made before flannel).
	Kind string
	// Subnet is the cluster's pod network, flannel's Network.
	Subnet string
	// FlanneldPath is flanneld on this machine, FlanneldSHA256 its hash: a
	// node whose /usr/local/bin/flanneld differs is sent it.
	FlanneldPath, FlanneldSHA256 string
}

// Flannel says whether the pod network is flannel's.
func (p PodNetwork) Flannel() bool { return p.Kind == config.PodNetworkFlannel }

// FlannelNetConf is flannel's net-conf.json: the pod network, VXLAN. Node
// subnets come from the Nodes' spec.podCIDR (the controller manager
// allocates them; flannel's kube subnet manager reads them).
func FlannelNetConf(subnet string) (string, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return "", fmt.Errorf("flannel: pod subnet %q is not an IPv4 network", subnet)
	}
	b, err := json.MarshalIndent(map[string]any{
		"Network":    p.String(),
		"EnableIPv4": true,
		"Backend":    map[string]any{"Type": "vxlan"},
	}, "", "  ")
	return string(b), err
}

// flannelRBAC is flannel's service account, its ClusterRole (as
// kube-flannel.yml grants it: read Nodes, patch their status; read pods),
// the binding, and a long-lived token for flanneld on the hosts: a token
// request's token would expire under a cluster that lives for years.
const flannelRBAC = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: meshready-flannel, namespace: kube-system}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: meshready-flannel}
  rules:
  - {apiGroups: [""], resources: [nodes], verbs: [get, list, watch]}
  - {apiGroups: [""], resources: [nodes/status], verbs: [patch]}
  - {apiGroups: [""], resources: [pods], verbs: [get]}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRoleBinding
  metadata: {name: meshready-flannel}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: meshready-flannel}
  subjects:
  - {kind: ServiceAccount, name: meshready-flannel, namespace: kube-system}
- apiVersion: v1
  kind: Secret
  type: kubernetes.io/service-account-token
  metadata:
    name: meshready-flannel-token
    namespace: kube-system
    annotations: {kubernetes.io/service-account.name: meshready-flannel}`

// FlannelAccessScript makes flannel's service account on the control
// plane node and prints its token (FlannelToken checks it).
func FlannelAccessScript(node string) (string, error) {
	return render("flannel-access.sh.tmpl", struct{ Node, Manifest string }{node, flannelRBAC})
}

// jwt is what a service account token looks like: three base64url parts.
var jwt = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// FlannelToken is the token FlannelAccessScript printed.
func FlannelToken(out string) (string, error) {
	tok := strings.TrimSpace(out)
	if !jwt.MatchString(tok) || len(tok) > 8192 {
		return "", fmt.Errorf("flannel: the service account token is not a JWT (%d bytes)", len(tok))
	}
	return tok, nil
}

// nodeName is what a node's name may be where it reaches a script or unit
// (flanneld's NODE_NAME): a DNS label, as Kubernetes names nodes.
var nodeName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// FlannelScript writes flannel's config and unit on node and (re)starts
// flanneld when either or its binary changed, VXLAN over the interface
// with address iface; it prints flanneld's subnet file (ParseSubnetEnv).
// others are the other nodes' pod CIDRs: a route to one of them through a
// gateway (what a host-routes pod network made) would shadow flannel's and
// goes; no other route is touched (the node's own, a cloud's).
func FlannelScript(node, iface, subnet string, others []string) (string, error) {
	if !nodeName.MatchString(node) {
		return "", fmt.Errorf("flannel: node name %q is not a DNS label", node)
	}
	addr, err := netip.ParseAddr(iface)
	if err != nil || !addr.Is4() {
		return "", fmt.Errorf("flannel: %s: address %q is not an IPv4 address", node, iface)
	}
	conf, err := FlannelNetConf(subnet)
	if err != nil {
		return "", err
	}
	stale, err := podCIDRs(others)
	if err != nil {
		return "", fmt.Errorf("flannel: %s: %w", node, err)
	}
	return render("flannel.sh.tmpl", struct {
		Node, Iface, Subnet, NetConf string
		Stale                        []string
	}{node, addr.String(), subnet, conf, stale})
}

// podCIDRs checks pod CIDRs read from the cluster (Node spec.podCIDR,
// which a node's kubelet can write) before they reach a script: IPv4
// prefixes, in their canonical form.
func podCIDRs(cidrs []string) ([]string, error) {
	out := make([]string, 0, len(cidrs))
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil || !p.Addr().Is4() || p != p.Masked() {
			return nil, fmt.Errorf("pod CIDR %q is not an IPv4 prefix", c)
		}
		out = append(out, p.String())
	}
	return out, nil
}

// SubnetEnv is what flanneld wrote to /run/flannel/subnet.env.
type SubnetEnv struct {
	// Network is the pod network, Subnet this node's pod subnet (as its
	// gateway address with the prefix length: 10.244.1.1/24).
	Network, Subnet netip.Prefix
	MTU             int
	IPMasq          bool
}

// ParseSubnetEnv reads flanneld's subnet file (KEY=value lines).
func ParseSubnetEnv(out string) (SubnetEnv, error) {
	var e SubnetEnv
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return e, fmt.Errorf("subnet.env: line %q is not KEY=value", line)
		}
		var err error
		switch k {
		case "FLANNEL_NETWORK":
			e.Network, err = netip.ParsePrefix(v)
		case "FLANNEL_SUBNET":
			e.Subnet, err = netip.ParsePrefix(v)
		case "FLANNEL_MTU":
			e.MTU, err = strconv.Atoi(v)
			if err == nil && (e.MTU < 576 || e.MTU > 65535) {
				err = fmt.Errorf("%d is no MTU", e.MTU)
			}
		case "FLANNEL_IPMASQ":
			e.IPMasq, err = strconv.ParseBool(v)
		default:
			continue // IPv6 keys, and what a newer flannel adds
		}
		if err != nil {
			return e, fmt.Errorf("subnet.env: %s: %w", k, err)
		}
		seen[k] = true
	}
	if err := sc.Err(); err != nil {
		return e, fmt.Errorf("subnet.env: %w", err)
	}
	for _, k := range []string{"FLANNEL_NETWORK", "FLANNEL_SUBNET", "FLANNEL_MTU"} {
		if !seen[k] {
			return e, fmt.Errorf("subnet.env: no %s", k)
		}
	}
	return e, nil
}

// flannelBridge checks what flanneld wrote against the node's pod CIDR
// and the cluster's network, and is the bridge the node's pods get.
func flannelBridge(e SubnetEnv, podCIDR, network string) (Bridge, error) {
	want, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return Bridge{}, fmt.Errorf("pod CIDR %q: %w", podCIDR, err)
	}
	if e.Subnet.Masked() != want.Masked() {
		return Bridge{}, fmt.Errorf("flanneld took subnet %s, but the node's pod CIDR is %s", e.Subnet, podCIDR)
	}
	if net, err := netip.ParsePrefix(network); err != nil || e.Network.Masked() != net.Masked() {
		return Bridge{}, fmt.Errorf("flanneld runs network %s, not the cluster's %s", e.Network, network)
	}
	return Bridge{PodCIDR: podCIDR, MTU: e.MTU, IPMasq: !e.IPMasq}, nil
}

// flanneldBinary reads the flanneld to upload once for all nodes, checked
// against the hash the program gave.
type flanneldBinary struct {
	path, sha256 string
	once         sync.Once
	data         []byte
	err          error
}

func (f *flanneldBinary) load() ([]byte, error) {
	f.once.Do(func() {
		if f.path == "" {
			f.err = errors.New("flannel: no flanneld to upload (the program gave none)")
			return
		}
		f.data, f.err = os.ReadFile(f.path)
		if f.err != nil {
			f.err = fmt.Errorf("flannel: %w", f.err)
			return
		}
		sum := sha256.Sum256(f.data)
		if got := hex.EncodeToString(sum[:]); got != f.sha256 {
			f.err = fmt.Errorf("flannel: %s has sha256 %s, not %s the program was given: rebuilt meanwhile? run up again", f.path, got, f.sha256)
		}
	})
	return f.data, f.err
}

// flannelToken makes flannel's service account on cp and returns its token.
func (p Plan) flannelToken(ctx context.Context, cp Node) (string, error) {
	s, err := FlannelAccessScript(cp.Name)
	if err != nil {
		return "", err
	}
	p.Log.InfoContext(ctx, "flannel service account", "host", cp.Name)
	// The token is a secret: it is read into memory, never logged.
	res, err := cp.Runner.Run(ctx, s)
	if err != nil {
		return "", fmt.Errorf("%s: flannel service account: %w", cp.Name, err)
	}
	tok, err := FlannelToken(string(res.Stdout))
	if err != nil {
		return "", fmt.Errorf("%s: %w", cp.Name, err)
	}
	return tok, nil
}

// flannel gives node n flanneld (uploaded when its copy differs) and its
// token, starts it, and returns n's bridge as flanneld's subnet file says.
func (p Plan) flannel(ctx context.Context, n Node, bin *flanneldBinary, token, podCIDR string, others []string) (Bridge, error) {
	out, err := n.Runner.Run(ctx, "sha256sum /usr/local/bin/flanneld 2>/dev/null | cut -d' ' -f1")
	if err != nil {
		return Bridge{}, fmt.Errorf("%s: flanneld: %w", n.Name, err)
	}
	if strings.TrimSpace(string(out.Stdout)) != bin.sha256 {
		data, err := bin.load()
		if err != nil {
			return Bridge{}, fmt.Errorf("%s: %w", n.Name, err)
		}
		p.Log.InfoContext(ctx, "upload flanneld", "host", n.Name, "bytes", len(data))
		if err := n.Runner.Upload(ctx, "/usr/local/bin/flanneld", data, 0o755); err != nil {
			return Bridge{}, fmt.Errorf("%s: upload flanneld: %w", n.Name, err)
		}
	}
	if err := n.Runner.Upload(ctx, "/etc/meshready/flannel/token.new", []byte(token), 0o600); err != nil {
		return Bridge{}, fmt.Errorf("%s: flannel token: %w", n.Name, err)
	}
	s, err := FlannelScript(n.Name, n.Address, p.Pods.Subnet, others)
	if err != nil {
		return Bridge{}, fmt.Errorf("%s: %w", n.Name, err)
	}
	p.Log.InfoContext(ctx, "flannel", "host", n.Name)
	res, err := n.Runner.Run(ctx, serialised(StepLock, s))
	if err != nil {
		return Bridge{}, fmt.Errorf("%s: flannel: %w", n.Name, err)
	}
	env, err := ParseSubnetEnv(string(res.Stdout))
	if err != nil {
		return Bridge{}, fmt.Errorf("%s: flannel: %w", n.Name, err)
	}
	b, err := flannelBridge(env, podCIDR, p.Pods.Subnet)
	if err != nil {
		return Bridge{}, fmt.Errorf("%s: flannel: %w", n.Name, err)
	}
	return b, nil
}

// VTEPs are the nodes' flannel.1 addresses by node name: flannel's VXLAN
// backend gives each node's device the network address of its pod CIDR
// (a /32), which other nodes reach through the overlay only.
func VTEPs(ctx context.Context, cp Node) (map[string]string, error) {
	l, err := getNodes(ctx, cp)
	if err != nil {
		return nil, fmt.Errorf("%s: nodes: %w", cp.Name, err)
	}
	out := map[string]string{}
	for _, it := range l.Items {
		p, err := netip.ParsePrefix(it.Spec.PodCIDR)
		if err != nil || !p.Addr().Is4() {
			continue // no pod CIDR (yet), or not IPv4
		}
		out[it.Metadata.Name] = p.Masked().Addr().String()
	}
	return out, nil
}
