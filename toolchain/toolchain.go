// Package toolchain builds the programs meshready drives (the Pulumi CLI now;
// Kubernetes binaries and provider plugins later) from the Go module proxy.
// Each tool is pinned by the go.mod of its own module under tools/<name>, and
// built once per pin into a cache outside the clone, so a fresh clone on the
// same machine (CI) reuses it and a changed pin rebuilds it.
package toolchain

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/meshready/meshready/internal/flock"
)

// Tool is one program built from a Go module.
type Tool struct {
	// Name is the folder under tools/ that pins it, and the cache entry's prefix.
	Name string
	// Module is the required module whose version is the pin.
	Module string
	// Package is the main package to build.
	Package string
	// Binary is the file name of the result.
	Binary string
	// Packages, when set, replaces Package and Binary: these main packages
	// (import paths) are built by one go build, which shares the compile work
	// of their common dependencies, into Root/bin under go build's names (see
	// Binaries). The pin still is the one module's version.
	Packages []string
	// Env is added to the build's environment, e.g. CGO_ENABLED=0.
	Env []string
	// Ldflags returns extra linker flags for the pinned version (e.g. a version stamp).
	Ldflags func(version string) string
	// Took says how long a build took on the reference machine, for the progress line.
	Took string
}

// majorSuffix is a major version element as go build sees one: v2, v3, ...
// (not v0 or v1, which module paths never end in).
var majorSuffix = regexp.MustCompile(`^v([2-9]|[1-9][0-9]+)$`)

// Binaries are the file names the build leaves in Root/bin: Binary, or with
// Packages the last element of each import path that is not a major version
// suffix, which is how go build -o DIR/ names them.
func (t Tool) Binaries() []string {
	if len(t.Packages) == 0 {
		return []string{t.Binary}
	}
	names := make([]string, len(t.Packages))
	for i, p := range t.Packages {
		name := path.Base(p)
		if dir := path.Dir(p); majorSuffix.MatchString(name) && dir != "." {
			name = path.Base(dir)
		}
		names[i] = name
	}
	return names
}

// Cache is where built tools live.
type Cache struct {
	// Dir is the cache root (MESHREADY_CACHE, else the user cache dir + /meshready).
	Dir string
	// ProjectDir is the clone, whose tools/ folder holds the pins.
	ProjectDir string
	Log        *slog.Logger
}

// DefaultDir is MESHREADY_CACHE if set, else ~/.cache/meshready.
func DefaultDir(getenv func(string) string) (string, error) {
	if d := getenv("MESHREADY_CACHE"); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache dir (set MESHREADY_CACHE): %w", err)
	}
	return filepath.Join(d, "meshready"), nil
}

// Pin returns the version tools/<name>/go.mod requires of the tool's module.
func (c Cache) Pin(t Tool) (string, error) {
	path := filepath.Join(c.ProjectDir, "tools", t.Name, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("tool %s: read pin: %w", t.Name, err)
	}
	f, err := modfile.ParseLax(path, data, nil)
	if err != nil {
		return "", fmt.Errorf("tool %s: %w", t.Name, err)
	}
	for _, r := range f.Require {
		if r.Mod.Path == t.Module {
			return r.Mod.Version, nil
		}
	}
	return "", fmt.Errorf("tool %s: %s does not require %s", t.Name, path, t.Module)
}

// Root is the install root of the tool at its pin: the binary is Root/bin/Binary.
func (c Cache) Root(t Tool) (string, error) {
	v, err := c.Pin(t)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.Dir, "tools", t.Name+"-"+v), nil
}

// Ensure returns the tool's install root, building the tool first if this pin
// was never built. Concurrent callers (two CI jobs) wait for one build.
func (c Cache) Ensure(ctx context.Context, t Tool) (string, error) {
	root, err := c.Root(t)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin")
	if built(bin, t.Binaries()) {
		return root, nil
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", fmt.Errorf("tool %s: %w", t.Name, err)
	}
	unlock, err := flock.Lock(ctx, root+".lock")
	if err != nil {
		return "", fmt.Errorf("tool %s: %w", t.Name, err)
	}
	defer unlock()
	if built(bin, t.Binaries()) { // built while we waited
		return root, nil
	}
	version, _ := c.Pin(t)
	c.Log.Info("building tool from the Go module proxy (once per pin)", "tool", t.Name, "version", version, "usually", t.Took)
	start := time.Now()
	if err := c.build(ctx, t, version, bin); err != nil {
		return "", err
	}
	c.Log.Info("built tool", "tool", t.Name, "version", version, "took", time.Since(start).Round(time.Second).String(), "path", bin)
	return root, nil
}

// built says whether every binary is in dir.
func built(dir string, binaries []string) bool {
	for _, b := range binaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return false
		}
	}
	return true
}

// build runs go build into a temp folder beside bin and moves the results in,
// so that bin only ever holds complete binaries.
func (c Cache) build(ctx context.Context, t Tool, version, bin string) error {
	tmp, err := os.MkdirTemp(filepath.Dir(bin), ".build-")
	if err != nil {
		return fmt.Errorf("tool %s: %w", t.Name, err)
	}
	defer os.RemoveAll(tmp)
	flags := "-s -w"
	if t.Ldflags != nil {
		flags += " " + t.Ldflags(version)
	}
	args := []string{"build", "-C", filepath.Join(c.ProjectDir, "tools", t.Name), "-trimpath", "-ldflags", flags}
	if len(t.Packages) == 0 {
		args = append(args, "-o", filepath.Join(tmp, t.Binary), t.Package)
	} else {
		args = append(append(args, "-o", tmp+string(filepath.Separator)), t.Packages...)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Env = append(os.Environ(), t.Env...)
	if err := cmd.Run(); err != nil {
		what := t.Package
		if len(t.Packages) > 0 {
			what = fmt.Sprintf("%d packages", len(t.Packages))
		}
		return fmt.Errorf("tool %s: go build %s: %w", t.Name, what, err)
	}
	for _, b := range t.Binaries() {
		if err := os.Rename(filepath.Join(tmp, b), filepath.Join(bin, b)); err != nil {
			return fmt.Errorf("tool %s: %w", t.Name, err)
		}
	}
	return nil
}
