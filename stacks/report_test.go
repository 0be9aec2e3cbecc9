package stacks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/report"
)

// up writes the region report again from state; the last conformance run,
// which state does not hold, stays in it.
func TestReportKeepsTheConformanceRun(t *testing.T) {
	dir := t.TempDir()
	w := reportWriter{dir: dir}
	rep := report.Report{Schema: report.Schema, Region: "r", Provider: "local", Generated: time.Unix(0, 0).UTC()}
	if err := w.writeReport(rep); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, report.MarkdownFile)); strings.Contains(string(b), "Conformance") {
		t.Fatal("a conformance section without a run")
	}
	c := report.Conformance{Suite: "Kubernetes v1.34.4 e2e.test", Selection: "full", Total: 424, Passed: 424}
	if err := report.WriteConformance(dir, c); err != nil {
		t.Fatal(err)
	}
	if err := w.writeReport(rep); err != nil {
		t.Fatal(err)
	}
	got, err := report.Read(dir)
	if err != nil || got.Conformance == nil || got.Conformance.Passed != 424 {
		t.Fatalf("report after up: %+v %v", got.Conformance, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, report.MarkdownFile)); !strings.Contains(string(b), "## Conformance") {
		t.Error("no conformance section in report.md")
	}
	os.WriteFile(filepath.Join(dir, report.ConformanceFile), []byte("{"), 0o644)
	if err := w.writeReport(rep); err == nil {
		t.Error("a broken conformance.json was ignored")
	}
}
