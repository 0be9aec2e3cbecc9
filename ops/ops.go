// Package ops is what each meshready command does, one call each. The CLI
// (cli/) turns flags into a request, calls one function here and prints
// what it returns; everything between — reading config, preparing tools,
// driving the engine, deriving and collecting envs — is here.
package ops

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/meshready/meshready/bundle"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/engine"
	"github.com/meshready/meshready/internal/fsutil"
	"github.com/meshready/meshready/stacks"
	"github.com/meshready/meshready/toolchain"
)

// BadInput is an error that is the caller's to fix (flags, config, names):
// the CLI exits 2 on it.
type BadInput struct{ Err error }

func (b BadInput) Error() string { return b.Err.Error() }
func (b BadInput) Unwrap() error { return b.Err }

// Inputf is a BadInput from a format.
func Inputf(format string, args ...any) error { return BadInput{fmt.Errorf(format, args...)} }

// Workspace is one project as the operations see it.
type Workspace struct {
	Project *engine.Project
	Cache   toolchain.Cache
	Log     *slog.Logger
	Getenv  func(string) string
	// Progress receives the engine's progress, Errors its diagnostics.
	Progress, Errors io.Writer
}

// KnownStacks names the stacks with a file in the stack folder.
func (w Workspace) KnownStacks() []string {
	p := w.Project
	files, _ := filepath.Glob(filepath.Join(p.Dir, p.StackConfigDir, "Pulumi.*.yaml"))
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// checkStack refuses a stack name that could name a file outside the
// project's folders (it becomes part of paths under stacks/ and .meshready/).
func checkStack(stack string) error {
	if err := config.CheckStackName(stack); err != nil {
		return Inputf("--stack %v", err)
	}
	return nil
}

// ReadConfig reads and validates a stack's file; problems come back as
// config.Problems, a missing file as BadInput.
func (w Workspace) ReadConfig(stack string) (*config.Config, error) {
	if err := checkStack(stack); err != nil {
		return nil, err
	}
	p := w.Project
	if _, err := os.Stat(p.StackFile(stack)); err != nil {
		return nil, Inputf("stack %q: no file %s (stacks here: %s)", stack, p.StackFile(stack), strings.Join(w.KnownStacks(), ", "))
	}
	raw, err := p.ReadStackFile(stack)
	if err != nil {
		return nil, BadInput{err}
	}
	return config.Parse(raw)
}

// ProgramEnv prepares, before the engine starts, what a stack's program
// needs from meshready's cache: for a local stack the air-gapped
// Kubernetes bundle and the mesh bundle (Istio's charts and images,
// Prometheus), and the pulumi-kubernetes plugin wherever the mesh is on.
// The first time this takes minutes, with progress in the log.
func (w Workspace) ProgramEnv(ctx context.Context, cfg *config.Config) (stacks.Env, error) {
	owner, err := w.Project.Owner()
	if err != nil {
		return stacks.Env{}, err
	}
	env := stacks.Env{ProjectDir: w.Project.Dir, Owner: owner}
	local := cfg.Provider == config.ProviderLocal
	if local && cfg.Kubernetes.Enabled {
		if !slices.Contains(bundle.Versions(), cfg.Kubernetes.Version.Tag()) {
			return env, Inputf("meshready:kubernetes.version %s: a local stack installs only the releases its air-gapped bundle builds (%s): nothing was changed",
				cfg.Kubernetes.Version.Tag(), strings.Join(bundle.Versions(), ", "))
		}
		b, err := bundle.Ensure(ctx, w.Cache, cfg.Kubernetes.Version, w.Log)
		if err != nil {
			return env, err
		}
		env.LocalKubernetes = b
	}
	if !cfg.Istio.Enabled {
		return env, nil
	}
	if err := w.Project.EnsureKubernetesPlugin(ctx); err != nil {
		return env, err
	}
	if !local {
		return env, nil
	}
	pins, err := bundle.IstioPins(ctx, w.Cache)
	if err != nil {
		return env, err
	}
	for _, kv := range [][2]string{{"istio.version", cfg.Istio.Version}, {"istio.canary.version", cfg.Istio.Canary.Version}} {
		key, v := kv[0], kv[1]
		if v != "" && !slices.ContainsFunc(pins, func(p bundle.IstioPin) bool { return p.Version == v }) {
			return env, Inputf("meshready:%s is %s, but a local stack installs the Istio snapshots pinned in tools/ (%s): set it to one of them",
				key, v, bundle.IstioVersions(pins))
		}
	}
	m, err := bundle.EnsureMesh(ctx, w.Cache, w.Log, cfg.Istio.Version)
	if err != nil {
		return env, err
	}
	if cv := cfg.Istio.Canary.Version; cv != "" {
		if env.LocalCanaryMesh, err = bundle.EnsureMesh(ctx, w.Cache, w.Log, cv); err != nil {
			return env, err
		}
	}
	env.LocalMesh = m
	return env, nil
}

// writeFile writes data to path atomically, making its folder (0700).
func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return fsutil.WriteFile(path, data, mode)
}
