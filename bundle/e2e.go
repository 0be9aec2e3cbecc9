package bundle

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/internal/flock"
	"github.com/meshready/meshready/internal/fsutil"
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
		Name:   "kubernetes",
		Module: "k8s.io/kubernetes",
		Packages: []string{"k8s.io/kubernetes/test/images/agnhost", "k8s.io/kubernetes/test/images/nonewprivs",
			"github.com/onsi/ginkgo/v2/ginkgo"},
		TestPackage: "k8s.io/kubernetes/test/e2e",
		Env:         []string{"CGO_ENABLED=0"},
		Ldflags:     func(v string) string { return versionLdflags(v, time.Now()) },
		Took:        "about 8 minutes on 2 cores with a cold Go build cache, 2 after the bundle's build",
	}
}

// e2eRelease is the test image tags one e2e framework asks for
// (test/utils/image/manifest.go); a test holds it to the pinned module.
type e2eRelease struct {
	busybox, agnhost, jessie, kitten, nautilus, nginx, nginxNew, httpd, httpdNew, nonRoot, nonewprivs string
}

var e2eReleases = map[string]e2eRelease{
	"v1.34.4": {busybox: "1.37.0-1", agnhost: "2.56", jessie: "1.7", kitten: "1.7", nautilus: "1.7",
		nginx: "1.14-4", nginxNew: "1.15-4", httpd: "2.4.38-4", httpdNew: "2.4.39-4", nonRoot: "1.4", nonewprivs: "1.3"},
}

// The Debian packages the images are made of, each with everything it
// needs to run (debClosure). BusyBox, static, gives every image the
// utilities the tests run in pods (wget, nc, nslookup, mv, sysctl, ...);
// libc-bin gives getent, netbase /etc/services and /etc/protocols.
//
// sh is Debian's bash, not BusyBox's ash: Debian's ash (1.35 in 12, 1.37
// in 13, both tried) drops environment variables whose names are no shell
// identifiers (a ConfigMap key such as data-1) from the programs it
// starts, and the ConfigMap and Secret environment tests read them through
// sh -c env; the static build also runs its own applets before the
// programs on PATH (BusyBox's nc for OpenBSD's). The one test that
// compares ash's own error message is a known offline skip
// (conformance.Offline).
//
// agnhost's upstream image adds to Alpine curl, dig (bind-tools), nc
// (netcat-openbsd: the tests use -u, -t and -v, which BusyBox's lacks),
// iproute2 (ss), iperf and bash: all but iperf are here.
var (
	busyboxDebs = []string{"busybox-static", "bash"}
	dnsDebs     = []string{"busybox-static", "bash", "bind9-dnsutils", "libc-bin", "netbase"}
	agnhostDebs = []string{"busybox-static", "bash", "curl", "bind9-dnsutils", "netcat-openbsd", "iproute2", "libc-bin", "netbase"}
	nginxDebs   = []string{"busybox-static", "bash", "nginx", "netbase"}
	httpdDebs   = []string{"busybox-static", "bash", "apache2-bin", "netbase"}
)

// notInImages are packages of a closure that no program in the images
// runs or loads: package tooling and Perl (nginx-common's and apache2's
// maintainer scripts and helper scripts need them; the servers do not).
// checkLibraries still fails an image whose ELF files need one of them.
var notInImages = []string{"debconf", "cdebconf", "dpkg", "tar", "install-info", "perl", "perl-base",
	"perl-modules-5.36", "perl-modules-5.40", "libperl5.36", "libperl5.40", "iproute2", "libcap2-bin"}

// e2eImage is one test image: its reference, the packages it is made of,
// what it adds to them, and its config.
type e2eImage struct {
	ref  string
	debs []string
	// add puts the image's own files in the tree.
	add             func(tree string, in e2eInputs) error
	entrypoint, cmd []string
	user            string
	extraPath       string
	// allInBin links every BusyBox applet in /bin too, as the busybox
	// image does (the sysctl test runs /bin/sysctl; Debian's list puts it
	// in /sbin).
	allInBin bool
}

// e2eInputs are what the images' own files come from.
type e2eInputs struct {
	// bin holds the programs E2ETool built; kube is the k8s.io/kubernetes module.
	bin, kube string
}

