package bundle

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/toolchain"
)

func testCache(t *testing.T) toolchain.Cache {
	t.Helper()
	dir, err := toolchain.DefaultDir(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	project, _ := filepath.Abs("..")
	return toolchain.Cache{Dir: dir, ProjectDir: project, Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
}

func TestEnsureRefusesAnotherVersion(t *testing.T) {
	c := testCache(t)
	c.Dir = t.TempDir() // nothing may be built
	_, err := Ensure(t.Context(), c, "1.33.2", c.Log)
	if err == nil || !strings.Contains(err.Error(), "Kubernetes v1.33.2 was asked for, but the local bundle builds v1.34.4, v1.35.4 only") {
		t.Errorf("want a clear refusal, got %v", err)
	}
	if _, err := Ensure(t.Context(), c, "1.34", c.Log); err == nil || !strings.Contains(err.Error(), "MAJOR.MINOR.PATCH") {
		t.Errorf("want a version error, got %v", err)
	}
}

// run runs a bundle program and returns its output.
func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v: %s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestEnsure builds each release's bundle into the real cache (minutes the
// first time on 2 cores; a second run finds it) and checks every program and
// image: the default release, and the one the local stack upgrades to.
func TestEnsure(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Kubernetes from source the first time")
	}
	if got := config.Defaults().Kubernetes.Version.Tag(); got != DefaultRelease {
		t.Errorf("config's default Kubernetes is %s, the bundle's default release %s", got, DefaultRelease)
	}
	for _, v := range Versions() {
		t.Run(v, func(t *testing.T) { checkEnsure(t, config.Version(v)) })
	}
}

func checkEnsure(t *testing.T, version config.Version) {
	c := testCache(t)
	tag, r := version.Tag(), releases[version.Tag()]
	start := time.Now()
	b, err := Ensure(t.Context(), c, version, c.Log)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Ensure took %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if _, err := Ensure(t.Context(), c, version, c.Log); err != nil {
		t.Fatal(err)
	}
	t.Logf("second Ensure took %v", time.Since(start).Round(time.Millisecond))

	if want := filepath.Join(c.Dir, "bundle", tag); b.Dir != want {
		t.Errorf("Dir = %s, want %s", b.Dir, want)
	}
	for _, name := range NodeBinaries { // in the folder local machines mount
		if b.Binaries[name] != filepath.Join(b.Dir, "bin", name) {
			t.Errorf("%s at %s, want it in %s/bin", name, b.Binaries[name], b.Dir)
		}
	}
	root, err := c.Root(ToolFor(tag))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin")
	if got := run(t, b.Binaries["kubeadm"], "version", "-o", "short"); got != tag {
		t.Errorf("kubeadm version -o short = %q", got)
	}
	if got := run(t, b.Binaries["kubelet"], "--version"); got != "Kubernetes "+tag {
		t.Errorf("kubelet --version = %q", got)
	}
	if got := run(t, b.Binaries["kubectl"], "version", "--client"); !strings.Contains(got, "Client Version: "+tag) {
		t.Errorf("kubectl version --client = %q", got)
	}
	for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"} {
		if got := run(t, filepath.Join(bin, c), "--version"); got != "Kubernetes "+tag {
			t.Errorf("%s --version = %q", c, got)
		}
	}
	if got := run(t, filepath.Join(bin, "etcd"), "--version"); !strings.Contains(got, "etcd Version: "+strings.TrimSuffix(r.etcd, "-0")) {
		t.Errorf("etcd --version = %q", got)
	}
	coredns, err := c.Root(CoreDNSTool(tag))
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, filepath.Join(coredns, "bin", "coredns"), "-version"); !strings.Contains(got, "CoreDNS-"+strings.TrimPrefix(r.coredns, "v")) {
		t.Errorf("coredns -version = %q", got)
	}
	// The bundle's images are exactly what this kubeadm will look for.
	list := run(t, b.Binaries["kubeadm"], "config", "images", "list", "--kubernetes-version", b.Version)
	var refs []string
	for _, img := range b.Images {
		refs = append(refs, img.Ref)
	}
	if list != strings.Join(refs, "\n") {
		t.Errorf("kubeadm config images list:\n%s\nbundle:\n%s", list, strings.Join(refs, "\n"))
	}
	for _, img := range b.Images {
		fi, err := os.Stat(img.Path)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := loadImage(t, img.Path, img.Ref).ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %.1f MB, entrypoint %v", filepath.Base(img.Path), float64(fi.Size())/1e6, cfg.Config.Entrypoint)
	}
	checkKubeProxyTools(t, b.Images[3])
	importWithCtr(t, b.Images)
}

// checkKubeProxyTools runs iptables, ip6tables and conntrack from the
// kube-proxy image's own files, chrooted, as the container would.
func checkKubeProxyTools(t *testing.T, img Image) {
	if !strings.Contains(img.Ref, "kube-proxy") {
		t.Fatalf("%s is not kube-proxy", img.Ref)
	}
	if os.Geteuid() != 0 {
		t.Log("not root: kube-proxy's tools are not run chrooted")
		return
	}
	root := t.TempDir()
	rc := mutate.Extract(loadImage(t, img.Path, img.Ref))
	defer rc.Close()
	untar := exec.Command("tar", "-x", "-C", root)
	untar.Stdin = rc
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("untar: %v: %s", err, out)
	}
	for cmd, want := range map[string]string{
		"iptables --version":          "(nf_tables)",
		"ip6tables-restore --version": "(nf_tables)",
		"iptables-legacy --version":   "(legacy)",
		"conntrack --version":         "conntrack v1",
		"kube-proxy --version":        "Kubernetes " + img.Ref[strings.LastIndex(img.Ref, ":")+1:],
	} {
		got := run(t, "chroot", append([]string{root}, strings.Fields(cmd)...)...)
		if !strings.Contains(got, want) {
			t.Errorf("chroot kube-proxy %s = %q, want %q", cmd, got, want)
		}
	}
	// A rule of the kind kube-proxy writes, committed in a network namespace
	// that ends with the command: the matches and targets (xtables extensions,
	// dlopened) load and the kernel takes them, nf_tables and legacy.
	if _, err := exec.LookPath("unshare"); err == nil {
		for _, ipt := range []string{"iptables", "ip6tables", "iptables-legacy"} {
			rules := "*nat\n-A POSTROUTING -m comment --comment x -m conntrack --ctstate DNAT -j MASQUERADE\nCOMMIT\n"
			cmd := exec.Command("unshare", "-n", "chroot", root, ipt+"-restore", "--verbose")
			cmd.Stdin = strings.NewReader(rules)
			if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "MASQUERADE") {
				t.Errorf("%s-restore in a new netns: %v: %s", ipt, err, out)
			}
		}
	}
	io.Copy(io.Discard, rc)
}

func TestPlace(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "bin", "dst")
	os.WriteFile(src, []byte("program"), 0o755)
	os.MkdirAll(filepath.Dir(dst), 0o755)
	for range 2 { // the second time it is there already
		if err := place(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := os.Stat(src)
	b, err := os.Stat(dst)
	if err != nil || !os.SameFile(a, b) {
		t.Errorf("dst is not a hard link of src: %v", err)
	}
	if err := copyFile(src, filepath.Join(dir, "copy")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "copy")); string(data) != "program" {
		t.Errorf("copy = %q", data)
	}
	if _, err := os.Stat(dst + ".tmp"); err == nil {
		t.Error("temp file left behind")
	}
}
