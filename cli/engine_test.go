package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshready/meshready/engine"
	"github.com/meshready/meshready/toolchain"
)

const itStack = `config:
  meshready:region: hel1
  meshready:provider: hetzner
  meshready:nodes:
    controlPlanes: 1
    workers: 1
    serverType: cx22
    image: debian-12
`

// TestUpOutputsDestroyThroughTheRealEngine runs meshready up, outputs and
// destroy on a throw-away project through the Pulumi CLI built from pkg/v3
// and a file backend, and checks that a secret config value never reaches the
// state or the stack file in plain text.
func TestUpOutputsDestroyThroughTheRealEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Pulumi CLI (built on first use)")
	}
	dir := newProject(t, map[string]string{"it": itStack})
	t.Setenv("PULUMI_HOME", t.TempDir()) // leave the user's ~/.pulumi alone
	t.Setenv("PULUMI_BACKEND_URL", "")
	env := map[string]string{"PULUMI_CONFIG_PASSPHRASE": "", "PULUMI_CONFIG_PASSPHRASE_FILE": "", "HCLOUD_TOKEN": ""}
	const token = "tok-plaintext-4b1d"

	// Set the token the way a user does, with the pinned Pulumi CLI.
	cacheDir, err := toolchain.DefaultDir(os.Getenv)
	must(t, err)
	cache := toolchain.Cache{Dir: cacheDir, ProjectDir: repoRoot(t), Log: testLogger(t)}
	root, err := cache.Ensure(t.Context(), engine.PulumiTool())
	must(t, err)
	pulumiBin := filepath.Join(root, "bin", "pulumi")
	// The first meshready call makes the passphrase file; preview creates the stack.
	r := runCLI(t, map[string]string{"HCLOUD_TOKEN": "only-for-preview"}, "--project-dir", dir, "preview", "--stack", "it")
	if r.code != ExitOK {
		t.Fatalf("preview: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	passFile := filepath.Join(dir, ".meshready", "passphrase")
	if fi, err := os.Stat(passFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("passphrase file: %v %v", fi, err)
	}
	cmd := exec.Command(pulumiBin, "config", "set", "--secret", "hetzner:token", token, "--stack", "it")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PULUMI_CONFIG_PASSPHRASE_FILE="+passFile, "PULUMI_SKIP_UPDATE_CHECK=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pulumi config set: %v\n%s", err, out)
	}

	r = runCLI(t, env, "--project-dir", dir, "up", "--stack", "it", "--yes")
	if r.code != ExitOK {
		t.Fatalf("up: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "meshready:infra:NodePool") {
		t.Errorf("up did not stream Pulumi's progress:\n%s", r.stdout)
	}

	r = runCLI(t, env, "--project-dir", dir, "outputs", "--stack", "it", "--json")
	if r.code != ExitOK {
		t.Fatalf("outputs: exit %d\n%s", r.code, r.stderr)
	}
	var outs struct {
		Region   string `json:"region"`
		Provider string `json:"provider"`
		Nodes    []struct{ Name, Role string }
	}
	must(t, json.Unmarshal([]byte(r.stdout), &outs))
	if outs.Region != "hel1" || outs.Provider != "hetzner" || len(outs.Nodes) != 2 || outs.Nodes[0].Name != "hel1-cp-1" {
		t.Errorf("outputs = %+v", outs)
	}

	stackFile, err := os.ReadFile(filepath.Join(dir, "stacks", "Pulumi.it.yaml"))
	must(t, err)
	if !strings.Contains(string(stackFile), "secure:") || strings.Contains(string(stackFile), token) {
		t.Errorf("stack file does not hold the token encrypted:\n%s", stackFile)
	}
	state := readState(t, dir)
	if strings.Contains(state, token) {
		t.Errorf("state holds the token in plain text")
	}
	if !strings.Contains(state, "meshready:stack:Region") {
		t.Errorf("state lacks the region component")
	}

	// A second up changes nothing.
	r = runCLI(t, env, "--project-dir", dir, "up", "--stack", "it", "--yes")
	if r.code != ExitOK || !strings.Contains(r.stdout, "3 unchanged") {
		t.Errorf("second up: exit %d\n%s", r.code, r.stdout)
	}

	r = runCLI(t, env, "--project-dir", dir, "destroy", "--stack", "it", "--yes")
	if r.code != ExitOK {
		t.Fatalf("destroy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(readState(t, dir), "meshready:stack:Region") {
		t.Errorf("destroy left resources in the state")
	}
}

// readState returns every checkpoint file of the file backend as one string.
func readState(t *testing.T, dir string) string {
	t.Helper()
	var all strings.Builder
	err := filepath.Walk(filepath.Join(dir, ".meshready", "state"), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() && strings.HasSuffix(p, ".json") && strings.Contains(p, "stacks") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			all.Write(b)
		}
		return nil
	})
	must(t, err)
	if all.Len() == 0 {
		t.Fatalf("no state files under %s", dir)
	}
	return all.String()
}
