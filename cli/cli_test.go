package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the clone this test runs in.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// newProject makes a throw-away project: the real Pulumi.yaml, the given stack
// files, and the real tool pins.
func newProject(t testing.TB, stackFiles map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	pulumiYAML, err := os.ReadFile(filepath.Join(repoRoot(t), "Pulumi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), pulumiYAML, 0o644))
	// A project is a meshready clone: tools/ pins the tools, and the local
	// mesh builds cmd/meshprobe from the module.
	for _, f := range []string{"tools", "cmd", "mesh", "go.mod", "go.sum"} {
		must(t, os.Symlink(filepath.Join(repoRoot(t), f), filepath.Join(dir, f)))
	}
	must(t, os.MkdirAll(filepath.Join(dir, "stacks"), 0o755))
	for name, body := range stackFiles {
		must(t, os.WriteFile(filepath.Join(dir, "stacks", "Pulumi."+name+".yaml"), []byte(body), 0o644))
	}
	return dir
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t testing.TB, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errb, getenvWith(env))
	return result{code, out.String(), errb.String()}
}

// getenvWith reads env's variables, then the process's.
func getenvWith(env map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
}

// TestRepoStackFilesCarryNoSalt: Pulumi writes the passphrase's encryptionsalt
// into a stack file on first use. A committed salt belongs to one machine's
// passphrase, and every fresh clone then fails with "incorrect passphrase".
func TestRepoStackFilesCarryNoSalt(t *testing.T) {
	out, err := exec.Command("git", "-C", repoRoot(t), "ls-files", "stacks").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	for _, f := range strings.Fields(string(out)) {
		b, err := exec.Command("git", "-C", repoRoot(t), "show", ":"+f).Output()
		must(t, err)
		if strings.Contains(string(b), "encryptionsalt:") || strings.Contains(string(b), "encryptedkey:") {
			t.Errorf("%s is committed with a passphrase salt: remove the encryptionsalt line", f)
		}
	}
}

// TestValidateJSON: a good stack as one JSON object.
func TestValidateJSON(t *testing.T) {
	dir := newProject(t, map[string]string{"x": "config:\n  meshready:region: x\n"})
	r := runCLI(t, nil, "--project-dir", dir, "validate", "--stack", "x", "--json")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != ExitOK || got["ok"] != true || got["region"] != "x" ||
		got["controlPlanes"] != 1.0 || got["kubernetesVersion"] != "v1.34.4" {
		t.Errorf("exit %d %v: %s", r.code, err, r.stdout)
	}
	r = runCLI(t, nil, "--project-dir", dir, "validate", "--stack", "nope", "--json")
	var e JSONError
	if err := json.Unmarshal([]byte(r.stdout), &e); err != nil || r.code != ExitBadInput || !strings.Contains(e.Error.Message, `stack "nope"`) {
		t.Errorf("missing stack --json: exit %d, %v: %s", r.code, err, r.stdout)
	}
}

func TestValidateRepoStacks(t *testing.T) {
	for _, stack := range []string{"local", "oslo"} {
		r := runCLI(t, nil, "--project-dir", repoRoot(t), "validate", "--stack", stack)
		if r.code != ExitOK {
			t.Errorf("validate %s: exit %d\n%s", stack, r.code, r.stderr)
		}
	}
	// hel1 needs its token; given one, it validates.
	r := runCLI(t, map[string]string{"HCLOUD_TOKEN": "x"}, "--project-dir", repoRoot(t), "validate", "--stack", "hel1")
	if r.code != ExitOK {
		t.Errorf("validate hel1: exit %d\n%s", r.code, r.stderr)
	}
}

func TestValidateBadStacksExit2NamingTheKey(t *testing.T) {
	cases := map[string][]string{
		"bad-weights":        {"meshready:canary[0].subsets: weights sum to 105, want 100"},
		"bad-controlplanes":  {"meshready:nodes.controlPlanes: must be 1, 3 or 5"},
		"bad-version":        {"meshready:kubernetes.version: write the version as a quoted string"},
		"bad-version-quoted": {"meshready:kubernetes.version: 1.20.15 is below the minimum 1.21"},
		"bad-unknown":        {"meshready:nodes.wrokers: unknown key", "meshready:addon: unknown key"},
	}
	files := map[string]string{}
	for name := range cases {
		b, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
		must(t, err)
		files[name] = string(b)
	}
	dir := newProject(t, files)
	for name, want := range cases {
		r := runCLI(t, nil, "--project-dir", dir, "validate", "--stack", name)
		if r.code != ExitBadInput {
			t.Errorf("%s: exit %d, want 2", name, r.code)
		}
		for _, w := range want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", name, w, r.stderr)
			}
		}
		// --json: the same problems, as JSON on stdout, each with its key.
		r = runCLI(t, nil, "--project-dir", dir, "validate", "--stack", name, "--json")
		var e JSONError
		if err := json.Unmarshal([]byte(r.stdout), &e); err != nil || r.code != ExitBadInput || e.Error.Exit != ExitBadInput || len(e.Error.Problems) == 0 {
			t.Errorf("%s --json: exit %d, %v\n%s", name, r.code, err, r.stdout)
		}
		for _, p := range e.Error.Problems {
			if !strings.HasPrefix(p.Key, "meshready:") || p.Message == "" {
				t.Errorf("%s --json: problem %+v", name, p)
			}
		}
		// up refuses the same config before anything starts: no state is made.
		r = runCLI(t, nil, "--project-dir", dir, "up", "--stack", name, "--yes")
		if r.code != ExitBadInput {
			t.Errorf("up %s: exit %d, want 2", name, r.code)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".meshready", "state", ".pulumi")); err == nil {
		t.Errorf("bad config reached the backend")
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	dir := newProject(t, map[string]string{"x": "config:\n  meshready:region: x\n"})
	for _, args := range [][]string{
		{"validate", "--stack", "nope"},
		{"validate", "--no-such-flag"},
		{"up", "--stack", "x"}, // no --yes and no terminal
		{"destroy", "--stack", "x"},
		{"conformance", "--stack", "../x"},
	} {
		r := runCLI(t, nil, append([]string{"--project-dir", dir}, args...)...)
		if r.code != ExitBadInput {
			t.Errorf("%v: exit %d, want 2 (stderr %s)", args, r.code, r.stderr)
		}
	}
}

