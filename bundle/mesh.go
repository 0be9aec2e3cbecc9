package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"

	"github.com/meshready/meshready/internal/flock"
	"github.com/meshready/meshready/internal/fsutil"
	"github.com/meshready/meshready/toolchain"
)

// MeshHub is the registry part of the local mesh images' names: nothing is
// pulled from it (the images are imported and the charts say
// imagePullPolicy: Never), it only keeps them apart from upstream's.
const MeshHub = "localhost/meshready"

// IstioTools are the tools modules that pin the istio.io/istio snapshots a
// local stack can run, newest first: tools/istio (the default), and the
// snapshot before it, which the revision upgrade starts from. The module
// proxy serves no Istio release, only these development snapshots.
var IstioTools = []string{"istio", "istio-2026-04-23"}

// IstioTool builds istiod (pilot-discovery) and pilot-agent in one go build
// from istio.io/istio at the pin in tools/<dir>, with Istio's version
// information stamped as its release builds do (common/scripts/
// report_build_info.sh), so `istioctl version`, the revisions and the report
// say what runs: version is IstioVersion's name for the pin, commit the
// snapshot's. Without stamp (version ""), the build says "unknown".
func IstioTool(dir, version, commit string) toolchain.Tool {
	t := toolchain.Tool{
		Name:     dir,
		Module:   "istio.io/istio",
		Packages: []string{"istio.io/istio/pilot/cmd/pilot-discovery", "istio.io/istio/pilot/cmd/pilot-agent"},
		Env:      []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH},
		Took:     "about 5 minutes on 2 cores with a cold Go build cache",
	}
	if version != "" {
		t.Ldflags = func(string) string { return istioLdflags(version, commit, runtime.GOARCH) }
		t.Stamp = "istio pkg/version " + version + " " + commit
	}
	return t
}

// istioLdflags are the -X flags of Istio's pkg/version.
func istioLdflags(version, commit, arch string) string {
	var b strings.Builder
	for _, kv := range [][2]string{{"buildVersion", version}, {"buildGitRevision", commit}, {"buildStatus", "Clean"},
		{"buildTag", version}, {"buildHub", MeshHub}, {"buildOS", "linux"}, {"buildArch", arch}} {
		fmt.Fprintf(&b, " -X istio.io/istio/pkg/version.%s=%s", kv[0], kv[1])
	}
	return strings.TrimSpace(b.String())
}

// PrometheusTool builds the Prometheus server of Istio's Prometheus addon,
// and promtool, which tests meshready's alerting rules (report.AlertRules).
// The addon's scrape configs discover targets through Kubernetes alone, so
// the build keeps only that service discovery (and file and HTTP, which
// Prometheus always has), with Prometheus's own build tags for it
// (plugins/): the clouds' SDKs of the others are most of its compile time.
func PrometheusTool() toolchain.Tool {
	return toolchain.Tool{
		Name:   "prometheus",
		Module: "github.com/prometheus/prometheus",
		Packages: []string{"github.com/prometheus/prometheus/cmd/prometheus",
			"github.com/prometheus/prometheus/cmd/promtool"},
		Env:   []string{"CGO_ENABLED=0", "GOFLAGS=-tags=" + prometheusTags},
		Stamp: "tags " + prometheusTags,
		Took:  "about 3 minutes on 2 cores with a cold Go build cache",
	}
}

// prometheusTags are the build tags of the addon's Prometheus.
const prometheusTags = "remove_all_sd,enable_kubernetes_sd"

// FortioTool builds fortio, the mesh latency benchmark's client and server
// (the same release as the fortio/fortio image real clusters pull).
func FortioTool() toolchain.Tool {
	return toolchain.Tool{
		Name:    "fortio",
		Module:  "fortio.org/fortio",
		Package: "fortio.org/fortio",
		Binary:  "fortio",
		Env:     []string{"CGO_ENABLED=0"},
		Took:    "about 1 minute on 2 cores with a cold Go build cache",
	}
}

