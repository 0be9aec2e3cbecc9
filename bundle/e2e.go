package bundle

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/internal/flock"
	"github.com/meshready/meshready/toolchain"
)

// E2ERegistry is where the pinned e2e framework looks for its test images
// (test/utils/image/manifest.go, PromoterE2eRegistry): the local images
// carry its names, so that pods find them imported and pull nothing.
const E2ERegistry = "registry.k8s.io/e2e-test-images"

// E2ETool builds Kubernetes' own end-to-end suite at the pin of Tool (same
// folder, same cache entry): e2e.test (go test -c of test/e2e, the binary
// Sonobuoy and hydrophone run), agnhost (the program of the suite's main
// test image, from test/images/agnhost) and the ginkgo CLI, which runs
// e2e.test in parallel processes. Built on demand, by `meshready
// conformance` and the tests that run it, not by `make tools`.
func E2ETool() toolchain.Tool {
	return toolchain.Tool{
		Name:        "kubernetes",
		Module:      "k8s.io/kubernetes",
		Packages:    []string{"k8s.io/kubernetes/test/images/agnhost", "github.com/onsi/ginkgo/v2/ginkgo"},
		TestPackage: "k8s.io/kubernetes/test/e2e",
		Env:         []string{"CGO_ENABLED=0"},
		Ldflags:     func(v string) string { return versionLdflags(v, time.Now()) },
		Took:        "about 8 minutes on 2 cores with a cold Go build cache, 2 after the bundle's build",
	}
}

// e2eRelease is the test image tags one e2e framework asks for
// (test/utils/image/manifest.go); a test holds it to the pinned module.
type e2eRelease struct {
	busybox, agnhost string
}

var e2eReleases = map[string]e2eRelease{
	"v1.34.4": {busybox: "1.37.0-1", agnhost: "2.56"},
}

// The Debian packages each image is made of (with everything they need
// to run, debClosure). BusyBox: the static build, the shell and the
// utilities the tests run in their pods (sh, wget, nc, nslookup, ...).
// agnhost's upstream image adds to Alpine curl, dig (bind-tools), nc,
// iproute2, iperf and bash: curl and dig are here, busybox gives sh, nc and
// ip; netbase gives /etc/services and /etc/protocols.
var (
	busyboxDebs = []string{"busybox-static"}
	agnhostDebs = []string{"busybox-static", "curl", "bind9-dnsutils", "netbase"}
)

// E2E is the built suite and its images for one Kubernetes version.
type E2E struct {
	// Dir is <cache>/bundle/e2e-<version>: Dir/images holds the tarballs,
	// where a local machine sees them through the bundle mount.
	Dir     string
	Version string
	// Test is e2e.test, Ginkgo the ginkgo CLI, on the machine running meshready.
	Test, Ginkgo string
	// Images are the test images made here, to import into every node.
	Images []Image
}

// e2eImage is one test image: its reference, and how its tree is made.
type e2eImage struct {
	ref  string
	debs []string
	// agnhost puts the agnhost program and its files in the tree.
	agnhost bool
}

func e2eImages(version config.Version) ([]e2eImage, error) {
	r, ok := e2eReleases[version.Tag()]
	if !ok {
		return nil, fmt.Errorf("no e2e image list for Kubernetes %s: the local bundle knows %s",
			version.Tag(), strings.Join(slices.Sorted(func(yield func(string) bool) {
				for k := range e2eReleases {
					if !yield(k) {
						return
					}
				}
			}), ", "))
	}
	return []e2eImage{
		{ref: E2ERegistry + "/busybox:" + r.busybox, debs: busyboxDebs},
		{ref: E2ERegistry + "/agnhost:" + r.agnhost, debs: agnhostDebs, agnhost: true},
	}, nil
}

// EnsureE2E returns the suite and its images for version (the pin only),
// building what is missing: the programs once per pin (E2ETool), then each
// image tarball from Debian's packages (seconds each).
func EnsureE2E(ctx context.Context, cache toolchain.Cache, version config.Version, log *slog.Logger) (*E2E, error) {
	if _, _, _, err := version.Parse(); err != nil {
		return nil, fmt.Errorf("e2e bundle: kubernetes version: %w", err)
	}
	tool := E2ETool()
	pin, err := cache.Pin(tool)
	if err != nil {
		return nil, fmt.Errorf("e2e bundle: %w", err)
	}
	if version.Tag() != pin {
		return nil, fmt.Errorf("e2e bundle: the conformance suite is built from the pinned Kubernetes %s (tools/kubernetes/go.mod); "+
			"the cluster runs %s, and conformance is only meaningful with the suite of the cluster's own release", pin, version.Tag())
	}
	specs, err := e2eImages(version)
	if err != nil {
		return nil, fmt.Errorf("e2e bundle: %w", err)
	}
	root, err := cache.Ensure(ctx, tool)
	if err != nil {
		return nil, fmt.Errorf("e2e bundle: %w", err)
	}
	e := &E2E{
		Dir: filepath.Join(cache.Dir, "bundle", "e2e-"+pin), Version: pin,
		Test: filepath.Join(root, "bin", "e2e.test"), Ginkgo: filepath.Join(root, "bin", "ginkgo"),
	}
	for _, s := range specs {
		e.Images = append(e.Images, Image{Ref: s.ref, Path: filepath.Join(e.Dir, "images", ImageSpec{Ref: s.ref}.FileName())})
	}
	if e.complete() {
		return e, nil
	}
	if err := os.MkdirAll(filepath.Join(e.Dir, "images"), 0o755); err != nil {
		return nil, fmt.Errorf("e2e bundle: %w", err)
	}
	unlock, err := flock.Lock(ctx, e.Dir+".lock")
	if err != nil {
		return nil, fmt.Errorf("e2e bundle: %w", err)
	}
	defer unlock()
	debs := filepath.Join(cache.Dir, "bundle", "debs")
	kube, err := moduleDir(ctx, tool.Module, pin)
	if err != nil {
		return nil, fmt.Errorf("e2e bundle: %w", err)
	}
	for i, s := range specs {
		out := e.Images[i].Path
		if _, err := os.Stat(out); err == nil {
			continue
		}
		start := time.Now()
		if err := writeE2EImage(ctx, s, debs, filepath.Join(root, "bin", "agnhost"), kube, out, log); err != nil {
			return nil, fmt.Errorf("e2e bundle: image %s: %w", s.ref, err)
		}
		log.Info("wrote image", "ref", s.ref, "path", out, "took", time.Since(start).Round(time.Millisecond).String())
	}
	return e, nil
}

