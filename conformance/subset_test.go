package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// conformanceTests are the codenames of test/conformance/testdata/
// conformance.yaml of the pinned k8s.io/kubernetes: every conformance
// test of the suite, by its full text.
func conformanceTests(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes")
	cmd.Dir = filepath.Join("..", "tools", "kubernetes")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m k8s.io/kubernetes: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "test", "conformance", "testdata", "conformance.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests []struct{ Codename string }
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(tests))
	for i, c := range tests {
		names[i] = c.Codename
	}
	return names
}

// The subset is dozens of quick tests in each of its areas; every known
// offline skip names exactly one conformance test.
func TestSubsetAndKnownSkipsMatchTheSuite(t *testing.T) {
	tests := conformanceTests(t)
	if len(tests) != 424 {
		t.Errorf("the pinned suite has %d conformance tests; the README says 424", len(tests))
	}
	var focus []*regexp.Regexp
	for _, f := range Subset {
		focus = append(focus, regexp.MustCompile(f))
	}
	var chosen []string
	for _, name := range tests {
		for _, re := range focus {
			if re.MatchString(name) {
				chosen = append(chosen, name)
				break
			}
		}
	}
	for _, f := range Subset {
		re := regexp.MustCompile(f)
		n := 0
		for _, name := range chosen {
			if re.MatchString(name) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("subset expression %s selects no conformance test", f)
		}
	}
	for _, name := range chosen {
		if strings.Contains(name, "[Slow]") {
			t.Errorf("the subset has a [Slow] test: %s", name)
		}
	}
	t.Logf("the subset selects %d of %d conformance tests:\n%s", len(chosen), len(tests), strings.Join(chosen, "\n"))
	if len(chosen) < 40 || len(chosen) > 120 {
		t.Errorf("the subset selects %d tests; want 40 to 120", len(chosen))
	}
	for _, k := range Offline {
		re := regexp.MustCompile(k.Match)
		n := 0
		for _, name := range tests {
			if re.MatchString(name) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("known skip %q matches %d conformance tests, want 1", k.Match, n)
		}
	}
}