// NodeExporterTool builds node_exporter, which the Prometheus addon runs on
// every node (the same release as mesh.NodeExporterImage, which real
// clusters pull), with its version stamped as its release build does.
func NodeExporterTool() toolchain.Tool {
	return toolchain.Tool{
		Name:    "node_exporter",
		Module:  "github.com/prometheus/node_exporter",
		Package: "github.com/prometheus/node_exporter",
		Binary:  "node_exporter",
		Env:     []string{"CGO_ENABLED=0"},
		Ldflags: func(version string) string {
			return "-X github.com/prometheus/common/version.Version=" + strings.TrimPrefix(version, "v")
		},
		Took: "about 1 minute on 2 cores with a cold Go build cache",
	}
}

// Mesh is what a local stack's mesh is installed from, all offline.
type Mesh struct {
	// Version is the Istio version the pin is, as Istio names its builds.
	Version string
	// Charts is the istio.io/istio module's manifests/charts folder.
	Charts string
	// Addons is the module's samples/addons folder (prometheus.yaml, kiali.yaml).
	Addons string
	// Hub and Tag name the images for the charts (global.hub, global.tag).
	Hub, Tag string
	// Pilot and Proxy are the image names for pilot.image and global.proxy.image.
	Pilot, Proxy string
	// Prometheus is the Prometheus image's full reference; PrometheusUpstream
	// the repository of the image Istio's addon names, which it stands in for.
	Prometheus, PrometheusUpstream string
	// Fortio is the fortio image of the mesh latency benchmark.
	Fortio string
	// NodeExporter is the node_exporter image of the Prometheus addon.
	NodeExporter string
	// Probe is the meshprobe image (the proxyless gRPC checks' workload),
	// tagged with its binary's hash.
	Probe string
	// Dir is <cache>/bundle/mesh-<tag>-<hash of the tool builds>; Images
	// are the tarballs in Dir/images.
	Dir    string
	Images []Image
}

// IstioVersion names the pinned istio.io/istio as Istio names its builds: a
// release tag (v1.28.0 → 1.28.0) or, for a pseudo-version of a development
// snapshot, <VERSION file>-alpha.<commit> (the module's VERSION says 1.31).
func IstioVersion(pin, moduleDir string) (string, error) {
	if !module.IsPseudoVersion(pin) {
		return strings.TrimPrefix(pin, "v"), nil
	}
	rev, err := module.PseudoVersionRev(pin)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(moduleDir, "VERSION"))
	if err != nil {
		return "", fmt.Errorf("istio.io/istio %s: %w", pin, err)
	}
	return strings.TrimSpace(string(b)) + "-alpha." + rev, nil
}

// IstioPin is one snapshot a local stack can run.
type IstioPin struct {
	// Tools is its folder under tools/; Pin the istio.io/istio version there.
	Tools, Pin string
	// Version is Istio's name for it (IstioVersion); Commit its revision.
	Version, Commit string
	// ModuleDir is the module in the Go module cache (charts, addons).
	ModuleDir string
}

// IstioPins are the snapshots of IstioTools, the default first. Reading
// them downloads the modules (not built).
func IstioPins(ctx context.Context, cache toolchain.Cache) ([]IstioPin, error) {
	var out []IstioPin
	for _, d := range IstioTools {
		t := IstioTool(d, "", "")
		pin, err := cache.Pin(t)
		if err != nil {
			return nil, err
		}
		dir, err := moduleDir(ctx, t.Module, pin)
		if err != nil {
			return nil, err
		}
		version, err := IstioVersion(pin, dir)
		if err != nil {
			return nil, err
		}
		commit := pin
		if module.IsPseudoVersion(pin) {
			commit, _ = module.PseudoVersionRev(pin)
		}
		out = append(out, IstioPin{Tools: d, Pin: pin, Version: version, Commit: commit, ModuleDir: dir})
	}
	return out, nil
}

// IstioVersions names the versions of IstioPins, for errors.
func IstioVersions(pins []IstioPin) string {
	var names []string
	for _, p := range pins {
		names = append(names, p.Version)
	}
	return strings.Join(names, ", ")
}

