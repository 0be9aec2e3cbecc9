// Package bundle makes what a local node needs to run Kubernetes without the
// internet: kubeadm, kubelet and kubectl, and the image tarballs kubeadm would
// pull (control plane, kube-proxy, etcd, CoreDNS, pause), all built from the
// Go module proxy at the pin in tools/kubernetes and kept in meshready's
// cache. Real nodes (Hetzner, static) install Kubernetes' own packages and
// pull its images instead; the bundle is for the local stack.
package bundle

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/internal/flock"
	"github.com/meshready/meshready/toolchain"
)

// Bundle is a built bundle for one Kubernetes version.
type Bundle struct {
	// Dir is <cache>/bundle/<version>, self-contained so that local machines
	// can mount it: Dir/bin (the Binaries) and Dir/images (the Images).
	Dir string
	// Version is the Kubernetes version, as Kubernetes tags it (v1.34.4).
	Version string
	// Binaries maps kubeadm, kubelet and kubectl to their paths in Dir/bin.
	Binaries map[string]string
	// Images are the tarballs to import into the node's containerd (namespace k8s.io).
	Images []Image
}

// Image is one image tarball, written by WriteImage.
type Image struct {
	// Ref is the name kubeadm looks for, and the tag inside the tarball.
	Ref string
	// Path is the docker-archive tarball, for `ctr -n k8s.io images import`.
	Path string
	// SHA256 is the tarball's hash where the bundle records one (the e2e
	// images, whose content can change under the same reference).
	SHA256 string
}

// NodeBinaries are the programs a node runs outside containers.
var NodeBinaries = []string{"kubeadm", "kubelet", "kubectl"}

// Tool builds the Kubernetes programs, etcd and pause of the default
// release (the pin in tools/kubernetes): ToolFor(DefaultRelease).
func Tool() toolchain.Tool { return ToolFor(DefaultRelease) }

// ToolFor builds the Kubernetes programs, etcd and pause of one release of
// releases in one go build: they share most of their dependencies, so one
// build is much shorter than nine. Each release has its tools module
// (tools/kubernetes, tools/kubernetes-1.35, ...).
func ToolFor(version string) toolchain.Tool {
	dir := releases[version].dir
	return toolchain.Tool{
		Name:   dir,
		Module: "k8s.io/kubernetes",
		Packages: []string{
			"k8s.io/kubernetes/cmd/kubeadm", "k8s.io/kubernetes/cmd/kubelet", "k8s.io/kubernetes/cmd/kubectl",
			"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager",
			"k8s.io/kubernetes/cmd/kube-scheduler", "k8s.io/kubernetes/cmd/kube-proxy",
			"github.com/meshready/meshready/tools/" + dir + "/etcd",
			"github.com/meshready/meshready/tools/pause",
		},
		// Static binaries, as Kubernetes releases them: the images have no libc.
		Env:     []string{"CGO_ENABLED=0"},
		Ldflags: func(v string) string { return versionLdflags(v, time.Now()) },
		Took:    "about 12 minutes on 2 cores with a cold Go build cache",
	}
}

// CoreDNSTool builds CoreDNS for one release from its own module
// (tools/<release dir>/coredns): it does not compile against the client-go
// that Kubernetes pins.
func CoreDNSTool(version string) toolchain.Tool {
	return toolchain.Tool{
		Name:    releases[version].dir + "/coredns",
		Module:  "github.com/coredns/coredns",
		Package: "github.com/coredns/coredns",
		Binary:  "coredns",
		Env:     []string{"CGO_ENABLED=0"},
		Took:    "about 3 minutes on 2 cores with a cold Go build cache",
	}
}

// versionLdflags stamps what Kubernetes' release build stamps
// (hack/lib/version.sh): kubeadm refuses to work out its version without
// gitVersion. The tree state is "archive" as for any build not from a git
// checkout; the module zip carries no commit.
func versionLdflags(version string, now time.Time) string {
	major, minor, _, _ := config.Version(version).Parse()
	p := "-X k8s.io/component-base/version."
	return strings.Join([]string{
		p + "gitVersion=" + version,
		fmt.Sprintf("%sgitMajor=%d", p, major),
		fmt.Sprintf("%sgitMinor=%d", p, minor),
		p + "gitCommit=",
		p + "gitTreeState=archive",
		p + "buildDate=" + now.UTC().Format("2006-01-02T15:04:05Z"),
	}, " ")
}

