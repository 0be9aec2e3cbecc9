// Package toolchain builds the programs meshready drives (the Pulumi CLI now;
// Kubernetes binaries and provider plugins later) from the Go module proxy.
// Each tool is pinned by the go.mod of its own module under tools/<name>, and
// built once per pin into a cache outside the clone, so a fresh clone on the
// same machine (CI) reuses it and a changed pin rebuilds it.
package toolchain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
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
	// TestPackage, when set, is a package whose test binary is built too
	// (go test -c), named <last element>.test: Kubernetes' e2e suite is one.
	TestPackage string
	// Env is added to the build's environment, e.g. CGO_ENABLED=0.
	Env []string
	// Ldflags returns extra linker flags for the pinned version (e.g. a version stamp).
	Ldflags func(version string) string
	// Stamp names what the build adds beyond the pin (Istio's version name
	// and commit that Ldflags stamp, Prometheus's build tags): part of the
	// cache entry's name, so that a build stamped otherwise (or stamped
	// where an older meshready built it bare) is never reused for this
	// one. Not the flags themselves: Kubernetes' carry the build's date.
	Stamp string
	// Took says how long a build took on the reference machine, for the progress line.
	Took string
	// Embed are files of the pinned module (paths inside it) that the main
	// package embeds but the module zip does not ship in the main's folder
	// (pulumi-kubernetes generates schema-embed.json at release). With Embed,
	// the build runs in a scratch copy of tools/<Name> with these files copied
	// beside main.go under their base names; the clone stays untouched.
	Embed []string
}

// majorSuffix is a major version element as go build sees one: v2, v3, ...
// (not v0 or v1, which module paths never end in).
var majorSuffix = regexp.MustCompile(`^v([2-9]|[1-9][0-9]+)$`)

// Binaries are the file names the build leaves in Root/bin: Binary, or with
// Packages the last element of each import path that is not a major version
// suffix, which is how go build -o DIR/ names them.
func (t Tool) Binaries() []string {
	names := []string{}
	if len(t.Packages) == 0 && t.Binary != "" {
		names = append(names, t.Binary)
	}
	for _, p := range t.Packages {
		name := path.Base(p)
		if dir := path.Dir(p); majorSuffix.MatchString(name) && dir != "." {
			name = path.Base(dir)
		}
		names = append(names, name)
	}
	if t.TestPackage != "" {
		names = append(names, t.testBinary())
	}
	return names
}

// testBinary is the file name of TestPackage's test binary.
func (t Tool) testBinary() string { return path.Base(t.TestPackage) + ".test" }

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

// Root is the install root of the tool at its pin: the binary is
// Root/bin/Binary. A tool with a Stamp has its hash in the name too.
func (c Cache) Root(t Tool) (string, error) {
	v, err := c.Pin(t)
	if err != nil {
		return "", err
	}
	name := t.Name + "-" + v
	if t.Stamp != "" {
		sum := sha256.Sum256([]byte(t.Stamp))
		name += "-" + hex.EncodeToString(sum[:4])
	}
	return filepath.Join(c.Dir, "tools", name), nil
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
	src := filepath.Join(c.ProjectDir, "tools", t.Name)
	if len(t.Embed) > 0 {
		if src, err = c.scratch(ctx, t, version, tmp); err != nil {
			return err
		}
	}
	common := []string{"-trimpath", "-ldflags", flags}
	var runs [][]string
	switch {
	case len(t.Packages) > 0:
		runs = append(runs, append(append([]string{"build"}, common...), append([]string{"-o", tmp + string(filepath.Separator)}, t.Packages...)...))
	case t.Package != "":
		runs = append(runs, append(append([]string{"build"}, common...), "-o", filepath.Join(tmp, t.Binary), t.Package))
	}
	if t.TestPackage != "" {
		runs = append(runs, append(append([]string{"test", "-c"}, common...), "-o", filepath.Join(tmp, t.testBinary()), t.TestPackage))
	}
	for _, args := range runs {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = src
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.Env = append(os.Environ(), t.Env...)
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("tool %s: go %s %s: %w", t.Name, args[0], args[len(args)-1], err)
		}
	}
	for _, b := range t.Binaries() {
		if err := os.Rename(filepath.Join(tmp, b), filepath.Join(bin, b)); err != nil {
			return fmt.Errorf("tool %s: %w", t.Name, err)
		}
	}
	return nil
}

// scratch copies the files of tools/<Name> (not its subfolders) and the
// tool's Embed files from the pinned module into tmp/src, and returns it.
func (c Cache) scratch(ctx context.Context, t Tool, version, tmp string) (string, error) {
	from := filepath.Join(c.ProjectDir, "tools", t.Name)
	src := filepath.Join(tmp, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", fmt.Errorf("tool %s: %w", t.Name, err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return "", fmt.Errorf("tool %s: %w", t.Name, err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if err := copyFile(filepath.Join(from, e.Name()), filepath.Join(src, e.Name())); err != nil {
				return "", fmt.Errorf("tool %s: %w", t.Name, err)
			}
		}
	}
	// go mod download prints where the module is, fetching it if need be.
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", t.Module+"@"+version).Output()
	if err != nil {
		return "", fmt.Errorf("tool %s: go mod download %s@%s: %w", t.Name, t.Module, version, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("tool %s: go mod download %s@%s: no folder (%s)", t.Name, t.Module, version, mod.Error)
	}
	for _, f := range t.Embed {
		if err := copyFile(filepath.Join(mod.Dir, filepath.FromSlash(f)), filepath.Join(src, path.Base(f))); err != nil {
			return "", fmt.Errorf("tool %s: embed %s: %w", t.Name, f, err)
		}
	}
	return src, nil
}

// copyFile copies a regular file; the copy is writable (module files are not).
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