// EnsureMesh returns what the local stack installs Istio version from (""
// is the default, tools/istio), building what is missing: istiod and
// pilot-agent (IstioTool) and Prometheus once per pin (minutes), then their
// image tarballs (seconds). Concurrent callers wait for one build. A version
// no tools module pins is an error naming the ones there are.
func EnsureMesh(ctx context.Context, cache toolchain.Cache, log *slog.Logger, version string) (*Mesh, error) {
	pins, err := IstioPins(ctx, cache)
	if err != nil {
		return nil, fmt.Errorf("local mesh: %w", err)
	}
	i := slices.IndexFunc(pins, func(p IstioPin) bool { return p.Version == version })
	switch {
	case version == "":
		i = 0
	case i < 0:
		return nil, fmt.Errorf("local mesh: Istio %s is not one the local stack builds (%s)", version, IstioVersions(pins))
	}
	p := pins[i]
	version, dir := p.Version, p.ModuleDir
	istio, prom, fortio, nodeExp := IstioTool(p.Tools, p.Version, p.Commit), PrometheusTool(), FortioTool(), NodeExporterTool()
	promPin, err := cache.Pin(prom)
	if err != nil {
		return nil, fmt.Errorf("local mesh: %w", err)
	}
	fortioPin, err := cache.Pin(fortio)
	if err != nil {
		return nil, fmt.Errorf("local mesh: %w", err)
	}
	nodeExpPin, err := cache.Pin(nodeExp)
	if err != nil {
		return nil, fmt.Errorf("local mesh: %w", err)
	}
	m := &Mesh{
		Version: version, Charts: filepath.Join(dir, "manifests", "charts"), Addons: filepath.Join(dir, "samples", "addons"),
		Hub: MeshHub, Tag: version, Pilot: "pilot", Proxy: "pilot-agent",
		// v0.316.0 of the Go module is Prometheus 3.16.0 (the addon names 3.10.0: v0.310.0 does not
		// build from the module proxy, its libopenapi-validator and libopenapi disagree).
		Prometheus:         MeshHub + "/prometheus:" + promVersion(promPin),
		PrometheusUpstream: "docker.io/prom/prometheus",
		Fortio:             MeshHub + "/fortio:" + strings.TrimPrefix(fortioPin, "v"),
		NodeExporter:       MeshHub + "/node-exporter:" + nodeExpPin,
	}
	paths := map[string]string{}
	// The images are made from these builds: their roots (pins, stamps)
	// name the folder, so a rebuilt tool never leaves an image of the old.
	roots := sha256.New()
	for _, t := range []toolchain.Tool{istio, prom, fortio, nodeExp} {
		root, err := cache.Ensure(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("local mesh: %w", err)
		}
		fmt.Fprintln(roots, filepath.Base(root))
		for _, name := range t.Binaries() {
			paths[name] = filepath.Join(root, "bin", name)
		}
	}
	m.Dir = filepath.Join(cache.Dir, "bundle", "mesh-"+version+"-"+hex.EncodeToString(roots.Sum(nil))[:8])
	// 1337 is the user Istio's own images and charts run istiod and the proxy as.
	specs := []ImageSpec{
		{Ref: m.Hub + "/" + m.Pilot + ":" + m.Tag, Binary: "pilot-discovery", User: "1337:1337"},
		{Ref: m.Hub + "/" + m.Proxy + ":" + m.Tag, Binary: "pilot-agent", User: "1337:1337"},
		// nobody, as Prometheus' own image.
		{Ref: m.Prometheus, Binary: "prometheus", User: "65534:65534"},
		// fortio's own image runs it as root; nobody is enough for its ports.
		{Ref: m.Fortio, Binary: "fortio", User: "65534:65534"},
		// nobody, as node_exporter's own image.
		{Ref: m.NodeExporter, Binary: "node_exporter", User: "65534:65534"},
	}
	for _, s := range specs {
		m.Images = append(m.Images, Image{Ref: s.Ref, Path: filepath.Join(m.Dir, "images", s.FileName())})
	}
	if err := os.MkdirAll(filepath.Join(m.Dir, "images"), 0o755); err != nil {
		return nil, fmt.Errorf("local mesh: %w", err)
	}
	unlock, err := flock.Lock(ctx, m.Dir+".lock")
	if err != nil {
		return nil, fmt.Errorf("local mesh: %w", err)
	}
	defer unlock()
	// meshprobe is this project's own code: built again when its sources
	// changed (a second go build with a warm cache still costs a second of
	// every up), its image named by the binary's hash.
	probeBin := filepath.Join(m.Dir, "meshprobe.bin")
	if err := ensureProbe(ctx, cache.ProjectDir, probeBin); err != nil {
		return nil, fmt.Errorf("local mesh: %w", err)
	}
	sum, err := fsutil.SHA256(probeBin)
	if err != nil {
		return nil, fmt.Errorf("local mesh: %w", err)
	}
	m.Probe = m.Hub + "/meshprobe:" + sum[:12]
	specs = append(specs, ImageSpec{Ref: m.Probe, Binary: "meshprobe", User: "1337:1337"})
	m.Images = append(m.Images, Image{Ref: m.Probe, Path: filepath.Join(m.Dir, "images", specs[len(specs)-1].FileName())})
	paths["meshprobe"] = probeBin
	for i, s := range specs {
		p := m.Images[i].Path
		if _, err := os.Stat(p); err == nil {
			continue
		}
		start := time.Now()
		if err := WriteImage(s, paths[s.Binary], p); err != nil {
			return nil, fmt.Errorf("local mesh: %w", err)
		}
		log.Info("wrote image", "ref", s.Ref, "path", p, "took", time.Since(start).Round(time.Millisecond).String())
	}
	return m, nil
}

