package report

import (
	"fmt"
	"strings"
	"time"
)

// Conformance is a run of Kubernetes' own conformance suite (e2e.test of
// the cluster's release) against the region's cluster, as `meshready
// conformance` recorded it. Only tests labelled Conformance are counted.
type Conformance struct {
	// Suite names the suite: "Kubernetes v1.34.4 e2e.test".
	Suite string `json:"suite"`
	// Selection is what was asked to run: "full", "subset (…)" or "focus …".
	Selection string    `json:"selection"`
	Started   time.Time `json:"started"`
	// Seconds is the run's wall time.
	Seconds float64 `json:"seconds"`
	// Processes is how many ginkgo processes ran the parallel tests.
	Processes int `json:"processes"`
	// Total is the conformance tests in the suite, Passed those that passed.
	Total  int `json:"total"`
	Passed int `json:"passed"`
	// Failed are the tests that failed, each with the first line of its failure.
	Failed []ConformanceCase `json:"failed"`
	// Skipped are tests not run on this cluster, each with why (the
	// suite's own skip message, or why it cannot pass here).
	Skipped []ConformanceCase `json:"skipped"`
	// NotSelected are the conformance tests outside the selection.
	NotSelected int `json:"notSelected"`
	// JUnit are the suite's JUnit files, beside the report.
	JUnit []string `json:"junit"`
}

// ConformanceCase is one test and what happened to it.
type ConformanceCase struct {
	Name string `json:"name"`
	Why  string `json:"why"`
}

// Verdict is PASS when every selected test ran and passed, FAIL when one
// failed, and INCOMPLETE otherwise (tests skipped, or none run).
func (c Conformance) Verdict() string {
	switch {
	case len(c.Failed) > 0:
		return "FAIL"
	case len(c.Skipped) > 0 || c.Passed == 0:
		return "INCOMPLETE"
	}
	return "PASS"
}

// Summary is the run in one sentence.
func (c Conformance) Summary() string {
	s := fmt.Sprintf("%s, %s, started %s, took %s with %d parallel processes: %d passed, %d failed, %d skipped of %d conformance tests",
		c.Suite, c.Selection, c.Started.UTC().Format("2006-01-02 15:04 MST"),
		(time.Duration(c.Seconds) * time.Second).String(), c.Processes,
		c.Passed, len(c.Failed), len(c.Skipped), c.Total)
	if c.NotSelected > 0 {
		s += fmt.Sprintf(" (%d outside the selection)", c.NotSelected)
	}
	if len(c.JUnit) > 0 {
		s += "; JUnit: " + strings.Join(c.JUnit, ", ")
	}
	return s
}

// conformanceHeader heads the tables of failed and skipped tests.
var conformanceHeader = []string{"Test", "Why"}

func conformanceRows(cases []ConformanceCase) [][]string {
	rows := make([][]string, 0, len(cases))
	for _, c := range cases {
		rows = append(rows, []string{c.Name, c.Why})
	}
	return rows
}
