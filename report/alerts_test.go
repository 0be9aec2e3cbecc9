package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/internal/golden"
)

// TestAlertRulesGolden: the rules for the default thresholds, and a
// threshold set in config reaching its rule.
func TestAlertRulesGolden(t *testing.T) {
	b, err := AlertRules(config.Defaults().Benchmarks.Thresholds)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/alerts.rules.yml", b)
	th := config.Defaults().Benchmarks.Thresholds
	th.StealMeanPercent = 1.5
	b, err = AlertRules(th)
	if err != nil || !strings.Contains(string(b), `[5m])) > 1.5`) {
		t.Errorf("a stack's steal threshold is not the rule's: %v\n%s", err, b)
	}
}

// TestAlertRulesWithPromtool runs Prometheus' own rule checker and unit
// tests (testdata/alerts_test.yml: each alert fires on synthetic series
// above its threshold for 10 minutes, and only then, and only for them).
// promtool is built with Prometheus (bundle.PrometheusTool); the test says
// so and skips where it has not been built (make test builds it first).
func TestAlertRulesWithPromtool(t *testing.T) {
	promtool := os.Getenv("MESHREADY_PROMTOOL")
	if promtool == "" {
		matches, _ := filepath.Glob(filepath.Join(cacheDir(t), "tools", "prometheus-*", "bin", "promtool"))
		if len(matches) == 0 {
			t.Skip("promtool is not built here: make tools (or meshready tools --mesh) builds it with Prometheus")
		}
		promtool = matches[0]
	}
	for _, args := range [][]string{{"check", "rules", "alerts.rules.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "testdata"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// cacheDir is meshready's tool cache (MESHREADY_CACHE, else ~/.cache/meshready).
func cacheDir(t *testing.T) string {
	if d := os.Getenv("MESHREADY_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home folder for the tool cache")
	}
	return filepath.Join(home, ".cache", "meshready")
}