// promVersion turns the Go module version of Prometheus (v0.316.0) into its
// release version (v3.16.0): the module tags v0.3MM.P for 3.MM.P.
func promVersion(pin string) string {
	var minor, patch int
	if n, _ := fmt.Sscanf(pin, "v0.3%d.%d", &minor, &patch); n == 2 {
		return fmt.Sprintf("v3.%d.%d", minor, patch)
	}
	return pin
}

// moduleDir is where the Go module cache has module@version, downloading it if needed.
func moduleDir(ctx context.Context, mod, version string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod+"@"+version).Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); jerr != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s", mod, version, err, m.Error)
	}
	return m.Dir, nil
}

// ProbeSources are the project's folders meshprobe is built from (a test
// holds this to go list -deps ./cmd/meshprobe), besides go.mod and go.sum.
var ProbeSources = []string{"cmd/meshprobe", "mesh/probe", "mesh/probe/grpcprobe"}

// ensureProbe builds meshprobe into out unless the sources it was built
// from (recorded beside it) are the ones in the project now.
func ensureProbe(ctx context.Context, projectDir, out string) error {
	sum, err := probeSourceSum(projectDir)
	if err != nil {
		return err
	}
	stamp := out + ".sources"
	if b, err := os.ReadFile(stamp); err == nil && string(b) == sum {
		if _, err := os.Stat(out); err == nil {
			return nil
		}
	}
	if err := buildProbe(ctx, projectDir, out); err != nil {
		return err
	}
	return os.WriteFile(stamp, []byte(sum), 0o644)
}

// probeSourceSum hashes meshprobe's Go sources, go.mod, go.sum and the Go
// release that builds them.
func probeSourceSum(projectDir string) (string, error) {
	files := []string{"go.mod", "go.sum"}
	for _, d := range ProbeSources {
		names, err := filepath.Glob(filepath.Join(projectDir, d, "*.go"))
		if err != nil {
			return "", err
		}
		for _, n := range names {
			if !strings.HasSuffix(n, "_test.go") {
				rel, _ := filepath.Rel(projectDir, n)
				files = append(files, rel)
			}
		}
	}
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version())
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(projectDir, f))
		if err != nil {
			return "", fmt.Errorf("meshprobe sources: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// buildProbe builds cmd/meshprobe of the project into out (static, as the
// images have no libc), through a temp file renamed into place.
func buildProbe(ctx context.Context, projectDir, out string) error {
	tmp := out + ".tmp"
	cmd := exec.CommandContext(ctx, "go", "build", "-C", projectDir, "-trimpath", "-ldflags", "-s -w", "-o", tmp, "./cmd/meshprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/meshprobe: %w\n%s", err, b)
	}
	return os.Rename(tmp, out)
}
