package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/internal/golden"
)

func TestGoldenJSON(t *testing.T) {
	b, err := json.MarshalIndent(fixtureReport(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/report.json", append(b, '\n'))
	if !bytes.Contains(b, []byte(`"fdatasyncP99": "10ms"`)) {
		t.Error("thresholds are not written as duration text")
	}
}

func TestGoldenMarkdown(t *testing.T) {
	golden.Check(t, "testdata/report.md", Markdown(fixtureReport()))
}

func TestGoldenHTML(t *testing.T) {
	b, err := HTML(fixtureReport())
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/report.html", b)
	s := string(b)
	if n := strings.Count(s, "<svg "); n != 4 {
		t.Errorf("want 4 charts (latency + 3 steal), got %d", n)
	}
	// Only the two measurable nodes draw steal lines; w-2 shows its reason instead.
	if n := strings.Count(s, "<polyline "); n != 4 {
		t.Errorf("want 4 steal polylines, got %d", n)
	}
	if !strings.Contains(s, "NOT MEASURABLE: virt container") {
		t.Error("unmeasurable steal chart lacks its reason")
	}
	selfContained(t, s)
}

func TestGoldenCompare(t *testing.T) {
	rs := []Report{fixtureReport(), fixtureLocal()}
	golden.Check(t, "testdata/compare.md", Compare(rs))
	b, err := CompareHTML(rs)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/compare.html", b)
	selfContained(t, string(b))
	cv := buildCompare(rs)
	want := map[string][2]string{
		IDDiskEtcd: {"FAIL", "PASS"}, IDDiskNVMe: {"WARN", "PASS"}, IDCPUSteal: {"WARN", "PASS"},
		IDMeshConvergence: {"NOT MEASURABLE", "PASS"}, IDNetworkRTT: {"WARN", "NOT MEASURABLE"},
	}
	for _, row := range cv.Rows {
		if w, ok := want[row.ID]; ok && (row.Cells[0].Verdict != w[0] || row.Cells[1].Verdict != w[1]) {
			t.Errorf("%s: got %s/%s, want %s/%s", row.ID, row.Cells[0].Verdict, row.Cells[1].Verdict, w[0], w[1])
		}
	}
}

// selfContained fails on anything a browser would fetch or run.
func selfContained(t *testing.T, s string) {
	t.Helper()
	if m := regexp.MustCompile(`(?i)<script|\ssrc=|\shref=|url\(|@import|<link|<iframe`).FindString(s); m != "" {
		t.Errorf("page is not self-contained: found %q", m)
	}
}

func TestEscaping(t *testing.T) {
	nodes := fixtureNodes()
	evil := `<script>alert("x")</script>|`
	nodes[0].Node, nodes[0].Disk.Device.Model = evil, evil
	nodes[2].Steal.Evidence = evil
	r := Evaluate("<b>r</b>", "p", nodes, nil, defaults(), fixedNow)
	h, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(h, []byte("<script")) || bytes.Contains(h, []byte("<b>r")) {
		t.Error("HTML does not escape measured text")
	}
	if md := Markdown(r); bytes.Contains(md, []byte("<script")) || !bytes.Contains(md, []byte(`&lt;script>alert("x")&lt;/script>\|`)) {
		t.Error("Markdown does not neutralise markup and pipes in cells")
	}
}

func TestWriteRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	r := fixtureReport()
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{JSONFile, MarkdownFile, HTMLFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v, want 0644", f, st.Mode().Perm())
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("dir holds %d entries, want 3 (temporary files left?)", len(ents))
	}
	back, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("Read(Write(r)) != r\n got %+v\nwant %+v", back, r)
	}
}

