package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/meshready/meshready/engine"
	"github.com/meshready/meshready/internal/sshdtest"
	"github.com/meshready/meshready/report"
	"github.com/meshready/meshready/toolchain"
)

// itStack is a static stack whose one server is a real sshd on loopback (this
// machine: so Kubernetes is never bootstrapped on it); its
// benchmarks run short, in a scratch folder, and do not gate (the gate's
// verdicts are unit-tested; a busy CI host must not fail this test).
func itStack(s *sshdtest.Server, benchDir string) string {
	return fmt.Sprintf(`config:
  meshready:kubernetes:
    enabled: false
  meshready:benchmarks:
    dir: %s
    gate: false
    diskRuntime: 5s
    stealIdle: 5s
    stealLoaded: 5s
  meshready:region: loopback
  meshready:provider: static
  meshready:ssh:
    identityFile: %s
  meshready:nodes:
    controlPlanes: 1
    workers: 0
    static:
      - address: %s
        port: %d
        user: %s
        hostKey: %s
`, benchDir, s.ClientKeyFile, s.Address, s.Port, s.User, s.HostKeyFingerprint)
}

// TestUpOutputsDestroyThroughTheRealEngine runs meshready up, outputs and
// destroy on a throw-away project through the Pulumi CLI built from pkg/v3
// and a file backend, and checks that a secret config value never reaches the
// state or the stack file in plain text.
func TestUpOutputsDestroyThroughTheRealEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Pulumi CLI (built on first use)")
	}
	sideSlot(t) // beside the cluster tests (see main_test.go)
	sshd := sshdtest.Start(t)
	dir := newProject(t, map[string]string{"it": itStack(sshd, t.TempDir())})
	env := isolatePulumi(t) // leave the user's ~/.pulumi alone
	env["HCLOUD_TOKEN"] = ""
	const token = "tok-plaintext-4b1d"

	// Set the token the way a user does, with the pinned Pulumi CLI.
	cacheDir, err := toolchain.DefaultDir(os.Getenv)
	must(t, err)
	cache := toolchain.Cache{Dir: cacheDir, ProjectDir: repoRoot(t), Log: testLogger(t)}
	root, err := cache.Ensure(t.Context(), engine.PulumiTool())
	must(t, err)
	pulumiBin := filepath.Join(root, "bin", "pulumi")
	// The first meshready call makes the passphrase file; preview creates the stack.
	r := runCLI(t, env, "--project-dir", dir, "preview", "--stack", "it")
	if r.code != ExitOK {
		t.Fatalf("preview: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	passFile := filepath.Join(dir, ".meshready", "passphrase")
	if fi, err := os.Stat(passFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("passphrase file: %v %v", fi, err)
	}
	cmd := exec.Command(pulumiBin, "config", "set", "--secret", "hetzner:token", token, "--stack", "it")
	cmd.Dir = dir
	cmd.Env = append(withEnv(env), "PULUMI_CONFIG_PASSPHRASE_FILE="+passFile, "PULUMI_SKIP_UPDATE_CHECK=true")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pulumi config set: %v\n%s", err, out)
	}

	r = runCLI(t, env, "--project-dir", dir, "up", "--stack", "it", "--yes")
	if r.code != ExitOK {
		t.Fatalf("up: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "meshready:infra:Server") {
		t.Errorf("up did not stream Pulumi's progress:\n%s", r.stdout)
	}

	r = runCLI(t, env, "--project-dir", dir, "outputs", "--stack", "it", "--json")
	if r.code != ExitOK {
		t.Fatalf("outputs: exit %d\n%s", r.code, r.stderr)
	}
	var outs struct {
		Region   string `json:"region"`
		Provider string `json:"provider"`
		Nodes    []struct {
			Name, Role, Address, HostKeyFingerprint string
			SSHPort                                 int
			Disk                                    struct{ Device string }
		}
		SSHPrivateKey string `json:"sshPrivateKey"`
		Benchmarks    struct {
			Claims []struct{ ID, Node, Verdict, Measured string }
			Report string
		}
	}
	must(t, json.Unmarshal([]byte(r.stdout), &outs))
	if outs.Region != "loopback" || outs.Provider != "static" || len(outs.Nodes) != 1 {
		t.Fatalf("outputs = %+v\n%s", outs, r.stdout)
	}
	n := outs.Nodes[0]
	if n.Name != "it-cp-1" || n.Role != "control-plane" || n.Address != "127.0.0.1" || n.SSHPort != sshd.Port ||
		n.HostKeyFingerprint != sshd.HostKeyFingerprint || n.Disk.Device == "" {
		t.Errorf("node = %+v (the provider should have probed the server over SSH)", n)
	}
	verdicts := map[string]string{}
	for _, c := range outs.Benchmarks.Claims {
		verdicts[c.ID] = c.Verdict
	}
	if verdicts["disk-etcd"] == "" || verdicts["cpu-steal"] == "" || verdicts["envoy-per-hop"] != "NOT MEASURABLE" {
		t.Errorf("benchmark summary = %+v", outs.Benchmarks)
	}
	if _, err := os.Stat(filepath.Join(dir, outs.Benchmarks.Report, "report.html")); err != nil || outs.Benchmarks.Report != report.Dir("it") {
		t.Errorf("report %q: %v", outs.Benchmarks.Report, err)
	}
	if outs.SSHPrivateKey != "[secret]" {
		t.Errorf("sshPrivateKey shown as %q, want [secret]", outs.SSHPrivateKey)
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
	if !strings.Contains(state, "meshready:infra:Server") {
		t.Errorf("state lacks the server")
	}

	// A second up changes nothing.
	r = runCLI(t, env, "--project-dir", dir, "up", "--stack", "it", "--yes")
	if r.code != ExitOK || !strings.Contains(r.stdout, "5 unchanged") {
		t.Errorf("second up: exit %d\n%s", r.code, r.stdout)
	}

	// A new region needs a new cluster: refused, naming the key, before the
	// engine changes anything, unless --rebuild.
	moved := strings.Replace(string(stackFile), "meshready:region: loopback", "meshready:region: elsewhere", 1)
	must(t, os.WriteFile(filepath.Join(dir, "stacks", "Pulumi.it.yaml"), []byte(moved), 0o644))
	before := readState(t, dir)
	for _, args := range [][]string{{"preview", "--stack", "it"}, {"up", "--stack", "it", "--yes"}} {
		verb := args[0]
		r = runCLI(t, env, append([]string{"--project-dir", dir}, args...)...)
		if r.code != ExitBadInput || !strings.Contains(r.stderr, "meshready:region is elsewhere, the running cluster's is loopback") ||
			!strings.Contains(r.stderr, "--rebuild") {
			t.Errorf("%s with a new region: exit %d\n%s", verb, r.code, r.stderr)
		}
	}
	if readState(t, dir) != before {
		t.Errorf("a refused up changed the state")
	}
	// Without a cluster, its version is nobody's: a new one is no rebuild.
	noCluster := strings.Replace(string(stackFile), "    enabled: false\n", "    enabled: false\n    version: \"1.33.1\"\n", 1)
	must(t, os.WriteFile(filepath.Join(dir, "stacks", "Pulumi.it.yaml"), []byte(noCluster), 0o644))
	if r = runCLI(t, env, "--project-dir", dir, "preview", "--stack", "it"); r.code != ExitOK {
		t.Errorf("a new version on a stack without Kubernetes: exit %d\n%s", r.code, r.stderr)
	}
	must(t, os.WriteFile(filepath.Join(dir, "stacks", "Pulumi.it.yaml"), stackFile, 0o644))

	r = runCLI(t, env, "--project-dir", dir, "destroy", "--stack", "it", "--yes")
	if r.code != ExitOK {
		t.Fatalf("destroy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(readState(t, dir), "meshready:infra:Server") {
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

// TestUpRefusesAServerWithTheWrongHostKey: a static server whose key is not the
// configured one fails up with the reason, and destroy still cleans the state.
func TestUpRefusesAServerWithTheWrongHostKey(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Pulumi CLI")
	}
	sideSlot(t) // beside the cluster tests (see main_test.go)
	sshd := sshdtest.Start(t)
	wrong := *sshd
	wrong.HostKeyFingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	dir := newProject(t, map[string]string{"bad": itStack(&wrong, t.TempDir())})
	env := isolatePulumi(t)
	r := runCLI(t, env, "--project-dir", dir, "up", "--stack", "bad", "--yes")
	if r.code != ExitFailed || !strings.Contains(r.stdout+r.stderr, "host key mismatch") {
		t.Fatalf("up: exit %d, want 1 with the reason\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, env, "--project-dir", dir, "destroy", "--stack", "bad", "--yes")
	if r.code != ExitOK {
		t.Fatalf("destroy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// changes matches the lines of Pulumi's summary that count changes.
var changes = regexp.MustCompile(`(?m)^\s+[-+~]?\s*\d+ (to update|to replace|to create|to delete|updated|replaced|created|deleted)`)

// TestSecondCloneChangesNothing: a stack brought up from one clone, then
// previewed and brought up from a second clone at another path with its
// own copy of the SSH identity (as another CI workspace would), sharing
// the backend and passphrase: nothing is replaced or updated, the
// benchmarks do not run again, and the second clone gets the region report
// from the state.
func TestSecondCloneChangesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Pulumi CLI")
	}
	sideSlot(t) // beside the cluster tests (see main_test.go)
	sshd := sshdtest.Start(t)
	env := isolatePulumi(t)
	env["PULUMI_BACKEND_URL"] = "file://" + t.TempDir()
	env["PULUMI_CONFIG_PASSPHRASE"] = "second-clone-test"
	benchDir := t.TempDir()
	first := newProject(t, map[string]string{"clone": itStack(sshd, benchDir)})
	t.Cleanup(func() { runCLI(t, env, "--project-dir", first, "destroy", "--stack", "clone", "--yes") })
	r := runCLI(t, env, "--project-dir", first, "up", "--stack", "clone", "--yes")
	if r.code != ExitOK {
		t.Fatalf("up from the first clone: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	before, err := report.Read(filepath.Join(first, report.Dir("clone")))
	must(t, err)

	moved := *sshd
	key, err := os.ReadFile(sshd.ClientKeyFile)
	must(t, err)
	moved.ClientKeyFile = filepath.Join(t.TempDir(), "ci-workspace-key")
	must(t, os.WriteFile(moved.ClientKeyFile, key, 0o600))
	second := newProject(t, map[string]string{"clone": itStack(&moved, benchDir)})
	for _, verb := range []string{"preview", "up"} {
		args := []string{"--project-dir", second, verb, "--stack", "clone"}
		if verb == "up" {
			args = append(args, "--yes")
		}
		r = runCLI(t, env, args...)
		if r.code != ExitOK || !strings.Contains(r.stdout, "5 unchanged") || changes.MatchString(r.stdout) {
			t.Errorf("%s from the second clone changed something: exit %d\n%s\n%s", verb, r.code, r.stdout, r.stderr)
		}
	}
	after, err := report.Read(filepath.Join(second, report.Dir("clone")))
	if err != nil || !after.Generated.Equal(before.Generated) || len(after.Nodes) != 1 {
		t.Errorf("the second clone's report is not the first run's (benchmarks ran again?): %v, generated %v vs %v", err, after.Generated, before.Generated)
	}
}
