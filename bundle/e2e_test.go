package bundle

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/meshready/meshready/config"
)

// The image list is the one the pinned e2e framework asks for.
func TestE2EReleasesMatchTheSuitesManifest(t *testing.T) {
	c := testCache(t)
	pin, err := c.Pin(E2ETool())
	if err != nil {
		t.Fatal(err)
	}
	r, ok := e2eReleases[pin]
	if !ok {
		t.Fatalf("no e2e image list for the pin %s", pin)
	}
	dir, err := moduleDir(t.Context(), "k8s.io/kubernetes", pin)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "test", "utils", "image", "manifest.go"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tag := range map[string]string{"BusyBox": r.busybox, "Agnhost": r.agnhost, "JessieDnsutils": r.jessie,
		"Kitten": r.kitten, "Nautilus": r.nautilus, "Nginx": r.nginx, "NginxNew": r.nginxNew, "Httpd": r.httpd,
		"HttpdNew": r.httpdNew, "NonRoot": r.nonRoot, "Nonewprivs": r.nonewprivs} {
		re := regexp.MustCompile(`configs\[` + name + `\] = Config\{list\.PromoterE2eRegistry, "[a-z/-]+", "([^"]+)"\}`)
		m := re.FindSubmatch(src)
		if m == nil || string(m[1]) != tag {
			t.Errorf("%s: the suite asks for %q, the bundle makes %q", name, m, tag)
		}
	}
	if !regexp.MustCompile(`PromoterE2eRegistry: +"` + regexp.QuoteMeta(E2ERegistry) + `"`).Match(src) {
		t.Errorf("the suite's e2e registry is not %s", E2ERegistry)
	}
}

func TestEnsureE2ERefusesAnotherVersion(t *testing.T) {
	c := testCache(t)
	c.Dir = t.TempDir() // nothing may be built
	_, err := EnsureE2E(t.Context(), c, "1.33.2", c.Log)
	if err == nil || !strings.Contains(err.Error(), "the cluster runs v1.33.2") {
		t.Errorf("want a clear refusal, got %v", err)
	}
}

// dependsClosure keeps the packages, not their dependency lines, virtual
// names or foreign architectures (golden input from apt-cache on Debian 12).
func TestDependsClosure(t *testing.T) {
	b, err := os.ReadFile("testdata/apt-cache-depends.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := dependsClosure(string(b))
	for _, want := range []string{"bind9-dnsutils", "bind9-libs", "libc6", "libuv1"} {
		if !strings.Contains(" "+strings.Join(got, " ")+" ", " "+want+" ") {
			t.Errorf("closure %v lacks %s", got, want)
		}
	}
	for _, p := range got {
		if strings.ContainsAny(p, "<>: ") || strings.HasPrefix(p, "Depends") {
			t.Errorf("closure has %q", p)
		}
	}
	if len(dependsClosure("")) != 0 || len(dependsClosure("  Depends: x\n<virtual>\n")) != 0 {
		t.Error("no package lines, yet a closure")
	}
}

// TestEnsureE2E builds the suite and its images into the real cache (8
// minutes cold; seconds after) and runs each image's programs chrooted, as
// the pods will.
func TestEnsureE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Kubernetes' e2e suite from source the first time")
	}
	c := testCache(t)
	e, err := EnsureE2E(t.Context(), c, config.Defaults().Kubernetes.Version, c.Log)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(e.Ginkgo, "version").CombinedOutput(); err != nil || !strings.Contains(string(out), "Ginkgo Version 2.") {
		t.Errorf("ginkgo version: %v %s", err, out)
	}
	if out, _ := exec.Command(e.Test, "--help").CombinedOutput(); !strings.Contains(string(out), "-ginkgo.label-filter") {
		t.Errorf("e2e.test --help does not look like the suite: %.300s", out)
	}
	if len(e.Images) != 11 {
		t.Fatalf("images %+v", e.Images)
	}
	for _, im := range e.Images {
		if len(im.SHA256) != 64 {
			t.Errorf("%s: hash %q", im.Ref, im.SHA256)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: the images are not run chrooted")
	}
	for _, img := range e.Images {
		checkE2EImage(t, img)
	}
}

