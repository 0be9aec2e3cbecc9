package ops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/bundle"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/conformance"
	"github.com/meshready/meshready/infra/local"
	"github.com/meshready/meshready/report"
)

// ConformanceRun is what `meshready conformance` asks for.
type ConformanceRun struct {
	Stack     string
	Selection conformance.Selection
	// Processes run the parallel tests; 0 picks from the CPUs here.
	Processes int
}

// ConformanceResult is a run's result and where it was written.
type ConformanceResult struct {
	report.Conformance
	// Dir is the region report's folder; the JUnit files and the suite's
	// output are in Dir/conformance.
	Dir string `json:"dir"`
}

// Conformance runs Kubernetes' conformance suite of the cluster's release
// against the stack's cluster (conformance.Run) and records the result in
// the region report as its Conformance section, the JUnit files beside it.
// On a local stack the suite's test images are made here and imported
// into every node first, and the tests that cannot pass offline are
// skipped, each with its reason in the report. Failed tests are in the
// result, not an error.
func (w Workspace) Conformance(ctx context.Context, req ConformanceRun) (ConformanceResult, error) {
	var res ConformanceResult
	cfg, err := w.ReadConfig(req.Stack)
	if err != nil {
		return res, err
	}
	if err := req.Selection.Validate(); err != nil {
		return res, BadInput{err}
	}
	if req.Processes < 0 || req.Processes > 32 {
		return res, Inputf("--processes %d: want 1 to 32 (0 picks for you)", req.Processes)
	}
	if req.Processes == 0 {
		// The tests mostly wait on the cluster: a few per CPU, at least 4.
		req.Processes = max(4, 2*runtime.NumCPU())
	}
	outs, err := w.Outputs(ctx, req.Stack)
	if err != nil {
		return res, err
	}
	kubeconfig, _ := outs["kubeconfig"].Value.(string)
	if kubeconfig == "" {
		return res, Inputf("stack %s has no cluster yet (no kubeconfig output): run meshready up --stack %s first", req.Stack, req.Stack)
	}
	suite, err := bundle.EnsureE2E(ctx, w.Cache, cfg.Kubernetes.Version, w.Log)
	if err != nil {
		return res, BadInput{err}
	}
	kubectl, err := w.kubectl(ctx, cfg)
	if err != nil {
		return res, err
	}
	var skip []conformance.Known
	if cfg.Provider == config.ProviderLocal {
		if err := w.importTestImages(ctx, req.Stack, cfg, suite); err != nil {
			return res, err
		}
		skip = conformance.Offline
	}
	res.Dir = filepath.Join(w.Project.Dir, report.Dir(req.Stack))
	out := filepath.Join(res.Dir, "conformance")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return res, err
	}
	// The admin kubeconfig, for the suite only: owner-only, removed after.
	tmp, err := os.MkdirTemp("", "meshready-conformance-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)
	kc := filepath.Join(tmp, "kubeconfig")
	if err := os.WriteFile(kc, []byte(kubeconfig), 0o600); err != nil {
		return res, err
	}
	c, err := conformance.Run(ctx, conformance.Options{
		Test: suite.Test, Ginkgo: suite.Ginkgo, Kubectl: kubectl, Kubeconfig: kc, Dir: out,
		Selection: req.Selection, Processes: req.Processes, Skip: skip,
		Suite: "Kubernetes " + suite.Version + " e2e.test", Log: w.Log,
	})
	if err != nil {
		return res, fmt.Errorf("conformance of stack %s: %w", req.Stack, err)
	}
	for i, j := range c.JUnit {
		c.JUnit[i] = path.Join("conformance", j)
	}
	res.Conformance = c
	return res, w.recordConformance(res.Dir, cfg, c)
}

// kubectl is the kubectl the suite's kubectl tests run: the one built for
// the local bundle, at the pinned release.
func (w Workspace) kubectl(ctx context.Context, cfg *config.Config) (string, error) {
	if cfg.Provider == config.ProviderLocal {
		b, err := bundle.Ensure(ctx, w.Cache, cfg.Kubernetes.Version, w.Log)
		if err != nil {
			return "", err
		}
		return b.Binaries["kubectl"], nil
	}
	root, err := w.Cache.Ensure(ctx, bundle.Tool())
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin", "kubectl"), nil
}

// importTestImages imports the suite's images into every node of a local
// stack, as the nodes see them through the bundle mount.
func (w Workspace) importTestImages(ctx context.Context, stack string, cfg *config.Config, suite *bundle.E2E) error {
	root := filepath.Dir(suite.Dir)
	var images []bootstrap.BundleImage
	for _, im := range suite.Images {
		rel, err := filepath.Rel(root, im.Path)
		if err != nil {
			return err
		}
		images = append(images, bootstrap.BundleImage{Ref: im.Ref, Tarball: path.Join(local.BundleMount, filepath.ToSlash(rel)), SHA256: im.SHA256})
	}
	nodes, err := w.clusterNodes(ctx, stack, cfg, false)
	if err != nil {
		return err
	}
	defer closeNodes(nodes)
	errs := make(chan error, len(nodes))
	for _, n := range nodes {
		go func() {
			w.Log.InfoContext(ctx, "importing the conformance suite's test images", "host", n.Name, "images", len(images))
			errs <- bootstrap.ImportImages(ctx, n, images)
		}()
	}
	var all []error
	for range nodes {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// recordConformance puts c into the region report in dir (conformance.json,
// which up keeps when it writes the report again, and the report files).
// Without a report yet (benchmarks never ran), one with only this section.
func (w Workspace) recordConformance(dir string, cfg *config.Config, c report.Conformance) error {
	if err := report.WriteConformance(dir, c); err != nil {
		return err
	}
	r, err := report.Read(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		r = report.Report{Schema: report.Schema, Region: cfg.Region, Provider: string(cfg.Provider), Generated: c.Started,
			Thresholds: cfg.Benchmarks.Thresholds, Notes: []string{"no benchmark has run for this region: only the conformance run is reported"}}
	}
	r.Conformance = &c
	return report.Write(dir, r)
}
