package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/bootstrap/etcdclient"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/internal/fsutil"
	"github.com/meshready/meshready/remote"
)

// Snapshot is an etcd snapshot on the machine running meshready.
type Snapshot struct {
	Path   string
	SHA256 string
	Bytes  int64
}

// EtcdSnapshot saves a snapshot of the stack's etcd to out ("" = under
// .meshready/snapshots/<stack>/, named for the time), 0600, checked, with
// a .sha256 beside it in sha256sum's format.
func (w Workspace) EtcdSnapshot(ctx context.Context, stack, out string) (Snapshot, error) {
	var s Snapshot
	cfg, err := w.ReadConfig(stack)
	if err != nil {
		return s, err
	}
	if out == "" {
		out = filepath.Join(w.Project.Dir, ".meshready", "snapshots", stack, "etcd-"+time.Now().UTC().Format("20060102T150405Z")+".db")
	}
	if err := checkLocalFile("--out", out); err != nil {
		return s, err
	}
	nodes, err := w.clusterNodes(ctx, stack, cfg, true)
	if err != nil {
		return s, err
	}
	defer closeNodes(nodes)
	etcd, err := etcdclient.Dial(ctx, nodes[0])
	if err != nil {
		return s, err
	}
	defer etcd.Close()
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return s, err
	}
	// A temp file beside out, renamed when whole and checked: an out that
	// exists is never left half-written.
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return s, err
	}
	defer os.Remove(f.Name())
	_, size, err := bootstrap.SaveSnapshot(ctx, etcd, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s, fmt.Errorf("etcd snapshot of %s: %w", stack, err)
	}
	sum, err := fsutil.SHA256(f.Name())
	if err != nil {
		return s, err
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return s, err
	}
	if err := writeFile(out+".sha256", []byte(sum+"  "+filepath.Base(out)+"\n"), 0o600); err != nil {
		return s, err
	}
	return Snapshot{Path: out, SHA256: sum, Bytes: size}, nil
}

// EtcdRestore puts the stack's etcd back to the snapshot in file (see
// bootstrap.Restore). The file is checked before anything changes: an
// etcd snapshot whose hash matches, and the .sha256 beside it when there
// is one.
func (w Workspace) EtcdRestore(ctx context.Context, stack, file string, yes bool, confirm func(string) bool) error {
	cfg, err := w.ReadConfig(stack)
	if err != nil {
		return err
	}
	if err := checkLocalFile("--from", file); err != nil {
		return err
	}
	if err := checkSnapshotFile(file); err != nil {
		return err
	}
	if !yes && confirm == nil {
		return Inputf("etcd restore replaces the cluster's whole state: pass --yes (there is no terminal to ask on)")
	}
	if !yes && !confirm(fmt.Sprintf("Put stack %s's etcd back to %s? Everything written since is lost.", stack, file)) {
		return Inputf("etcd restore cancelled")
	}
	unlock, err := w.Project.Lock(stack)
	if err != nil {
		return err
	}
	defer unlock()
	root, err := w.Cache.Ensure(ctx, bootstrap.EtcdutlTool())
	if err != nil {
		return err
	}
	etcdutl, err := os.ReadFile(filepath.Join(root, "bin", "etcdutl"))
	if err != nil {
		return err
	}
	nodes, err := w.clusterNodes(ctx, stack, cfg, false)
	if err != nil {
		return err
	}
	defer closeNodes(nodes)
	start := time.Now()
	err = bootstrap.Restore(ctx, w.Log, nodes, bootstrap.RestoreSource{
		Snapshot: func() (io.ReadCloser, error) { return os.Open(file) },
		Etcdutl:  etcdutl,
	})
	if err != nil {
		return fmt.Errorf("etcd restore of %s: %w", stack, err)
	}
	w.Log.Info("etcd restored", "stack", stack, "took", time.Since(start).Round(time.Second))
	return nil
}

// checkSnapshotFile refuses a file that is not a whole etcd snapshot, or
// whose .sha256 disagrees.
func checkSnapshotFile(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return Inputf("--from: %v", err)
	}
	defer f.Close()
	sum, _, err := bootstrap.CheckSnapshot(f)
	if err != nil {
		return Inputf("--from %s: %v", file, err)
	}
	side, err := os.ReadFile(file + ".sha256")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return Inputf("--from: %v", err)
	}
	if want, _, _ := strings.Cut(strings.TrimSpace(string(side)), " "); want != sum {
		return Inputf("--from %s: its SHA-256 is %s, and %s.sha256 says %s", file, sum, filepath.Base(file), want)
	}
	return nil
}

// checkLocalFile refuses a path a shell or a terminal would read as more
// than a file name (control characters), before anything is written.
func checkLocalFile(flag, path string) error {
	if path == "" || strings.ContainsFunc(path, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Inputf("%s %q: not a file path", flag, path)
	}
	return nil
}

// clusterNodes dials the stack's nodes as its outputs name them, the
// first control plane first (controlPlaneOnly: that one alone).
func (w Workspace) clusterNodes(ctx context.Context, stack string, cfg *config.Config, controlPlaneOnly bool) ([]remote.Node, error) {
	targets, key, err := w.nodesFromOutputs(ctx, stack)
	if err != nil {
		return nil, err
	}
	if targets[0].role != config.RoleControlPlane {
		return nil, fmt.Errorf("stack %s: its first node %s is no control plane", stack, targets[0].target.Name)
	}
	if controlPlaneOnly {
		targets = targets[:1]
	}
	auth := remote.Auth{PrivateKey: key, IdentityFile: ExpandHome(cfg.SSH.IdentityFile)}
	var nodes []remote.Node
	for _, n := range targets {
		r, err := remote.Dial(ctx, n.target, auth, remote.DialOptions{Log: w.Log})
		if err != nil {
			closeNodes(nodes)
			return nil, err
		}
		nodes = append(nodes, remote.Node{Name: n.target.Name, Role: n.role, Address: n.target.Address, Runner: r})
	}
	return nodes, nil
}

func closeNodes(nodes []remote.Node) {
	for _, n := range nodes {
		n.Runner.Close()
	}
}