func e2eImages(version config.Version) ([]e2eImage, error) {
	r, ok := e2eReleases[version.Tag()]
	if !ok {
		return nil, fmt.Errorf("no e2e image list for Kubernetes %s: the local bundle knows %s",
			version.Tag(), strings.Join(slices.Sorted(maps.Keys(e2eReleases)), ", "))
	}
	img := func(name, tag string) string { return E2ERegistry + "/" + name + ":" + tag }
	agnhost := []string{"/agnhost"}
	return []e2eImage{
		{ref: img("busybox", r.busybox), debs: busyboxDebs, cmd: []string{"sh"}, allInBin: true},
		{ref: img("agnhost", r.agnhost), debs: agnhostDebs, add: agnhostFiles, entrypoint: agnhost, cmd: []string{"pause"}},
		{ref: img("jessie-dnsutils", r.jessie), debs: dnsDebs, cmd: []string{"sh"}},
		// The update-demo images: agnhost serving a picture and data.json.
		{ref: img("kitten", r.kitten), debs: agnhostDebs, add: updateDemo("kitten"), entrypoint: agnhost, cmd: []string{"test-webserver"}},
		{ref: img("nautilus", r.nautilus), debs: agnhostDebs, add: updateDemo("nautilus"), entrypoint: agnhost, cmd: []string{"test-webserver"}},
		{ref: img("nginx", r.nginx), debs: nginxDebs, add: nginxFiles, cmd: []string{"nginx", "-g", "daemon off;"}},
		{ref: img("nginx", r.nginxNew), debs: nginxDebs, add: nginxFiles, cmd: []string{"nginx", "-g", "daemon off;"}},
		{ref: img("httpd", r.httpd), debs: httpdDebs, add: httpdFiles, cmd: []string{"httpd-foreground"}, extraPath: httpdRoot + "/bin"},
		{ref: img("httpd", r.httpdNew), debs: httpdDebs, add: httpdFiles, cmd: []string{"httpd-foreground"}, extraPath: httpdRoot + "/bin"},
		{ref: img("nonroot", r.nonRoot), debs: busyboxDebs, user: "1234", cmd: []string{"sh"}},
		{ref: img("nonewprivs", r.nonewprivs), debs: busyboxDebs, add: nnpFiles, cmd: []string{"nnp"}},
	}, nil
}

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
		return e, e.hashes()
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
	in := e2eInputs{bin: filepath.Join(root, "bin"), kube: kube}
	for i, s := range specs {
		out := e.Images[i].Path
		if _, err := os.Stat(out); err == nil {
			continue
		}
		start := time.Now()
		if err := writeE2EImage(ctx, s, debs, in, out, log); err != nil {
			return nil, fmt.Errorf("e2e bundle: image %s: %w", s.ref, err)
		}
		log.Info("wrote image", "ref", s.ref, "path", out, "took", time.Since(start).Round(time.Millisecond).String())
		os.Remove(out + ".sha256")
	}
	return e, e.hashes()
}

