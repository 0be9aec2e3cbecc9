// Package conformance runs Kubernetes' own conformance suite (e2e.test,
// the binary the CNCF certification runs through Sonobuoy or hydrophone)
// against a stack's cluster, and reads what it found: which conformance
// tests passed, failed, or were skipped, and why.
package conformance

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// Status is what happened to one test.
type Status string

const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Skipped Status = "skipped"
)

// Case is one spec of a JUnit file as ginkgo writes it.
type Case struct {
	// Name is the spec's full text, without ginkgo's "[It] " prefix.
	Name   string
	Status Status
	// Message is the failure's or the skip's message ("skipped" alone for a
	// spec left out by the filters; the suite's reason when it skipped
	// itself at run time).
	Message string
	Seconds float64
}

// Conformance says whether the spec is one of the conformance tests.
func (c Case) Conformance() bool { return strings.Contains(c.Name, "[Conformance]") }

// Filtered says whether the spec was left out by the run's filters, not
// run: ginkgo reports those as skipped with the bare message "skipped".
func (c Case) Filtered() bool { return c.Status == Skipped && c.Message == "skipped" }

type junitSuites struct {
	Suites []struct {
		Cases []struct {
			Name    string  `xml:"name,attr"`
			Status  string  `xml:"status,attr"`
			Time    float64 `xml:"time,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"error"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// ParseJUnit reads the specs of a ginkgo JUnit report, leaving out the
// suite's own nodes ([SynchronizedBeforeSuite] and the like). A case's
// status is ginkgo's status attribute where it is one of passed, failed
// or skipped, else what its child elements say (a timed-out, panicked or
// interrupted spec counts as failed).
func ParseJUnit(r io.Reader) ([]Case, error) {
	var doc junitSuites
	dec := xml.NewDecoder(io.LimitReader(r, 256<<20))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("junit: %w", err)
	}
	var out []Case
	for _, s := range doc.Suites {
		for _, tc := range s.Cases {
			name, ok := strings.CutPrefix(tc.Name, "[It] ")
			if !ok {
				continue // [BeforeSuite], [ReportAfterSuite], ...
			}
			c := Case{Name: strings.TrimSpace(name), Seconds: tc.Time}
			switch {
			// The e2e framework leaves the message attribute out
			// (OmitFailureMessageAttr): the text has the failure.
			case tc.Failure != nil:
				c.Status, c.Message = Failed, firstLine(tc.Failure.Message+"\n"+tc.Failure.Text)
			case tc.Error != nil:
				c.Status, c.Message = Failed, firstLine(tc.Error.Message+"\n"+tc.Error.Text)
			case tc.Skipped != nil:
				c.Status, c.Message = Skipped, strings.TrimSpace(tc.Skipped.Message)
			case tc.Status == string(Passed):
				c.Status = Passed
			default:
				c.Status, c.Message = Failed, "status "+tc.Status
			}
			if c.Status == Failed && c.Message == "" {
				c.Message = "failed (no message)"
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// firstLine is what a failure says before ginkgo's "In [It] at:" line,
// on one line (gomega's "Expected" alone says nothing; what follows it
// does), without ginkgo's "[FAILED] " or "[TIMEDOUT] " marker, cut to 300
// runes.
func firstLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "In [") && strings.Contains(l, "] at: ") {
			break
		}
		if len(parts) == 0 && strings.HasPrefix(l, "[") {
			if i := strings.Index(l, "] "); i > 0 && !strings.Contains(l[:i], " ") {
				l = strings.TrimSpace(l[i+2:])
			}
		}
		parts = append(parts, l)
		if len(parts) > 12 {
			break
		}
	}
	l := strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
	if r := []rune(l); len(r) > 300 {
		l = string(r[:300]) + "…"
	}
	return strings.ToValidUTF8(l, "�")
}
