package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshready/meshready/engine"
	"github.com/meshready/meshready/internal/sshdtest"
	"github.com/meshready/meshready/toolchain"
)

// TestPlainPulumiUp is the design's first user: `pulumi preview`, `up` and
// `destroy` with the Pulumi CLI, in a checkout whose Pulumi.yaml is the
// committed one, with the meshready provider found on PATH (where `make
// build` puts it) and a secret set with `pulumi config set --secret`.
// Pulumi's Go language host is not in the module proxy: the test builds
// internal/langhost's stand-in as pulumi-language-go, which runs the
// program the way the real one does (`go build` of the project, then the
// binary with the engine's settings). meshready's own CLI reads the same
// stack afterwards.
func TestPlainPulumiUp(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Pulumi CLI and builds the program")
	}
	sideSlot(t) // beside the cluster tests (see main_test.go)
	sshd := sshdtest.Start(t)
	env := isolatePulumi(t)
	root := repoRoot(t)
	dir := t.TempDir()
	// A checkout: everything of the repository but its own state and stacks.
	entries, err := os.ReadDir(root)
	must(t, err)
	for _, e := range entries {
		switch e.Name() {
		case ".git", ".meshready", "stacks", "bin", "Pulumi.yaml":
			continue
		}
		must(t, os.Symlink(filepath.Join(root, e.Name()), filepath.Join(dir, e.Name())))
	}
	committed, err := os.ReadFile(filepath.Join(root, "Pulumi.yaml"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), committed, 0o644))
	// stacks/ is a Go package and the stack files' folder: the package's
	// files, and this test's stack file instead of the repository's.
	must(t, os.MkdirAll(filepath.Join(dir, "stacks"), 0o755))
	goFiles, err := filepath.Glob(filepath.Join(root, "stacks", "*.go"))
	must(t, err)
	for _, f := range goFiles {
		must(t, os.Symlink(f, filepath.Join(dir, "stacks", filepath.Base(f))))
	}
	must(t, os.WriteFile(filepath.Join(dir, "stacks", "Pulumi.plain.yaml"), []byte(itStack(sshd, t.TempDir())), 0o644))
	// What `make build` leaves: the provider and the state folder.
	must(t, os.MkdirAll(filepath.Join(dir, engine.PluginDir), 0o755))
	must(t, os.Symlink(os.Getenv("MESHREADY_PLUGIN_BINARY"), filepath.Join(dir, engine.PluginDir, "pulumi-resource-meshready")))
	must(t, os.MkdirAll(filepath.Join(dir, ".meshready", "state"), 0o700))

	hostDir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(hostDir, "pulumi-language-go"), "./internal/langhost/standin")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the language host stand-in: %v\n%s", err, out)
	}
	cacheDir, err := toolchain.DefaultDir(os.Getenv)
	must(t, err)
	cache := toolchain.Cache{Dir: cacheDir, ProjectDir: root, Log: testLogger(t)}
	pulumiRoot, err := cache.Ensure(t.Context(), engine.PulumiTool())
	must(t, err)

	const token = "tok-plain-pulumi-7c2e"
	pulumi := func(args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(pulumiRoot, "bin", "pulumi"), append(args, "--non-interactive")...)
		cmd.Dir = dir
		cmd.Env = append(withEnv(env), "PULUMI_CONFIG_PASSPHRASE=plain pulumi test", "PULUMI_SKIP_UPDATE_CHECK=true",
			"PATH="+hostDir+string(os.PathListSeparator)+filepath.Join(dir, engine.PluginDir)+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	mustPulumi := func(args ...string) string {
		t.Helper()
		out, err := pulumi(args...)
		if err != nil {
			t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	mustPulumi("stack", "init", "plain")
	t.Cleanup(func() { pulumi("destroy", "--yes", "--stack", "plain") })
	mustPulumi("config", "set", "--secret", "hetzner:token", token, "--stack", "plain")

	out := mustPulumi("preview", "--stack", "plain")
	if !strings.Contains(out, "meshready:infra:Server") || !strings.Contains(out, "to create") {
		t.Errorf("preview shows no server to create:\n%s", out)
	}
	out = mustPulumi("up", "--yes", "--skip-preview", "--stack", "plain")
	if !strings.Contains(out, "created") {
		t.Errorf("up created nothing:\n%s", out)
	}
	if strings.Contains(out, token) {
		t.Errorf("up printed the secret")
	}
	filepath.Walk(filepath.Join(dir, ".meshready", "state"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), token) {
				t.Errorf("%s holds the secret in plain text", p)
			}
		}
		return nil
	})
	var outs struct {
		Region string `json:"region"`
		Nodes  []struct{ Name, Address string }
	}
	must(t, json.Unmarshal([]byte(mustPulumi("stack", "output", "--json", "--stack", "plain")), &outs))
	if outs.Region != "loopback" || len(outs.Nodes) != 1 || outs.Nodes[0].Address != "127.0.0.1" {
		t.Errorf("stack outputs: %+v", outs)
	}
	// The state plain pulumi made is the one meshready reads.
	env["PULUMI_CONFIG_PASSPHRASE"] = "plain pulumi test"
	r := runCLI(t, env, "--project-dir", dir, "outputs", "--stack", "plain", "--json")
	var mine struct{ Region string }
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &mine) != nil || mine.Region != "loopback" {
		t.Errorf("meshready outputs of the stack plain pulumi made: exit %d\n%s\n%s", r.code, r.stdout, tailLines(r.stderr, 10))
	}
	if out := mustPulumi("preview", "--stack", "plain"); !strings.Contains(out, "unchanged") || changes.MatchString(out) {
		t.Errorf("a second preview changes something:\n%s", out)
	}
	mustPulumi("destroy", "--yes", "--skip-preview", "--stack", "plain")
	if out := mustPulumi("stack", "output", "--json", "--stack", "plain"); strings.TrimSpace(out) != "{}" {
		t.Errorf("outputs after destroy: %s", out)
	}
}