// checkE2EImage unpacks the image and runs what the suite runs in it,
// chrooted, as the pods will.
func checkE2EImage(t *testing.T, img Image) {
	root := t.TempDir()
	image := loadImage(t, img.Path, img.Ref)
	cfg, err := image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Config.Labels["org.opencontainers.image.description"]; !strings.Contains(d, "busybox-static") {
		t.Errorf("%s: description %q does not say what it is made of", img.Ref, d)
	}
	rc := mutate.Extract(image)
	untar := exec.Command("tar", "-x", "-p", "-C", root)
	untar.Stdin = rc
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("untar: %v: %s", err, out)
	}
	rc.Close()
	if fi, err := os.Stat(filepath.Join(root, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("%s: /tmp is %v, want 1777", img.Ref, fi.Mode())
	}
	cmds := map[string]string{
		"sh -c echo ok": "ok",
		// As a ConfigMap's key, given as a variable by the kubelet.
		"sh -c env":                    "data-1=x",
		"wget --help":                  "Usage: wget",
		"mv --help":                    "Usage: mv",
		"id user-defined-in-image":     "uid=1000(user-defined-in-image)",
		"id -Gn user-defined-in-image": "group-defined-in-image",
	}
	name := img.Ref[strings.LastIndex(img.Ref, "/")+1 : strings.LastIndex(img.Ref, ":")]
	entry := strings.Join(append(cfg.Config.Entrypoint, cfg.Config.Cmd...), " ")
	want := map[string]string{"busybox": "sh", "agnhost": "/agnhost pause", "jessie-dnsutils": "sh",
		"kitten": "/agnhost test-webserver", "nautilus": "/agnhost test-webserver", "nginx": "nginx -g daemon off;",
		"httpd": "httpd-foreground", "nonroot": "sh", "nonewprivs": "nnp"}[name]
	if entry != want {
		t.Errorf("%s: runs %q, want %q", img.Ref, entry, want)
	}
	switch name {
	case "agnhost", "kitten", "nautilus":
		cmds["/agnhost --help"] = "netexec"
		cmds["/agnhost-2 --help"] = "netexec"
		cmds["curl --version"] = "curl "
		cmds["dig -v"] = "DiG 9"
		cmds["nc -h"] = "OpenBSD netcat"
		cmds["ss -V"] = "iproute2"
		cmds["getent passwd daemon"] = "daemon:x:1:1"
		cmds["cat /localhost.crt"] = "BEGIN CERTIFICATE"
		if name != "agnhost" {
			cmds["cat /data.json"] = name + ".jpg"
		}
	case "jessie-dnsutils":
		cmds["dig -v"] = "DiG 9"
		cmds["getent passwd daemon"] = "daemon:x:1:1"
	case "busybox", "nonroot":
		cmds["nslookup --help"] = "nslookup"
		if name == "busybox" { // the sysctl test runs /bin/sysctl
			cmds["/bin/sysctl -n kernel.ostype"] = "Linux"
		}
	case "nginx":
		cmds["nginx -t"] = "syntax is ok"
		cmds["cat /usr/share/nginx/html/index.html"] = "Welcome to nginx"
	case "httpd":
		cmds["httpd -d /usr/local/apache2 -f conf/httpd.conf -t"] = "Syntax OK"
		cmds["cat /usr/local/apache2/htdocs/index.html"] = "It works!"
	case "nonewprivs":
		cmds["su -s /usr/local/bin/nnp nobody"] = "Effective uid: 0"
	}
	if name == "nonroot" && cfg.Config.User != "1234" {
		t.Errorf("nonroot runs as %q", cfg.Config.User)
	}
	for cmd, want := range cmds {
		args := []string{root}
		if strings.HasPrefix(cmd, "sh -c ") {
			args = append(args, "sh", "-c", strings.TrimPrefix(cmd, "sh -c "))
		} else {
			args = append(args, strings.Fields(cmd)...)
		}
		// With a /proc of its own: httpd logs to /proc/self/fd/1 and 2.
		os.MkdirAll(filepath.Join(root, "proc"), 0o755)
		c := exec.Command("unshare", append([]string{"--mount", "--pid", "--fork", "--mount-proc=" + filepath.Join(root, "proc"), "chroot"}, args...)...)
		c.Env = append(cfg.Config.Env, "HOME=/root", "data-1=x")
		out, _ := c.CombinedOutput()
		if !strings.Contains(string(out), want) {
			t.Errorf("%s: chroot %s = %.300q, want %q", img.Ref, cmd, out, want)
		}
	}
}