func (e *E2E) complete() bool {
	for _, im := range e.Images {
		if _, err := os.Stat(im.Path); err != nil {
			return false
		}
	}
	return true
}

// writeE2EImage makes the image's tree in a temp folder and writes it as
// one layer.
// kube is the k8s.io/kubernetes module's folder.
func writeE2EImage(ctx context.Context, s e2eImage, debs, agnhost, kube, out string, log *slog.Logger) error {
	tree, err := os.MkdirTemp(filepath.Dir(out), ".tree-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	pkgs, err := debClosure(ctx, s.debs)
	if err != nil {
		return err
	}
	if err := unpackDebs(ctx, debs, tree, pkgs, s.ref, log); err != nil {
		return err
	}
	if err := busyboxLinks(ctx, tree); err != nil {
		return err
	}
	if err := baseFiles(tree); err != nil {
		return err
	}
	if s.agnhost {
		if err := agnhostFiles(tree, agnhost, kube); err != nil {
			return err
		}
	}
	if err := checkLibraries(tree); err != nil {
		return fmt.Errorf("%w (a package's dependencies are not what apt-cache said)", err)
	}
	layer, err := treeLayer(tree)
	if err != nil {
		return err
	}
	return writeImage(s.ref, []v1.Layer{layer}, out, func(c *v1.Config) {
		if s.agnhost {
			c.Entrypoint, c.Cmd = []string{"/agnhost"}, []string{"pause"}
		} else {
			c.Cmd = []string{"sh"}
		}
		c.Labels = map[string]string{
			"org.opencontainers.image.description": "made offline by meshready in place of " + s.ref +
				", from Debian's " + strings.Join(debVersions(debs, s.debs), ", "),
		}
	})
}

// busyboxLinks links every BusyBox applet (as the static busybox lists
// them) to it, where no package put a program of that name.
func busyboxLinks(ctx context.Context, tree string) error {
	bin := ""
	for _, p := range []string{"bin/busybox", "usr/bin/busybox"} {
		if fi, err := os.Lstat(filepath.Join(tree, p)); err == nil && fi.Mode().IsRegular() {
			bin = "/" + p
		}
	}
	if bin == "" {
		return fmt.Errorf("no busybox in the image")
	}
	out, err := exec.CommandContext(ctx, filepath.Join(tree, bin), "--list-full").Output()
	if err != nil {
		return fmt.Errorf("busybox --list-full: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "" || strings.Contains(applet, "..") || filepath.IsAbs(applet) {
			return fmt.Errorf("busybox lists an odd applet path %q", applet)
		}
		dst := filepath.Join(tree, applet)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(bin, dst); err != nil {
			return err
		}
	}
	return nil
}

// baseFiles are what every test image has besides its programs: users and
// groups (the agnhost image's user-defined-in-image and
// group-defined-in-image, which tests of supplemental groups look for) and
// a /tmp to write in.
func baseFiles(tree string) error {
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" +
			"user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n",
		"etc/group": "root:x:0:\nnogroup:x:65534:\nuser-defined-in-image:x:1000:\n" +
			"group-defined-in-image:x:50000:user-defined-in-image\n",
	}
	for name, body := range files {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	for _, d := range []string{"tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return err
		}
	}
	return os.Chmod(filepath.Join(tree, "tmp"), 0o1777)
}

// agnhostFiles are what agnhost's Dockerfile adds: the program at /agnhost,
// /agnhost-2 (entrypoint tests), /uploads (netexec) and porter's TLS pair
// from the module.
func agnhostFiles(tree, agnhost, kube string) error {
	if err := copyFile(agnhost, filepath.Join(tree, "agnhost")); err != nil {
		return err
	}
	if err := os.Symlink("agnhost", filepath.Join(tree, "agnhost-2")); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(tree, "uploads"), 0o755); err != nil {
		return err
	}
	for _, f := range []string{"localhost.crt", "localhost.key"} {
		data, err := os.ReadFile(filepath.Join(kube, "test", "images", "agnhost", "porter", f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tree, f), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
