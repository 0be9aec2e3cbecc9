package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/meshready/meshready/report"
)

// Subset is what `make test` runs: the areas where a regression in
// meshready's bootstrap, pod network or kube-proxy shows (API machinery
// through the API server, DNS, Services, Pods and their networking,
// ConfigMaps and Secrets, scheduling basics), as ginkgo focus expressions
// on the spec text, chosen among the tests that take seconds each.
var Subset = []string{
	`\[sig-api-machinery\] (CustomResourceDefinition|Discovery|Watchers|ResourceQuota|Servers with support for Table)`,
	`\[sig-network\] DNS should provide (DNS for the cluster|/etc/hosts entries|DNS for services)`,
	`\[sig-network\] Services should (provide secure master service|serve a basic endpoint from pods|serve multiport endpoints|be able to change the type from ClusterIP to ExternalName|find a service from listing all namespaces|be able to create a functioning NodePort service)`,
	`\[sig-network\] Networking Granular Checks: Pods should function for (intra|node)-pod communication`,
	`\[sig-node\] (Pods should (get a host IP|be submitted and removed|be updated)|ConfigMap|Secrets|Downward API should provide pod)`,
	`\[sig-storage\] (ConfigMap|Secrets|Projected configMap) should be consumable from pods in volume \[`,
	`\[sig-scheduling\] SchedulerPredicates \[Serial\] validates that NodeSelector is respected if matching`,
}

// Selection is which conformance tests a run asks for.
type Selection struct {
	// Full runs every conformance test.
	Full bool
	// Focus, when set, is a ginkgo focus (a Go regexp on the spec text).
	Focus string
}

// Validate refuses a focus that is no regexp, or both a focus and Full.
func (s Selection) Validate() error {
	if s.Full && s.Focus != "" {
		return fmt.Errorf("give --full or --focus, not both")
	}
	if _, err := regexp.Compile(s.Focus); err != nil {
		return fmt.Errorf("--focus %q is no regular expression: %w", s.Focus, err)
	}
	return nil
}

// String names the selection in the report.
func (s Selection) String() string {
	switch {
	case s.Full:
		return "full"
	case s.Focus != "":
		return "focus " + s.Focus
	}
	return "subset (API machinery, DNS, Services, Pods, ConfigMaps and Secrets, scheduling)"
}

// focus is the ginkgo --focus values (any matches).
func (s Selection) focus() []string {
	switch {
	case s.Full:
		return nil
	case s.Focus != "":
		return []string{s.Focus}
	}
	return Subset
}

// Known is a test that cannot pass on a kind of cluster, and why: it is
// not run there, and the report lists it with the reason.
type Known struct {
	// Match is a Go regexp on the spec text.
	Match string
	Why   string
}

// Offline are the conformance tests that cannot pass on the local stack,
// whose nodes have no registry to pull from and share the host's kernel.
var Offline = []Known{
	{Match: `Aggregator Should be able to support the 1\.17 Sample API Server`,
		Why: "needs the sample-apiserver image (registry.k8s.io/e2e-test-images/sample-apiserver), which is not built offline"},
	{Match: `when scheduling a read only busybox container should not write to root filesystem`,
		Why: "compares BusyBox 1.37 ash's own error message word for word; the offline busybox image's sh is bash, " +
			"as Debian's ash drops the environment variables the ConfigMap and Secret environment tests read (bundle/e2e.go)"},
}

// Options are a run's inputs.
type Options struct {
	// Test, Ginkgo and Kubectl are the suite's programs (bundle.EnsureE2E)
	// and the kubectl its kubectl tests run.
	Test, Ginkgo, Kubectl string
	// Kubeconfig is a file reaching the cluster as its admin.
	Kubeconfig string
	// Dir receives the JUnit files and the suite's output (one per phase).
	Dir       string
	Selection Selection
	// Processes run the parallel tests (the [Serial] ones run alone after).
	Processes int
	// Skip are tests that cannot pass on this cluster (Offline on local stacks).
	Skip []Known
	// Suite names the suite in the report ("Kubernetes v1.34.4 e2e.test").
	Suite string
	Log   *slog.Logger
	// Every is how often progress is logged (default 30 s).
	Every time.Duration
}

