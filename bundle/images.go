package bundle

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/meshready/meshready/config"
)

// Registry is where kubeadm looks for its images unless told otherwise; the
// bundle's images carry its names so that kubeadm finds them already
// imported and pulls nothing.
const Registry = "registry.k8s.io"

// ImageSpec is one image kubeadm asks for, and how the bundle makes it.
type ImageSpec struct {
	// Ref is the image kubeadm pulls, e.g. registry.k8s.io/kube-apiserver:v1.34.4.
	Ref string
	// Binary is the program in the image (in /usr/local/bin) and its entrypoint.
	Binary string
	// Netfilter adds iptables, ip6tables and conntrack below the binary: kube-proxy runs them.
	Netfilter bool
	// User is the image's user ("" = root); Istio's charts set runAsNonRoot.
	User string
}

// FileName is the tarball's name in the bundle: kube-apiserver_v1.34.4.tar.
func (s ImageSpec) FileName() string {
	return strings.ReplaceAll(path.Base(s.Ref), ":", "_") + ".tar"
}

// release is what kubeadm of one Kubernetes release asks for besides its own
// components (cmd/kubeadm/app/constants: DefaultEtcdVersion, CoreDNSVersion,
// PauseVersion). tools/kubernetes/go.mod builds etcd and CoreDNS at the same
// versions; a test holds the two together.
type release struct {
	// dir is the release's tools module, tools/<dir>.
	dir                  string
	etcd, coredns, pause string
}

// DefaultRelease is the release of tools/kubernetes, whose module also
// builds Kubernetes' e2e suite (the conformance tests).
const DefaultRelease = "v1.34.4"

// releases are the Kubernetes versions the local bundle can serve, each with
// its tools module: the default, and the minor after it that the local stack
// upgrades to.
var releases = map[string]release{
	DefaultRelease: {dir: "kubernetes", etcd: "3.6.5-0", coredns: "v1.12.1", pause: "3.10.1"},
	"v1.35.4":      {dir: "kubernetes-1.35", etcd: "3.6.6-0", coredns: "v1.13.1", pause: "3.10.1"},
}

// Versions are the Kubernetes versions with a known image list, sorted.
func Versions() []string { return slices.Sorted(maps.Keys(releases)) }

// Images lists the images kubeadm init/join of this version uses, in the
// order of `kubeadm config images list`.
func Images(version config.Version) ([]ImageSpec, error) {
	if _, _, _, err := version.Parse(); err != nil {
		return nil, fmt.Errorf("kubernetes version: %w", err)
	}
	tag := version.Tag()
	r, ok := releases[tag]
	if !ok {
		return nil, fmt.Errorf("no image list for Kubernetes %s: the local bundle knows %s", tag, strings.Join(Versions(), ", "))
	}
	specs := []ImageSpec{}
	for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"} {
		specs = append(specs, ImageSpec{Ref: Registry + "/" + c + ":" + tag, Binary: c, Netfilter: c == "kube-proxy"})
	}
	return append(specs,
		ImageSpec{Ref: Registry + "/coredns/coredns:" + r.coredns, Binary: "coredns"},
		ImageSpec{Ref: Registry + "/pause:" + r.pause, Binary: "pause"},
		ImageSpec{Ref: Registry + "/etcd:" + r.etcd, Binary: "etcd"},
	), nil
}
