package toolchain

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hello is a tool module pinned on golang.org/x/mod, which the main module
// already needs, so the test builds offline from the module cache.
func writeHello(t *testing.T, project, version, goSum string) {
	t.Helper()
	dir := filepath.Join(project, "tools", "hello")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":  "module example.com/hello\n\ngo 1.26.0\n\nrequire golang.org/x/mod " + version + "\n",
		"go.sum":  goSum,
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"golang.org/x/mod/semver\"\n)\n\nvar stamp string\n\nfunc main() { fmt.Println(stamp, semver.IsValid(stamp)) }\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// xmod is the main module's golang.org/x/mod version and its go.sum lines.
func xmod(t *testing.T) (version, goSum string) {
	t.Helper()
	sum, err := os.ReadFile("../go.sum")
	if err != nil {
		t.Fatal(err)
	}
	var modSum []string
	for _, l := range strings.Split(string(sum), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "golang.org/x/mod" {
			modSum = append(modSum, l)
			version = strings.TrimSuffix(f[1], "/go.mod")
		}
	}
	if version == "" {
		t.Fatal("golang.org/x/mod not in go.sum")
	}
	return version, strings.Join(modSum, "\n") + "\n"
}

func TestEnsureBuildsOncePerPin(t *testing.T) {
	version, goSum := xmod(t)
	project := t.TempDir()
	writeHello(t, project, version, goSum)
	c := Cache{Dir: t.TempDir(), ProjectDir: project, Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	tool := Tool{Name: "hello", Module: "golang.org/x/mod", Package: ".", Binary: "hello",
		Ldflags: func(v string) string { return "-X main.stamp=" + v }}

	root, err := c.Ensure(t.Context(), tool)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(c.Dir, "tools", "hello-"+version); root != want {
		t.Errorf("root = %s, want %s", root, want)
	}
	bin := filepath.Join(root, "bin", "hello")
	out, err := exec.Command(bin).Output()
	if err != nil || strings.TrimSpace(string(out)) != version+" true" {
		t.Fatalf("built tool says %q (%v), want the pin stamped in", out, err)
	}
	before, _ := os.Stat(bin)
	if _, err := c.Ensure(t.Context(), tool); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(bin)
	if !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("second Ensure rebuilt an unchanged pin")
	}

	// A new stamp at the same pin is a new build, not the old binary.
	restamped := tool
	restamped.Ldflags = func(v string) string { return "-X main.stamp=" + v + "+meta" }
	restamped.Stamp = "+meta"
	root2, err := c.Ensure(t.Context(), restamped)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(root2, "bin", "hello")).Output(); root2 == root || err != nil ||
		strings.TrimSpace(string(out)) != version+"+meta true" {
		t.Errorf("restamped tool at %s says %q (%v), want a build of its own with the new stamp", root2, out, err)
	}

	// A pin that is not required is a clear error, not a build of something else.
	tool.Module = "example.com/not-required"
	if _, err := c.Ensure(t.Context(), tool); err == nil || !strings.Contains(err.Error(), "does not require example.com/not-required") {
		t.Errorf("want a pin error, got %v", err)
	}
}

func TestBinariesAreNamedAsGoBuildNamesThem(t *testing.T) {
	for _, tc := range []struct {
		pkgs []string
		want string
	}{
		{nil, "single"},
		{[]string{"k8s.io/kubernetes/cmd/kubeadm"}, "kubeadm"},
		{[]string{"github.com/coredns/coredns"}, "coredns"},
		{[]string{"go.etcd.io/etcd/server/v3"}, "server"},
		{[]string{"example.com/x/v10"}, "x"},
		{[]string{"example.com/tool/v1"}, "v1"},
		{[]string{"example.com/tool/v0"}, "v0"},
		{[]string{"v2"}, "v2"},
	} {
		got := Tool{Binary: "single", Packages: tc.pkgs}.Binaries()
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("Binaries(%v) = %v, want [%s]", tc.pkgs, got, tc.want)
		}
	}
}

// A tool of several main packages is one build; a missing binary rebuilds it.
func TestEnsureBuildsSeveralPackages(t *testing.T) {
	version, goSum := xmod(t)
	project := t.TempDir()
	writeHello(t, project, version, goSum)
	dir := filepath.Join(project, "tools", "hello")
	files := map[string]string{
		"cmd/a/main.go":    "package main\n\nvar stamp, tag string\n\nfunc main() { println(\"a\", stamp, tag) }\n",
		"cmd/a/tag.go":     "//go:build extra\n\npackage main\n\nfunc init() { tag = \"extra\" }\n",
		"cmd/b/v2/main.go": "package main\n\nfunc main() { println(\"b\") }\n",
	}
	for name, body := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := Cache{Dir: t.TempDir(), ProjectDir: project, Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	tool := Tool{Name: "hello", Module: "golang.org/x/mod", Binary: "ignored",
		Packages: []string{"example.com/hello/cmd/a", "example.com/hello/cmd/b/v2"},
		Env:      []string{"GOFLAGS=-tags=extra"},
		Ldflags:  func(v string) string { return "-X main.stamp=" + v }}
	root, err := c.Ensure(t.Context(), tool)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(root, "bin", "a")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "a "+version+" extra" {
		t.Fatalf("a says %q (%v), want the pin and the Env's build tag", out, err)
	}
	b := filepath.Join(root, "bin", "b")
	if out, err := exec.Command(b).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "b" {
		t.Fatalf("b says %q (%v)", out, err)
	}
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ensure(t.Context(), tool); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b); err != nil {
		t.Errorf("a missing binary was not rebuilt: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(root, ".build-*")); len(left) > 0 {
		t.Errorf("build folders left behind: %v", left)
	}
}

// A tool's TestPackage is built as a test binary beside its mains, with the
// same linker flags.
func TestEnsureBuildsATestBinary(t *testing.T) {
	version, goSum := xmod(t)
	project := t.TempDir()
	writeHello(t, project, version, goSum)
	dir := filepath.Join(project, "tools", "hello")
	files := map[string]string{
		"suite/suite.go":      "package suite\n\nvar stamp string\n",
		"suite/suite_test.go": "package suite\n\nimport \"testing\"\n\nfunc TestStamp(t *testing.T) { t.Log(\"stamp\", stamp) }\n",
	}
	for name, body := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := Cache{Dir: t.TempDir(), ProjectDir: project, Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	tool := Tool{Name: "hello", Module: "golang.org/x/mod", Package: "example.com/hello", Binary: "hello",
		TestPackage: "example.com/hello/suite",
		Ldflags:     func(v string) string { return "-X example.com/hello/suite.stamp=" + v }}
	if got := strings.Join(tool.Binaries(), " "); got != "hello suite.test" {
		t.Fatalf("Binaries() = %s", got)
	}
	root, err := c.Ensure(t.Context(), tool)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(root, "bin", "suite.test"), "-test.v").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "stamp "+version) {
		t.Fatalf("suite.test says %q (%v), want the pin", out, err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "hello")); err != nil {
		t.Errorf("the main package was not built: %v", err)
	}
}
