package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/meshready/meshready/toolchain"
)

// Flanneld is the flannel daemon every node of a flannel pod network runs.
type Flanneld struct {
	// Path is the binary on this machine; the plugin uploads it to nodes.
	Path string
	// SHA256 is its hash: nodes that have it are not sent it again, and a
	// new one (a new pin) updates the pod network.
	SHA256 string
	// Version is flannel's pin (tools/flannel/go.mod).
	Version string
}

// FlannelTool builds meshready's flanneld (tools/flannel/flanneld: flannel's
// packages, VXLAN backend) at flannel's pin. Its main is meshready's, so the
// hash of that file is in the cache entry's name: an edit rebuilds it.
func FlannelTool(projectDir string) (toolchain.Tool, error) {
	src, err := os.ReadFile(filepath.Join(projectDir, "tools", "flannel", "flanneld", "main.go"))
	if err != nil {
		return toolchain.Tool{}, fmt.Errorf("flanneld: %w", err)
	}
	sum := sha256.Sum256(src)
	return toolchain.Tool{
		Name:    "flannel",
		Module:  "github.com/flannel-io/flannel",
		Package: "github.com/meshready/meshready/tools/flannel/flanneld",
		Binary:  "flanneld",
		// Static, as flannel releases it: nodes of any distribution run it.
		Env:   []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"},
		Stamp: "flanneld main.go " + hex.EncodeToString(sum[:]),
		Took:  "about 3 minutes on 2 cores with a cold Go build cache",
	}, nil
}

// EnsureFlanneld builds flanneld if this pin (and main.go) never was.
func EnsureFlanneld(ctx context.Context, cache toolchain.Cache) (Flanneld, error) {
	t, err := FlannelTool(cache.ProjectDir)
	if err != nil {
		return Flanneld{}, err
	}
	version, err := cache.Pin(t)
	if err != nil {
		return Flanneld{}, fmt.Errorf("flanneld: %w", err)
	}
	root, err := cache.Ensure(ctx, t)
	if err != nil {
		return Flanneld{}, fmt.Errorf("flanneld: %w", err)
	}
	f := Flanneld{Path: filepath.Join(root, "bin", t.Binary), Version: version}
	in, err := os.Open(f.Path)
	if err != nil {
		return f, fmt.Errorf("flanneld: %w", err)
	}
	defer in.Close()
	h := sha256.New()
	if _, err := io.Copy(h, in); err != nil {
		return f, fmt.Errorf("flanneld: %w", err)
	}
	f.SHA256 = hex.EncodeToString(h.Sum(nil))
	return f, nil
}
