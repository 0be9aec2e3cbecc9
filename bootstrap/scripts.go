package bootstrap

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/meshready/meshready/internal/script"
)

// Every step on a node is a POSIX shell script rendered by a pure function
// and checked against golden files, written to skip what is already done so
// that a re-run converges instead of failing.
//
//go:embed scripts/*.tmpl
var scriptFS embed.FS

func render(name string, data any) (string, error) {
	return script.Render(scriptFS, "scripts/*.tmpl", name, data)
}

// PrepScript turns swap off, loads overlay and br_netfilter and sets the
// sysctls Kubernetes needs — on a container node it changes nothing that
// belongs to the host, fails if the host's swap is on, and makes the kubelet's
// own cgroup root (cgroupRoot "" for none); with ionice, etcd gets best-effort
// IO class 2, level 0 once it runs there; with etcdMetrics (control planes),
// etcd's loopback metrics are copied for node_exporter's textfile collector.
func PrepScript(node, cgroupRoot string, ionice, etcdMetrics bool) (string, error) {
	return render("prep.sh.tmpl", struct {
		Node, CgroupRoot    string
		Ionice, EtcdMetrics bool
	}{node, cgroupRoot, ionice, etcdMetrics})
}

// ContainerdConfig is containerd's config.toml for kubeadm's kubelet: the
// pause image kubeadm expects, the cgroup driver, Debian's CNI plugin folder,
// and restrict_oom_score_adj (a container without CAP_SYS_RESOURCE cannot
// lower oom_score_adj, and runc then fails every pod sandbox).
func ContainerdConfig(pauseImage, cgroupDriver string, restrictOOM bool) (string, error) {
	cri := map[string]any{
		"sandbox_image":          pauseImage,
		"restrict_oom_score_adj": restrictOOM,
		"cni":                    map[string]any{"bin_dir": "/usr/lib/cni", "conf_dir": "/etc/cni/net.d"},
		"containerd": map[string]any{
			"snapshotter":          "overlayfs",
			"default_runtime_name": "runc",
			"runtimes": map[string]any{"runc": map[string]any{
				"runtime_type": "io.containerd.runc.v2",
				"options":      map[string]any{"SystemdCgroup": cgroupDriver == "systemd"},
			}},
		},
	}
	cfg := map[string]any{"version": 2, "plugins": map[string]any{"io.containerd.grpc.v1.cri": cri}}
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(cfg); err != nil {
		return "", err
	}
	return b.String(), nil
}

// RuntimeScript installs (if missing) and configures containerd.
func RuntimeScript(node, cgroupDriver, config string) (string, error) {
	return render("runtime.sh.tmpl", struct{ Node, CgroupDriver, Config string }{node, cgroupDriver, config})
}

// BundleImage is an image tarball as a node sees it, and the reference it loads as.
type BundleImage struct {
	Ref, Tarball string
	// SHA256, when set, is the tarball's hash: the image is imported
	// again when the tarball changed under the same reference (the
	// node keeps a stamp per imported tarball), else only when the
	// reference is missing.
	SHA256 string
}

// KubeBundleScript installs kubeadm, kubelet and kubectl and imports the
// images from the air-gapped bundle mounted on the node.
func KubeBundleScript(node, version, bundle string, images []BundleImage) (string, error) {
	return render("kube-bundle.sh.tmpl", struct {
		Node, Version, Bundle string
		Images                []BundleImage
	}{node, version, bundle, images})
}

// ImagesScript imports image tarballs a node sees (the local stack's mesh
// images) into containerd's k8s.io namespace, skipping those it has.
func ImagesScript(node string, images []BundleImage) (string, error) {
	for _, im := range images {
		if im.SHA256 != "" && !sha256Hex.MatchString(im.SHA256) {
			return "", fmt.Errorf("image %s: %q is no SHA-256 in hex", im.Ref, im.SHA256)
		}
	}
	return render("images.sh.tmpl", struct {
		Node   string
		Images []BundleImage
	}{node, images})
}

// KubeAptScript installs the pinned kubeadm, kubelet and kubectl from the
// Kubernetes package repository (pkgs.k8s.io), held at that version.
func KubeAptScript(node, version string) (string, error) {
	plain, minor, err := aptVersion(version)
	if err != nil {
		return "", err
	}
	return render("kube-apt.sh.tmpl", struct{ Node, Version, Plain, Minor string }{node, version, plain, minor})
}

