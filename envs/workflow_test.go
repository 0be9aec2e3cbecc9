package envs

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/meshready/meshready/toolchain"
)

// actionlint is the GitHub Actions workflow linter, pinned in tools/actionlint.
func actionlint(t *testing.T) string {
	t.Helper()
	dir, err := toolchain.DefaultDir(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	root, err := toolchain.Cache{Dir: dir, ProjectDir: "..", Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}.Ensure(t.Context(), toolchain.Tool{
		Name: "actionlint", Module: "github.com/rhysd/actionlint",
		Package: "github.com/rhysd/actionlint/cmd/actionlint", Binary: "actionlint", Took: "about 30 seconds",
	})
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "bin", "actionlint")
}

const workflow = "../.github/workflows/env.yml"

// TestWorkflowLintsClean runs actionlint (with shellcheck on the run:
// scripts where installed) on the example workflow, and on a broken copy to
// show that it really checks.
func TestWorkflowLintsClean(t *testing.T) {
	bin := actionlint(t)
	out, err := exec.Command(bin, "-no-color", workflow).CombinedOutput()
	if err != nil {
		t.Errorf("actionlint %s: %v\n%s", workflow, err, out)
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Log("shellcheck is not installed: run: scripts were not checked (make test installs it)")
	}
	b, err := os.ReadFile(workflow)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.yml")
	bad := strings.Replace(string(b), "if: always()", "if: alway()", 1)
	if err := os.WriteFile(broken, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-no-color", broken).CombinedOutput(); err == nil || !strings.Contains(string(out), "alway") {
		t.Errorf("actionlint passed a workflow calling an undefined function: %v\n%s", err, out)
	}
}

// TestWorkflowDoesWhatCINeeds reads the workflow's structure: a pull request
// creates an env with a report, smoke-tests it, keeps the report and always
// destroys the env; a schedule runs gc.
func TestWorkflowDoesWhatCINeeds(t *testing.T) {
	b, err := os.ReadFile(workflow)
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			If    string `yaml:"if"`
			Steps []struct {
				Name string            `yaml:"name"`
				If   string            `yaml:"if"`
				Uses string            `yaml:"uses"`
				Run  string            `yaml:"run"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{"pull_request", "schedule"} {
		if _, ok := wf.On[ev]; !ok {
			t.Errorf("the workflow does not run on %s", ev)
		}
	}
	pr, gc := wf.Jobs["pull-request"], wf.Jobs["gc"]
	var create, smoke, upload, destroy int = -1, -1, -1, -1
	for i, s := range pr.Steps {
		switch {
		case strings.Contains(s.Run, "meshready env create") && strings.Contains(s.Run, "--bench") && strings.Contains(s.Run, "--out env"):
			create = i
		case strings.Contains(s.Run, "--kubeconfig env/kubeconfig"):
			smoke = i
		case strings.HasPrefix(s.Uses, "actions/upload-artifact@") && s.With["path"] == "env/report" && s.If == "always()":
			upload = i
		case strings.Contains(s.Run, "meshready env destroy") && s.If == "always()":
			destroy = i
		}
	}
	if !(create >= 0 && create < smoke && smoke < upload && upload < destroy) {
		t.Errorf("pull-request steps: create %d, smoke test %d, upload report (always) %d, destroy (always) %d: want them all, in that order", create, smoke, upload, destroy)
	}
	ran := false
	for _, s := range gc.Steps {
		ran = ran || strings.Contains(s.Run, "meshready env gc")
	}
	if !ran || !strings.Contains(gc.If, "schedule") {
		t.Errorf("the scheduled gc job does not run env gc (if %q)", gc.If)
	}
}
