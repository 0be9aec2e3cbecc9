package conformance

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/meshready/meshready/internal/golden"
	"github.com/meshready/meshready/report"
)

func readCases(t *testing.T) []Case {
	t.Helper()
	f, err := os.Open("testdata/junit.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cases, err := ParseJUnit(f)
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

// The specs of a JUnit file as the e2e framework writes it (no message
// attribute; the failure in the text), golden.
func TestParseJUnit(t *testing.T) {
	b, err := json.MarshalIndent(readCases(t), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/junit.golden.json", append(b, '\n'))
	for _, bad := range []string{"", "<testsuites>", "not xml"} {
		if _, err := ParseJUnit(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseJUnit(%q): no error", bad)
		}
	}
}

func FuzzParseJUnit(f *testing.F) {
	seed, err := os.ReadFile("testdata/junit.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`<testsuites><testsuite><testcase name="[It] x [Conformance]" status="failed"><failure>` + strings.Repeat("é", 400) + `</failure></testcase></testsuite></testsuites>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cases, err := ParseJUnit(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, c := range cases {
			if c.Status != Passed && c.Status != Failed && c.Status != Skipped {
				t.Fatalf("status %q", c.Status)
			}
			if c.Status == Failed && c.Message == "" {
				t.Fatal("a failure without a message")
			}
			if len([]rune(c.Message)) > 301 && c.Status == Failed {
				t.Fatalf("failure message of %d runes", len([]rune(c.Message)))
			}
		}
	})
}

// Each conformance test counts once across the phases: where it ran,
// else where the suite skipped it, else as a known skip of the selection,
// else outside the selection.
func TestSummarize(t *testing.T) {
	parallel := readCases(t)
	// The serial phase ran the Pods test, which the parallel one filtered.
	serial := []Case{
		{Name: "[sig-node] Pods should get a host IP [NodeConformance] [Conformance]", Status: Passed},
		{Name: "[sig-network] Services should provide secure master service [Conformance]", Status: Skipped, Message: "skipped"},
	}
	skip := []Known{{Match: `Sample API Server`, Why: "no sample-apiserver image offline"}}
	var res report.Conformance
	if err := Summarize(&res, [][]Case{parallel, serial}, skip, Selection{Full: true}); err != nil {
		t.Fatal(err)
	}
	if res.Total != 6 || res.Passed != 2 || len(res.Failed) != 3 || len(res.Skipped) != 1 || res.NotSelected != 0 {
		t.Fatalf("summary %+v", res)
	}
	// What a failure says, up to ginkgo's "In [It] at:" line, on one line.
	if res.Failed[0].Why != "Test Panicked" || res.Failed[1].Why != "Failed to connect to exposed host ports" ||
		res.Failed[2].Why != `Timed out after 60.000s. Expected <string>: /bin/sh: line 1: /file: Read-only file system\n to equal <string>: /bin/sh: can't create /file: Read-only file system\n` {
		t.Errorf("failures %+v", res.Failed)
	}
	if res.Skipped[0].Why != "no sample-apiserver image offline" {
		t.Errorf("skips %+v", res.Skipped)
	}
	// With a focus that leaves the aggregator test out, its known skip is
	// not listed: it counts as outside the selection.
	res = report.Conformance{}
	if err := Summarize(&res, [][]Case{parallel, serial}, skip, Selection{Focus: "sig-network|sig-node"}); err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 0 || res.NotSelected != 1 {
		t.Errorf("focused summary %+v", res)
	}
	if err := Summarize(&res, [][]Case{{{Name: "not conformance", Status: Passed}}}, nil, Selection{}); err == nil {
		t.Error("no conformance test, yet no error")
	}
}

func TestSelection(t *testing.T) {
	for _, tc := range []struct {
		s    Selection
		err  string
		name string
	}{
		{Selection{}, "", "subset (API machinery, DNS, Services, Pods, ConfigMaps and Secrets, scheduling)"},
		{Selection{Full: true}, "", "full"},
		{Selection{Focus: `DNS`}, "", "focus DNS"},
		{Selection{Focus: `(`}, "is no regular expression", ""},
		{Selection{Full: true, Focus: "x"}, "not both", ""},
	} {
		err := tc.s.Validate()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Validate(%+v) = %v, want %q", tc.s, err, tc.err)
			}
			continue
		}
		if err != nil || tc.s.String() != tc.name {
			t.Errorf("%+v: %v %q", tc.s, err, tc.s.String())
		}
	}
	for _, f := range Subset {
		if err := (Selection{Focus: f}).Validate(); err != nil {
			t.Error(err)
		}
	}
	for _, k := range Offline {
		if err := (Selection{Focus: k.Match}).Validate(); err != nil || k.Why == "" {
			t.Errorf("known skip %+v: %v", k, err)
		}
	}
}

func TestReadProgress(t *testing.T) {
	out := "Running Suite\nWill run 395 of 7144 specs\nRunning in parallel across 4 processes\nSSS•SS•\n" +
		"------------------------------\n• [FAILED] [9.258 seconds]\n[sig-network] HostPort\n" +
		"------------------------------\nSS•• [TIMEDOUT] [60 seconds]\n"
	if got := ReadProgress(out); got != (Progress{Done: 5, Failed: 2, Total: 395}) {
		t.Errorf("ReadProgress = %+v", got)
	}
	if got := ReadProgress("building"); got != (Progress{}) {
		t.Errorf("ReadProgress before the suite = %+v", got)
	}
}
