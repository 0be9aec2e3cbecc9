package bundle

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
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
