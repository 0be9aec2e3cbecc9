package golden

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEveryEndToEndTestHasItsOwnNetwork: test packages run in parallel, so
// two end-to-end tests on one bridge or subnet would tear down each other's
// machines. Every bridge and subnet a test file declares for real machines
// (a stack's local: block, or the local backend's test constants) is its own.
func TestEveryEndToEndTestHasItsOwnNetwork(t *testing.T) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	out, err := exec.Command("git", "-C", strings.TrimSpace(string(root)), "ls-files", "--cached", "--others", "--exclude-standard", "*_test.go").Output()
	if err != nil {
		t.Fatal(err)
	}
	bridge := regexp.MustCompile(`(?m)(?:bridge: |testBridge = ")(mr-[a-z0-9-]+)`)
	subnet := regexp.MustCompile(`(?m)(?:subnet: |testSubnet = netip\.MustParsePrefix\(")(10\.213\.\d+\.0/24)`)
	owner := map[string]string{}
	for _, f := range strings.Fields(string(out)) {
		b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(root)), f))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, re := range []*regexp.Regexp{bridge, subnet} {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				seen[m[1]] = true
			}
		}
		for name := range seen {
			if other, ok := owner[name]; ok {
				t.Errorf("%s is used by %s and %s: give each end-to-end test a bridge and subnet of its own", name, other, f)
			}
			owner[name] = f
		}
	}
	if len(owner) < 4 {
		t.Errorf("found only %v: has the way tests declare networks changed?", owner)
	}
}