// hashes fills each image's SHA256 from the .sha256 file beside its
// tarball, hashing the tarball (and writing that file) where there is none.
func (e *E2E) hashes() error {
	for i, im := range e.Images {
		if b, err := os.ReadFile(im.Path + ".sha256"); err == nil && len(b) >= 64 {
			e.Images[i].SHA256 = string(b[:64])
			continue
		}
		sum, err := fsutil.SHA256(im.Path)
		if err != nil {
			return fmt.Errorf("e2e bundle: %w", err)
		}
		if err := fsutil.WriteFile(im.Path+".sha256", []byte(sum+"  "+filepath.Base(im.Path)+"\n"), 0o644); err != nil {
			return fmt.Errorf("e2e bundle: %w", err)
		}
		e.Images[i].SHA256 = sum
	}
	return nil
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
func writeE2EImage(ctx context.Context, s e2eImage, debs string, in e2eInputs, out string, log *slog.Logger) error {
	tree, err := os.MkdirTemp(filepath.Dir(out), ".tree-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tree)
	closure, err := debClosure(ctx, s.debs)
	if err != nil {
		return err
	}
	pkgs := slices.DeleteFunc(closure, func(p string) bool { return slices.Contains(notInImages, p) && !slices.Contains(s.debs, p) })
	if err := unpackDebs(ctx, debs, tree, pkgs, s.ref, log); err != nil {
		return err
	}
	// Debian names netcat-openbsd's nc with update-alternatives and sh
	// with dash's postinst (no .deb has the links); they go in before
	// BusyBox's applets, which fill gaps only.
	for link, target := range map[string]string{"nc": "nc.openbsd", "sh": "bash"} {
		if _, err := os.Lstat(filepath.Join(tree, "bin", target)); err == nil {
			if err := os.Symlink(target, filepath.Join(tree, "bin", link)); err != nil {
				return err
			}
		}
	}
	if err := busyboxLinks(ctx, tree, s.allInBin); err != nil {
		return err
	}
	if err := baseFiles(tree); err != nil {
		return err
	}
	if s.add != nil {
		if err := s.add(tree, in); err != nil {
			return err
		}
	}
	if err := checkLibraries(tree); err != nil {
		return fmt.Errorf("%w (a package's dependencies are not what apt-cache said, or notInImages drops one)", err)
	}
	layer, err := treeLayer(tree)
	if err != nil {
		return err
	}
	return writeImage(s.ref, []v1.Layer{layer}, out, func(c *v1.Config) {
		c.Entrypoint, c.Cmd, c.User = s.entrypoint, s.cmd, s.user
		if s.extraPath != "" {
			c.Env = []string{strings.Replace(PathEnv, "PATH=", "PATH="+s.extraPath+":", 1)}
		}
		c.Labels = map[string]string{
			"org.opencontainers.image.description": "made offline by meshready in place of " + s.ref +
				", from Debian's " + strings.Join(debVersions(debs, s.debs), ", "),
		}
	})
}

// busyboxLinks links every BusyBox applet (as the static busybox lists
// them) to it, where no package put a program of that name in any PATH
// folder; with allInBin, in /bin too where /bin has no such name.
func busyboxLinks(ctx context.Context, tree string, allInBin bool) error {
	bin := ""
	for _, p := range []string{"bin/busybox", "usr/bin/busybox"} {
		if fi, err := os.Lstat(filepath.Join(tree, p)); err == nil && fi.Mode().IsRegular() {
			bin = "/" + p
		}
	}
	if bin == "" {
		return fmt.Errorf("no busybox in the image")
	}
	// Chrooted, as the image will run it.
	out, err := exec.CommandContext(ctx, "chroot", tree, bin, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("chroot %s %s --list-full: %w", tree, bin, err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if strings.Contains(applet, "..") || filepath.IsAbs(applet) {
			return fmt.Errorf("busybox lists an odd applet path %q", applet)
		}
		dst := filepath.Join(tree, applet)
		if shadowed(tree, filepath.Base(applet)) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(bin, dst); err != nil {
			return err
		}
	}
	if !allInBin {
		return nil
	}
	for _, applet := range strings.Fields(string(out)) {
		dst := filepath.Join(tree, "bin", filepath.Base(applet))
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if err := os.Symlink(bin, dst); err != nil {
			return err
		}
	}
	return nil
}

// shadowed says whether a program of that name is in any of the images'
// PATH folders already: an applet link in an earlier folder would hide it.
func shadowed(tree, name string) bool {
	for _, d := range []string{"usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin"} {
		if _, err := os.Lstat(filepath.Join(tree, d, name)); err == nil {
			return true
		}
	}
	return false
}

// baseFiles are what every test image has besides its programs: users and
// groups (the agnhost image's user-defined-in-image and
// group-defined-in-image, which tests of supplemental groups look for;
// daemon, httpd's user) and a /tmp to write in.
func baseFiles(tree string) error {
	return writeFiles(tree, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" +
			"user-defined-in-image:x:1000:1000::/home/user-defined-in-image:/bin/sh\n",
		"etc/group": "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\nuser-defined-in-image:x:1000:\n" +
			"group-defined-in-image:x:50000:user-defined-in-image\n",
		"tmp/":  "",
		"root/": "",
	})
}

// writeFiles writes each file (a name ending in / is a folder) in tree.
func writeFiles(tree string, files map[string]string) error {
	for name, body := range files {
		p := filepath.Join(tree, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(body, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(tree, "tmp")); err == nil {
		return os.Chmod(filepath.Join(tree, "tmp"), 0o777|os.ModeSticky)
	}
	return nil
}

// agnhostFiles are what agnhost's Dockerfile adds: the program at /agnhost,
// /agnhost-2 (entrypoint tests), /uploads (netexec) and porter's TLS pair
// from the module.
func agnhostFiles(tree string, in e2eInputs) error {
	if err := copyFile(filepath.Join(in.bin, "agnhost"), filepath.Join(tree, "agnhost")); err != nil {
		return err
	}
	if err := os.Symlink("agnhost", filepath.Join(tree, "agnhost-2")); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(tree, "uploads"), 0o755); err != nil {
		return err
	}
	return copyModuleFiles(tree, in.kube, map[string]string{
		"localhost.crt": "test/images/agnhost/porter/localhost.crt",
		"localhost.key": "test/images/agnhost/porter/localhost.key",
	})
}

// updateDemo is the kitten or nautilus image: agnhost (test-webserver
// serves /) with the picture and data.json of test/images/<name>/html.
func updateDemo(name string) func(string, e2eInputs) error {
	return func(tree string, in e2eInputs) error {
		if err := agnhostFiles(tree, in); err != nil {
			return err
		}
		return copyModuleFiles(tree, in.kube, map[string]string{
			name + ".jpg": "test/images/" + name + "/html/" + name + ".jpg",
			"data.json":   "test/images/" + name + "/html/data.json",
		})
	}
}

// copyModuleFiles copies files of the k8s.io/kubernetes module into tree.
func copyModuleFiles(tree, kube string, files map[string]string) error {
	for dst, src := range files {
		data, err := os.ReadFile(filepath.Join(kube, filepath.FromSlash(src)))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tree, dst), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// nginxFiles lay Debian's nginx out as the nginx image the suite uses
// (nginx:alpine): port 80, /usr/share/nginx/html, logs to the container's
// output, run in the foreground.
func nginxFiles(tree string, _ e2eInputs) error {
	return writeFiles(tree, map[string]string{
		"etc/nginx/nginx.conf": `# meshready: nginx as the e2e suite's nginx image runs it.
user nobody nogroup;
worker_processes 1;
error_log /dev/stderr;
pid /run/nginx.pid;
events { worker_connections 1024; }
http {
  access_log /dev/stdout;
  server {
    listen 80;
    root /usr/share/nginx/html;
    index index.html;
  }
}
`,
		"usr/share/nginx/html/index.html": "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>\n",
		"var/log/nginx/":                  "",
		"var/lib/nginx/":                  "",
		"run/":                            "",
	})
}

// httpdRoot is where the httpd image keeps its server root, as the
// official image does; the suite's StatefulSet tests move
// htdocs/index.html away and back to break and mend readiness.
const httpdRoot = "/usr/local/apache2"

// httpdFiles lay Debian's Apache httpd out as the official httpd image:
// ServerRoot /usr/local/apache2, port 80, htdocs/index.html, logs to the
// container's output, httpd-foreground as the command.
func httpdFiles(tree string, _ e2eInputs) error {
	root := filepath.Join(tree, strings.TrimPrefix(httpdRoot, "/"))
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		return err
	}
	for link, target := range map[string]string{"bin/httpd": "/usr/sbin/apache2", "modules": "/usr/lib/apache2/modules"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			return err
		}
	}
	return writeFiles(root, map[string]string{
		"conf/httpd.conf": `# meshready: Debian's Apache httpd as the e2e suite's httpd image runs it.
ServerRoot "/usr/local/apache2"
Listen 80
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule authz_core_module modules/mod_authz_core.so
LoadModule dir_module modules/mod_dir.so
LoadModule mime_module modules/mod_mime.so
User daemon
Group daemon
ServerName localhost
DocumentRoot "/usr/local/apache2/htdocs"
<Directory "/usr/local/apache2/htdocs">
    Require all granted
</Directory>
DirectoryIndex index.html
TypesConfig /dev/null
AddType text/html .html
ErrorLog /proc/self/fd/2
LogFormat "%h %l %u %t \"%r\" %>s %b" common
CustomLog /proc/self/fd/1 common
PidFile logs/httpd.pid
`,
		"htdocs/index.html": "<html><body><h1>It works!</h1></body></html>\n",
		"logs/":             "",
		"bin/httpd-foreground": `#!/bin/sh
set -e
# As the official image's script: a stale pid file keeps httpd from starting.
rm -f /usr/local/apache2/logs/httpd.pid
exec /usr/local/apache2/bin/httpd -d /usr/local/apache2 -f conf/httpd.conf -DFOREGROUND "$@"
`,
	})
}

// nnpFiles is the nonewprivs image's program, set-uid root: it prints the
// effective uid, which no_new_privs keeps at the caller's.
func nnpFiles(tree string, in e2eInputs) error {
	dst := filepath.Join(tree, "usr", "local", "bin", "nnp")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(in.bin, "nonewprivs"), dst); err != nil {
		return err
	}
	return os.Chmod(dst, 0o755|os.ModeSetuid)
}