// Ensure returns the bundle of version, building what is missing: the
// programs once per pin (minutes; see ToolFor and CoreDNSTool), then the
// bundle folder <cache>/bundle/<version> with the node binaries and each
// image tarball (seconds each). Concurrent callers wait for one build. Only
// the releases with a tools module (Versions) can be built.
func Ensure(ctx context.Context, cache toolchain.Cache, version config.Version, log *slog.Logger) (*Bundle, error) {
	if _, _, _, err := version.Parse(); err != nil {
		return nil, fmt.Errorf("local bundle: kubernetes version: %w", err)
	}
	if _, ok := releases[version.Tag()]; !ok {
		return nil, fmt.Errorf("local bundle: Kubernetes %s was asked for, but the local bundle builds %s only "+
			"(the pins in tools/kubernetes*/go.mod): set kubernetes.version to one of them for a local stack",
			version.Tag(), strings.Join(Versions(), ", "))
	}
	tool := ToolFor(version.Tag())
	pin, err := cache.Pin(tool)
	if err != nil {
		return nil, fmt.Errorf("local bundle: %w", err)
	}
	if version.Tag() != pin {
		return nil, fmt.Errorf("local bundle: tools/%s/go.mod pins k8s.io/kubernetes %s, but bundle/images.go says it builds %s: bump them together",
			tool.Name, pin, version.Tag())
	}
	specs, err := Images(version)
	if err != nil {
		return nil, fmt.Errorf("local bundle: %w", err)
	}
	paths := map[string]string{} // every built program by name
	for _, t := range []toolchain.Tool{tool, CoreDNSTool(pin)} {
		root, err := cache.Ensure(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("local bundle: %w", err)
		}
		for _, name := range t.Binaries() {
			paths[name] = filepath.Join(root, "bin", name)
		}
	}
	b := &Bundle{Dir: filepath.Join(cache.Dir, "bundle", pin), Version: pin, Binaries: map[string]string{}}
	for _, name := range NodeBinaries {
		b.Binaries[name] = filepath.Join(b.Dir, "bin", name)
	}
	for _, s := range specs {
		b.Images = append(b.Images, Image{Ref: s.Ref, Path: filepath.Join(b.Dir, "images", s.FileName())})
	}
	if b.complete() {
		return b, nil
	}
	for _, d := range []string{"bin", "images"} {
		if err := os.MkdirAll(filepath.Join(b.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("local bundle: %w", err)
		}
	}
	unlock, err := flock.Lock(ctx, b.Dir+".lock")
	if err != nil {
		return nil, fmt.Errorf("local bundle: %w", err)
	}
	defer unlock()
	for _, name := range NodeBinaries {
		if err := place(paths[name], b.Binaries[name]); err != nil {
			return nil, fmt.Errorf("local bundle: %w", err)
		}
	}
	var netfilter v1.Layer
	for i, s := range specs {
		p := b.Images[i].Path
		if _, err := os.Stat(p); err == nil {
			continue // written before, or while we waited
		}
		var lower []v1.Layer
		if s.Netfilter && netfilter == nil {
			tmp, err := os.MkdirTemp(b.Dir, ".netfilter-")
			if err != nil {
				return nil, fmt.Errorf("local bundle: %w", err)
			}
			defer os.RemoveAll(tmp)
			if netfilter, err = netfilterLayer(ctx, filepath.Join(cache.Dir, "bundle", "debs"), tmp, log); err != nil {
				return nil, fmt.Errorf("local bundle: %w", err)
			}
		}
		if s.Netfilter {
			lower = append(lower, netfilter)
		}
		start := time.Now()
		if err := WriteImage(s, paths[s.Binary], p, lower...); err != nil {
			return nil, fmt.Errorf("local bundle: %w", err)
		}
		log.Info("wrote image", "ref", s.Ref, "path", p, "took", time.Since(start).Round(time.Millisecond).String())
	}
	return b, nil
}

// complete says whether every binary and image of b is in place.
func (b *Bundle) complete() bool {
	for _, p := range b.Binaries {
		if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	for _, img := range b.Images {
		if _, err := os.Stat(img.Path); err != nil {
			return false
		}
	}
	return true
}

// place puts the built program src at dst, inside the bundle folder that
// local machines mount (a symlink would point outside it): a hard link, as
// both are in the cache, else a copy. dst appears complete or not at all.
func place(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	tmp := dst + ".tmp"
	os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		if err := copyFile(src, tmp); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	return os.Rename(tmp, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// netfilterLayer unpacks kube-proxy's tools into root (a temp folder the
// caller removes after the image is written: the layer reads it lazily) and
// returns them as a layer. The .debs are cached in debs, for every version.
func netfilterLayer(ctx context.Context, debs, root string, log *slog.Logger) (v1.Layer, error) {
	if err := netfilterTree(ctx, debs, root, log); err != nil {
		return nil, err
	}
	return treeLayer(root)
}
