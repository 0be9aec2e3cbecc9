package bundle

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/toolchain"
)

func TestImages(t *testing.T) {
	want := []ImageSpec{
		{Ref: "registry.k8s.io/kube-apiserver:v1.34.4", Binary: "kube-apiserver"},
		{Ref: "registry.k8s.io/kube-controller-manager:v1.34.4", Binary: "kube-controller-manager"},
		{Ref: "registry.k8s.io/kube-scheduler:v1.34.4", Binary: "kube-scheduler"},
		{Ref: "registry.k8s.io/kube-proxy:v1.34.4", Binary: "kube-proxy", Netfilter: true},
		{Ref: "registry.k8s.io/coredns/coredns:v1.12.1", Binary: "coredns"},
		{Ref: "registry.k8s.io/pause:3.10.1", Binary: "pause"},
		{Ref: "registry.k8s.io/etcd:3.6.5-0", Binary: "etcd"},
	}
	for _, tc := range []struct {
		version config.Version
		want    []ImageSpec
		err     string
	}{
		{version: "1.34.4", want: want},
		{version: "v1.34.4", want: want},
		{version: config.Defaults().Kubernetes.Version, want: want},
		{version: "1.34.3", err: "no image list for Kubernetes v1.34.3: the local bundle knows v1.34.4"},
		{version: "1.33.0", err: "no image list for Kubernetes v1.33.0"},
		{version: "1.34", err: `"1.34" is not MAJOR.MINOR.PATCH`},
	} {
		got, err := Images(tc.version)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Images(%s): err %v, want %q", tc.version, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Images(%s) = %+v, %v; want %+v", tc.version, got, err, tc.want)
		}
	}
}

func TestFileName(t *testing.T) {
	for ref, want := range map[string]string{
		"registry.k8s.io/kube-apiserver:v1.34.4":  "kube-apiserver_v1.34.4.tar",
		"registry.k8s.io/coredns/coredns:v1.12.1": "coredns_v1.12.1.tar",
		"registry.k8s.io/etcd:3.6.5-0":            "etcd_3.6.5-0.tar",
	} {
		if got := (ImageSpec{Ref: ref}).FileName(); got != want {
			t.Errorf("FileName(%s) = %s, want %s", ref, got, want)
		}
	}
}

func modFile(t *testing.T, tool string) *modfile.File {
	t.Helper()
	path := filepath.Join("..", "tools", tool, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func modRequires(t *testing.T, tool string) map[string]string {
	t.Helper()
	req := map[string]string{}
	for _, r := range modFile(t, tool).Require {
		req[r.Mod.Path] = r.Mod.Version
	}
	return req
}

// The image table, the tools modules and the Tools must agree: kubeadm asks
// for the images of releases, and their binaries come from each release's
// tools module.
func TestToolsModuleMatchesTable(t *testing.T) {
	for _, v := range Versions() {
		t.Run(v, func(t *testing.T) { checkToolsModule(t, v) })
	}
}

func checkToolsModule(t *testing.T, v string) {
	r := releases[v]
	f := modFile(t, r.dir)
	req := modRequires(t, r.dir)
	if pin := req["k8s.io/kubernetes"]; pin != v {
		t.Fatalf("tools/%s pins k8s.io/kubernetes %q, releases says %s", r.dir, pin, v)
	}
	if got, want := req["go.etcd.io/etcd/server/v3"], "v"+strings.TrimSuffix(r.etcd, "-0"); got != want {
		t.Errorf("tools/%s builds etcd %s, kubeadm %s wants image etcd:%s", r.dir, got, v, r.etcd)
	}
	if got := modRequires(t, r.dir+"/coredns")["github.com/coredns/coredns"]; got != r.coredns {
		t.Errorf("tools/%s/coredns builds CoreDNS %s, kubeadm %s wants %s", r.dir, got, v, r.coredns)
	}
	staging := "v0" + strings.TrimPrefix(v, "v1")
	if len(f.Replace) < 31 {
		t.Errorf("%d replace lines; k8s.io/kubernetes %s has 31 staging modules, and pause is one more", len(f.Replace), v)
	}
	for _, rep := range f.Replace {
		if rep.Old.Path == "github.com/meshready/meshready/tools/pause" {
			if rep.New.Path != "../pause" {
				t.Errorf("replace %s => %s, want ../pause", rep.Old.Path, rep.New.Path)
			}
			continue
		}
		if rep.Old.Path != rep.New.Path || rep.New.Version != staging {
			t.Errorf("replace %s => %s %s, want => %s %s", rep.Old.Path, rep.New.Path, rep.New.Version, rep.Old.Path, staging)
		}
	}
	for _, tool := range []toolchain.Tool{ToolFor(v), CoreDNSTool(v)} {
		tools, err := os.ReadFile(filepath.Join("..", "tools", tool.Name, "tools.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range append(tool.Packages, tool.Package) {
			if p != "" && !strings.HasPrefix(p, "github.com/meshready/meshready/tools/"+r.dir) && !strings.Contains(string(tools), `"`+p+`"`) {
				t.Errorf("tools/%s/tools.go does not import %s, so go mod tidy would drop what it needs", tool.Name, p)
			}
		}
	}
}

func TestVersionLdflags(t *testing.T) {
	got := versionLdflags("v1.34.4", mustTime(t, "2026-02-10T12:53:36Z"))
	for _, want := range []string{
		"-X k8s.io/component-base/version.gitVersion=v1.34.4",
		"-X k8s.io/component-base/version.gitMajor=1 ",
		"-X k8s.io/component-base/version.gitMinor=34 ",
		"-X k8s.io/component-base/version.gitTreeState=archive",
		"-X k8s.io/component-base/version.buildDate=2026-02-10T12:53:36Z",
	} {
		if !strings.Contains(got+" ", want) {
			t.Errorf("ldflags %q lack %q", got, want)
		}
	}
}
