package bundle

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/meshready/meshready/toolchain"
)

// TestProbeSourcesAreMeshprobesPackages: the folders whose change rebuilds
// meshprobe are exactly the project's packages it is built from.
func TestProbeSourcesAreMeshprobesPackages(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	out, err := exec.Command("go", "list", "-C", root, "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./cmd/meshprobe").Output()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range strings.Fields(string(out)) {
		if rel, ok := strings.CutPrefix(p, "github.com/meshready/meshready/"); ok {
			got = append(got, rel)
		}
	}
	want := slices.Clone(ProbeSources)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("meshprobe is built from %v, ProbeSources says %v", got, want)
	}
}

// TestEnsureProbeBuildsOnlyOnChange: a second call with the same sources
// does not build; a changed source does.
func TestEnsureProbeBuildsOnlyOnChange(t *testing.T) {
	if testing.Short() {
		t.Skip("builds meshprobe")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	out := filepath.Join(t.TempDir(), "meshprobe.bin")
	if err := ensureProbe(t.Context(), root, out); err != nil {
		t.Fatal(err)
	}
	sum, err := probeSourceSum(root)
	if err != nil {
		t.Fatal(err)
	}
	// Make the recorded binary recognisable: an unchanged source keeps it.
	if err := writeMarker(out); err != nil {
		t.Fatal(err)
	}
	if err := ensureProbe(t.Context(), root, out); err != nil {
		t.Fatal(err)
	}
	if !hasMarker(out) {
		t.Error("meshprobe was built again with nothing changed")
	}
	if err := writeStamp(out, sum+"x"); err != nil {
		t.Fatal(err)
	}
	if err := ensureProbe(t.Context(), root, out); err != nil {
		t.Fatal(err)
	}
	if hasMarker(out) {
		t.Error("meshprobe was not built again after its sources changed")
	}
}

func writeMarker(path string) error { return os.WriteFile(path, []byte("marker"), 0o755) }
func writeStamp(bin, sum string) error {
	return os.WriteFile(bin+".sources", []byte(sum), 0o644)
}
func hasMarker(path string) bool {
	b, _ := os.ReadFile(path)
	return string(b) == "marker"
}

// TestPrometheusKeepsKubernetesDiscovery: the addon's Prometheus, as
// PrometheusTool builds it (without the clouds' service discovery),
// accepts a Kubernetes scrape config, the only kind Istio's addon has,
// and refuses one of a discovery it was built without (which shows the
// build tags took effect).
func TestPrometheusKeepsKubernetesDiscovery(t *testing.T) {
	dir, err := toolchain.DefaultDir(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	root, err := toolchain.Cache{Dir: dir, ProjectDir: ".."}.Root(PrometheusTool())
	if err != nil {
		t.Fatal(err)
	}
	promtool := filepath.Join(root, "bin", "promtool")
	if _, err := os.Stat(promtool); err != nil {
		t.Skip("the addon's Prometheus is not built here: meshready tools --mesh builds it")
	}
	check := func(sd string) (string, error) {
		f := filepath.Join(t.TempDir(), "prometheus.yml")
		if err := os.WriteFile(f, []byte("scrape_configs:\n- job_name: x\n  "+sd+"_sd_configs:\n  - "+map[string]string{"kubernetes": "role: pod", "ec2": "region: x"}[sd]+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(promtool, "check", "config", f).CombinedOutput()
		return string(out), err
	}
	if out, err := check("kubernetes"); err != nil {
		t.Errorf("kubernetes_sd_configs refused: %v\n%s", err, out)
	}
	if out, err := check("ec2"); err == nil || !strings.Contains(out, "ec2_sd_configs not found") {
		t.Errorf("ec2_sd_configs: %v\n%s; want refused (built without it)", err, out)
	}
}