// phase is one ginkgo run: the parallel tests, or the serial ones alone.
type phase struct {
	name      string
	labels    string
	processes int
}

// Run runs the selected conformance tests in two phases (those that may
// run in parallel on Options.Processes processes, then the [Serial] ones
// one at a time), with progress in the log, and reads the JUnit files.
// A failed test is in the result, not an error: the error is for a run
// that could not be made or read.
func Run(ctx context.Context, o Options) (report.Conformance, error) {
	res := report.Conformance{Suite: o.Suite, Selection: o.Selection.String(), Started: time.Now().UTC(), Processes: o.Processes}
	if err := o.Selection.Validate(); err != nil {
		return res, err
	}
	if o.Processes < 1 {
		o.Processes = 1
	}
	res.Processes = o.Processes
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return res, err
	}
	var cases [][]Case
	for _, p := range []phase{
		{name: "parallel", labels: "Conformance && !Serial", processes: o.Processes},
		{name: "serial", labels: "Conformance && Serial", processes: 1},
	} {
		cs, err := o.runPhase(ctx, p)
		if err != nil {
			return res, err
		}
		cases = append(cases, cs)
		res.JUnit = append(res.JUnit, junitName(p.name))
	}
	res.Seconds = time.Since(res.Started).Round(time.Second).Seconds()
	if err := Summarize(&res, cases, o.Skip, o.Selection); err != nil {
		return res, err
	}
	return res, nil
}

func junitName(phase string) string { return "junit-" + phase + ".xml" }

// runPhase runs ginkgo on e2e.test for one phase and parses its JUnit file.
func (o Options) runPhase(ctx context.Context, p phase) ([]Case, error) {
	work := filepath.Join(o.Dir, "."+p.name)
	if err := os.RemoveAll(work); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	logPath := filepath.Join(o.Dir, p.name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	args := []string{"--nodes", fmt.Sprint(p.processes), "--no-color", "--timeout", "4h",
		"--label-filter", p.labels, "--output-dir", work}
	for _, f := range o.Selection.focus() {
		args = append(args, "--focus", f)
	}
	for _, k := range o.Skip {
		args = append(args, "--skip", k.Match)
	}
	args = append(args, o.Test, "--",
		"--kubeconfig", o.Kubeconfig, "--provider", "skeleton", "--report-dir", work,
		"--kubectl-path", o.Kubectl, "--e2e-output-dir", work)
	cmd := exec.CommandContext(ctx, o.Ginkgo, args...)
	cmd.Dir = work
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The suite's kubectl tests run kubectl with this environment.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+o.Kubeconfig)
	// ginkgo and its e2e.test processes are a process group of their own:
	// a cancelled run interrupts all of them (ginkgo then ends the specs
	// running, which delete their namespaces), and after a minute kills
	// what is left, so that no test process outlives meshready.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = time.Minute
	o.Log.InfoContext(ctx, "conformance: running the suite", "phase", p.name, "processes", p.processes, "output", logPath)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("conformance: start ginkgo: %w", err)
	}
	done := make(chan struct{})
	go o.progress(ctx, p.name, logPath, done)
	runErr := cmd.Wait()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // workers ginkgo left behind, if any
	close(done)
	// ginkgo exits 1 when a test failed: the JUnit file says what happened.
	junit := filepath.Join(work, "junit_01.xml")
	f, err := os.Open(junit)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("conformance (%s): the suite wrote no JUnit report (%v); its output, %s, ends:\n%s",
			p.name, runErr, logPath, tail(logPath, 20))
	}
	cases, err := ParseJUnit(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("conformance (%s): %w", p.name, err)
	}
	if err := os.Rename(junit, filepath.Join(o.Dir, junitName(p.name))); err != nil {
		return nil, err
	}
	return cases, nil
}