// conformance refuses bad flags, naming them, before anything runs.
func TestConformanceFlagsExit2(t *testing.T) {
	dir := newProject(t, map[string]string{"x": "config:\n  meshready:region: x\n"})
	for flags, want := range map[string]string{
		"--focus (unclosed":  `--focus "(unclosed" is no regular expression`,
		"--full --focus DNS": "give --full or --focus, not both",
		"--processes -1":     "--processes -1: want 1 to 32",
		"--processes 1000":   "--processes 1000: want 1 to 32",
	} {
		r := runCLI(t, nil, append([]string{"--project-dir", dir, "conformance", "--stack", "x"}, strings.Fields(flags)...)...)
		if r.code != ExitBadInput || !strings.Contains(r.stderr, want) {
			t.Errorf("conformance %s: exit %d, stderr %q; want 2 and %q", flags, r.code, r.stderr, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".meshready", "state", ".pulumi")); err == nil {
		t.Errorf("a refused conformance run reached the backend")
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range []string{"validate", "up", "preview", "refresh", "destroy", "outputs", "tools", "conformance"} {
		r := runCLI(t, nil, c, "--help")
		if r.code != ExitOK || !strings.Contains(r.stdout, "--stack") && c != "tools" {
			t.Errorf("%s --help: exit %d\n%s", c, r.code, r.stdout)
		}
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// A local stack asks only for a Kubernetes its bundle builds: any other
// is bad input, named, before a bundle build or the engine starts.
func TestLocalVersionOutsideTheBundleExit2(t *testing.T) {
	dir := newProject(t, map[string]string{"lv": "config:\n  meshready:region: lv\n  meshready:provider: local\n  meshready:kubernetes:\n    version: \"1.34.6\"\n  meshready:istio:\n    enabled: false\n"})
	r := runCLI(t, isolatePulumi(t), "--project-dir", dir, "preview", "--stack", "lv")
	if r.code != ExitBadInput || !strings.Contains(r.stderr, "meshready:kubernetes.version v1.34.6: a local stack installs only") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