func TestReadRejectsSchema(t *testing.T) {
	for _, schema := range []string{"meshready.report/v2", ""} {
		dir := t.TempDir()
		b, _ := json.Marshal(map[string]any{"schema": schema, "nodes": []benchmarks.NodeResult{}})
		if err := os.WriteFile(filepath.Join(dir, JSONFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Read(dir)
		if err == nil || !strings.Contains(err.Error(), `reads only "meshready.report/v1"`) {
			t.Errorf("schema %q: err = %v, want a schema error", schema, err)
		}
	}
}

// TestEmptyReport: a run where nothing was measured still renders, and says so.
func TestEmptyReport(t *testing.T) {
	r := Evaluate("", "", nil, nil, defaults(), fixedNow)
	for _, c := range r.Claims {
		if c.Verdict != nm {
			t.Errorf("%s = %s with no data, want NOT MEASURABLE", c.ID, c.Verdict)
		}
	}
	if _, err := HTML(r); err != nil {
		t.Fatal(err)
	}
	if _, err := CompareHTML([]Report{r}); err != nil {
		t.Fatal(err)
	}
	if md := Markdown(r); !bytes.Contains(md, []byte("No node-to-node RTT was measured.")) {
		t.Errorf("empty markdown:\n%s", md)
	}
}

// TestGoldenMeshLatency: a region with the fortio runs shows them in a table
// of their own, in Markdown and HTML, beside the rows they decide.
func TestGoldenMeshLatency(t *testing.T) {
	run := func(v string, p90 time.Duration) benchmarks.LoadRun {
		return benchmarks.LoadRun{Variant: v, RequestedQPS: 1000, ActualQPS: 999.8, Connections: 16, Duration: 240 * time.Second,
			Calls: 239952, OK: 239952, P50: p90 * 6 / 10, P90: p90, P99: 2 * p90, P999: 4 * p90, Max: 9 * p90}
	}
	r := WithMeshLatency(fixtureReport(), benchmarks.MeshLatency{Client: "w-1", Server: "w-2", DataPlane: "Envoy sidecars",
		Runs: []benchmarks.LoadRun{run("baseline", 310*time.Microsecond), run("mtls", 790*time.Microsecond), run("plaintext", 745*time.Microsecond)}})
	golden.Check(t, "testdata/report-mesh-latency.md", Markdown(r))
	b, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/report-mesh-latency.html", b)
	if !strings.Contains(string(b), "<h2>Mesh latency</h2>") {
		t.Error("no mesh latency section in HTML")
	}
	selfContained(t, string(b))
}

// A conformance run shows as its own section: verdict, summary, the
// failed and the skipped tests with why; it survives a JSON round trip.
func TestGoldenConformance(t *testing.T) {
	r := fixtureReport()
	r.Conformance = &Conformance{
		Suite: "Kubernetes v1.34.4 e2e.test", Selection: "subset (Pods, Services, DNS)",
		Started: fixedNow, Seconds: 431, Processes: 4, Total: 424, Passed: 61,
		Failed:      []ConformanceCase{{Name: "[sig-network] DNS should provide DNS for services [Conformance]", Why: "timed out <waiting> | for pods"}},
		Skipped:     []ConformanceCase{{Name: "[sig-api-machinery] Aggregator Should be able to support the 1.17 Sample API Server using the current Aggregator [Conformance]", Why: "needs the sample-apiserver image"}},
		NotSelected: 361, JUnit: []string{"conformance/junit_01.xml"},
	}
	if got := r.Conformance.Verdict(); got != "FAIL" {
		t.Errorf("verdict %s with a failure", got)
	}
	golden.Check(t, "testdata/report-conformance.md", Markdown(r))
	b, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/report-conformance.html", b)
	if !strings.Contains(string(b), "<h2>Conformance</h2>") || !strings.Contains(string(b), "timed out &lt;waiting&gt;") {
		t.Error("no escaped conformance section in HTML")
	}
	selfContained(t, string(b))
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil || !reflect.DeepEqual(back.Conformance, r.Conformance) {
		t.Errorf("conformance did not round-trip: %+v %v", back.Conformance, err)
	}
	for _, tc := range []struct {
		c    Conformance
		want string
	}{
		{Conformance{Passed: 3}, "PASS"},
		{Conformance{Passed: 3, Skipped: []ConformanceCase{{}}}, "INCOMPLETE"},
		{Conformance{}, "INCOMPLETE"},
		{Conformance{Passed: 3, Failed: []ConformanceCase{{}}}, "FAIL"},
	} {
		if got := tc.c.Verdict(); got != tc.want {
			t.Errorf("Verdict(%+v) = %s, want %s", tc.c, got, tc.want)
		}
	}
}
