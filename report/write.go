package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/meshready/meshready/internal/fsutil"
)

// File names Write produces; Read and other tools find a run's outputs by them.
const (
	JSONFile     = "report.json"
	MarkdownFile = "report.md"
	HTMLFile     = "report.html"
)

// Write stores the report as report.json (the record Read and Compare use),
// report.md and report.html in dir, creating dir (0755) and files (0644).
// Each file is written to a temporary name and renamed, so a crash never
// leaves a half-written report behind.
func Write(dir string, r Report) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encode %s: %w", JSONFile, err)
	}
	page, err := HTML(r)
	if err != nil {
		return fmt.Errorf("report: render %s: %w", HTMLFile, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{JSONFile, append(js, '\n')}, {MarkdownFile, Markdown(r)}, {HTMLFile, page}} {
		if err := fsutil.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}

// Read loads dir/report.json, refusing any schema but Schema: numbers from a
// layout this binary does not know must not be judged or compared as if it did.
func Read(dir string) (Report, error) {
	return readReport(filepath.Join(dir, JSONFile))
}

func readReport(path string) (Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Report{}, fmt.Errorf("report: %w", err)
	}
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Report{}, fmt.Errorf("report: %s is not a report: %w", path, err)
	}
	if head.Schema != Schema {
		return Report{}, fmt.Errorf("report: %s has schema %q; this meshready reads only %q", path, head.Schema, Schema)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return Report{}, fmt.Errorf("report: %s: %w", path, err)
	}
	return r, nil
}

// Dir is where a stack's region report lives, relative to the project.
func Dir(stack string) string { return filepath.Join(".meshready", "reports", stack) }

// ConformanceFile holds the last conformance run in a report's folder,
// apart from report.json: up writes the report again from state, which
// does not hold conformance runs, and keeps this one (ReadConformance).
const ConformanceFile = "conformance.json"

// WriteConformance stores c as dir/conformance.json.
func WriteConformance(dir string, c Conformance) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encode %s: %w", ConformanceFile, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return fsutil.WriteFile(filepath.Join(dir, ConformanceFile), append(b, '\n'), 0o644)
}

// ReadConformance loads dir/conformance.json; nil without one.
func ReadConformance(dir string) (*Conformance, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConformanceFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var c Conformance
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("report: %s: %w", filepath.Join(dir, ConformanceFile), err)
	}
	return &c, nil
}

// HistoryDir is where bench keeps every run of a region, beside its report.
const HistoryDir = "history"

// AppendHistory stores r (without its History) as one more run in
// dir/history, named for the time it was generated.
func AppendHistory(dir string, r Report) error {
	r.History = nil
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encode history: %w", err)
	}
	h := filepath.Join(dir, HistoryDir)
	if err := os.MkdirAll(h, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	name := r.Generated.UTC().Format("20060102T150405.000Z") + ".json"
	return fsutil.WriteFile(filepath.Join(h, name), append(js, '\n'), 0o644)
}

// ReadHistory loads the newest keep runs of dir/history, oldest first. A
// file that is not a report of this schema is an error naming it: a run
// must not be left out of the history unseen.
func ReadHistory(dir string, keep int) ([]Report, error) {
	files, err := filepath.Glob(filepath.Join(dir, HistoryDir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	sort.Strings(files) // the names are times
	if len(files) > keep {
		files = files[len(files)-keep:]
	}
	var runs []Report
	for _, f := range files {
		r, err := readReport(f)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}