// InitScript runs kubeadm init with the rendered config, unless the API server already answers.
// config is the path of its kubeadm config on the node (uploaded, 0600),
// which the script removes when it ends.
func InitScript(node, config string, ignore []string) (string, error) {
	return render("init.sh.tmpl", struct{ Node, Config, Ignore string }{node, config, strings.Join(ignore, ",")})
}

// JoinScript runs kubeadm join with the rendered config, unless the node already joined.
// config is the path of its kubeadm config on the node (uploaded, 0600),
// which the script removes when it ends.
func JoinScript(node, config string, ignore []string) (string, error) {
	return render("join.sh.tmpl", struct{ Node, Config, Ignore string }{node, config, strings.Join(ignore, ",")})
}

// RenewScript makes the join token again and, with certs (for a control
// plane's join), re-uploads the control-plane certificates (both expire)
// from the init config at path config on the node (uploaded, 0600), which
// the script removes when it ends.
func RenewScript(node, config string, certs bool) (string, error) {
	return render("renew.sh.tmpl", struct {
		Node, Config string
		Certs        bool
	}{node, config, certs})
}

// UploadConfigScript uploads kubeadm's ClusterConfiguration again from the
// init config at path config on the node (uploaded, 0600; it holds the
// join token), which the script removes when it ends.
func UploadConfigScript(node, config string) (string, error) {
	return render("upload-config.sh.tmpl", struct{ Node, Config string }{node, config})
}

// Route sends a pod CIDR to the node that hosts it.
type Route struct{ CIDR, Via string }

// Bridge is a node's pod bridge (cni0).
type Bridge struct {
	// PodCIDR is the node's pod subnet (its Node's spec.podCIDR).
	PodCIDR string
	// MTU of the pods' interfaces; 0 is the default (the link's 1500).
	// Under flannel it is flannel's (the link's less VXLAN's 50 bytes).
	MTU int
	// IPMasq: the bridge plugin masquerades what pods send beyond PodCIDR
	// (host routes). Under flannel, flanneld masquerades what leaves the
	// pod network only, so pods see each other's own addresses.
	IPMasq bool
}

// CNIScript writes this node's bridge network; with host routes (flannel
// false) also the routes to other nodes' pods, and flannel stopped if it
// ran (a pod network switched to host routes).
// The pod CIDRs and node addresses are read from the cluster (a node's
// kubelet writes its own Node): each is checked before it reaches the
// script, and quoted in it.
func CNIScript(node string, b Bridge, flannel bool, routes []Route) (string, error) {
	if !nodeName.MatchString(node) {
		return "", fmt.Errorf("pod network: node name %q is not a DNS label", node)
	}
	own, err := podCIDRs([]string{b.PodCIDR})
	if err != nil {
		return "", fmt.Errorf("pod network: %s: %w", node, err)
	}
	b.PodCIDR = own[0]
	routes = slices.Clone(routes)
	for i, r := range routes {
		cidr, err := podCIDRs([]string{r.CIDR})
		if err != nil {
			return "", fmt.Errorf("pod network: %s: route: %w", node, err)
		}
		via, err := netip.ParseAddr(r.Via)
		if err != nil || !via.Is4() {
			return "", fmt.Errorf("pod network: %s: route to %s: gateway %q is not an IPv4 address", node, r.CIDR, r.Via)
		}
		routes[i] = Route{CIDR: cidr[0], Via: via.String()}
	}
	bridge := map[string]any{
		"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": b.IPMasq, "hairpinMode": true,
		"ipam": map[string]any{"type": "host-local", "ranges": [][]map[string]string{{{"subnet": b.PodCIDR}}},
			"routes": []map[string]string{{"dst": "0.0.0.0/0"}}},
	}
	if b.MTU > 0 {
		bridge["mtu"] = b.MTU
	}
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "meshready",
		"plugins": []any{
			bridge,
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	out, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return "", err
	}
	return render("cni.sh.tmpl", struct {
		Node, PodCIDR, Conflist string
		Flannel                 bool
		Routes                  []Route
	}{node, b.PodCIDR, string(out), flannel, routes})
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ImportImages imports image tarballs the node sees into containerd.
func ImportImages(ctx context.Context, n Node, images []BundleImage) error {
	script, err := ImagesScript(n.Name, images)
	if err != nil {
		return err
	}
	if _, err := n.Runner.Run(ctx, script); err != nil {
		return fmt.Errorf("%s: import images: %w", n.Name, err)
	}
	return nil
}