// progress logs how far the phase is, from the suite's output, until done.
func (o Options) progress(ctx context.Context, phase, logPath string, done <-chan struct{}) {
	every := o.Every
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			b, err := os.ReadFile(logPath)
			if err != nil {
				continue
			}
			p := ReadProgress(string(b))
			if p.Total > 0 {
				o.Log.InfoContext(ctx, fmt.Sprintf("conformance %s: %d of %d tests done, %d failed", phase, p.Done, p.Total, p.Failed))
			}
		}
	}
}

// Progress is how far a ginkgo run is, as its default output shows it.
type Progress struct{ Done, Failed, Total int }

var willRun = regexp.MustCompile(`(?m)^Will run (\d+) of \d+ specs`)

// ReadProgress reads ginkgo's default output: "Will run N of M specs",
// then a • per spec that ran ("• [FAILED]" and the like for a failure;
// an S per skipped one, not counted).
func ReadProgress(out string) Progress {
	var p Progress
	if m := willRun.FindStringSubmatch(out); m != nil {
		fmt.Sscan(m[1], &p.Total)
	}
	p.Done = strings.Count(out, "•")
	for _, bad := range []string{"• [FAILED]", "• [PANICKED]", "• [TIMEDOUT]", "• [INTERRUPTED]"} {
		p.Failed += strings.Count(out, bad)
	}
	return p
}

// Summarize fills res from the phases' JUnit cases: each conformance test
// counts once, passed or failed where it ran, skipped with the suite's
// reason where it skipped itself, skipped with the Known reason where
// skip left it out of the selection, else outside the selection.
func Summarize(res *report.Conformance, phases [][]Case, skip []Known, sel Selection) error {
	var focus []*regexp.Regexp
	for _, f := range sel.focus() {
		re, err := regexp.Compile(f)
		if err != nil {
			return fmt.Errorf("conformance: focus %q: %w", f, err)
		}
		focus = append(focus, re)
	}
	selected := func(name string) bool {
		return len(focus) == 0 || slices.ContainsFunc(focus, func(re *regexp.Regexp) bool { return re.MatchString(name) })
	}
	var known []*regexp.Regexp
	for _, k := range skip {
		re, err := regexp.Compile(k.Match)
		if err != nil {
			return fmt.Errorf("conformance: known skip %q: %w", k.Match, err)
		}
		known = append(known, re)
	}
	best := map[string]Case{}
	var names []string
	for _, cs := range phases {
		for _, c := range cs {
			if !c.Conformance() {
				continue
			}
			prev, seen := best[c.Name]
			if !seen {
				names = append(names, c.Name)
			}
			if !seen || prev.Filtered() {
				best[c.Name] = c
			}
		}
	}
	slices.Sort(names)
	res.Total, res.Passed, res.NotSelected = len(names), 0, 0
	res.Failed, res.Skipped = []report.ConformanceCase{}, []report.ConformanceCase{}
	for _, n := range names {
		c := best[n]
		switch {
		case c.Status == Passed:
			res.Passed++
		case c.Status == Failed:
			res.Failed = append(res.Failed, report.ConformanceCase{Name: n, Why: c.Message})
		case !c.Filtered():
			res.Skipped = append(res.Skipped, report.ConformanceCase{Name: n, Why: strings.TrimPrefix(c.Message, "skipped - ")})
		default:
			why := ""
			for i, re := range known {
				if selected(n) && re.MatchString(n) {
					why = skip[i].Why
					break
				}
			}
			if why != "" {
				res.Skipped = append(res.Skipped, report.ConformanceCase{Name: n, Why: why})
			} else {
				res.NotSelected++
			}
		}
	}
	if res.Total == 0 {
		return errors.New("conformance: the JUnit reports hold no conformance test")
	}
	return nil
}

// tail is the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
