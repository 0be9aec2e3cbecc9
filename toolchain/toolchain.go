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
	"path/filepath"
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
	// Ldflags returns extra linker flags for the pinned version (e.g. a version stamp).
	Ldflags func(version string) string
	// Took says how long a build took on the reference machine, for the progress line.
	Took string
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
	bin := filepath.Join(root, "bin", t.Binary)
	if _, err := os.Stat(bin); err == nil {
		return root, nil
	}
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		return "", fmt.Errorf("tool %s: %w", t.Name, err)
	}
	unlock, err := flock.Lock(ctx, root+".lock")
	if err != nil {
		return "", fmt.Errorf("tool %s: %w", t.Name, err)
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil { // built while we waited
		return root, nil
	}
	version, _ := c.Pin(t)
	c.Log.Info("building tool from the Go module proxy (once per pin)", "tool", t.Name, "version", version, "usually", t.Took)
	start := time.Now()
	tmp := bin + ".tmp"
	args := []string{"build", "-C", filepath.Join(c.ProjectDir, "tools", t.Name), "-trimpath", "-o", tmp}
	flags := "-s -w"
	if t.Ldflags != nil {
		flags += " " + t.Ldflags(version)
	}
	args = append(args, "-ldflags", flags, t.Package)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("tool %s: go build %s: %w", t.Name, t.Package, err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("tool %s: %w", t.Name, err)
	}
	c.Log.Info("built tool", "tool", t.Name, "version", version, "took", time.Since(start).Round(time.Second).String(), "path", bin)
	return root, nil
}
