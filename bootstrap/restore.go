package bootstrap

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/kube"
	"github.com/meshready/meshready/remote"
	"github.com/meshready/meshready/toolchain"
)

// EtcdutlTool builds etcdutl, etcd's offline tool (tools/etcdutl pins the
// etcd release kubeadm runs), which Restore uploads to the control planes.
func EtcdutlTool() toolchain.Tool {
	return toolchain.Tool{
		Name:    "etcdutl",
		Module:  "go.etcd.io/etcd/etcdutl/v3",
		Package: "go.etcd.io/etcd/etcdutl/v3",
		Binary:  "etcdutl",
		Env:     []string{"CGO_ENABLED=0"},
		Took:    "about 1 minute on 2 cores with a cold Go build cache",
	}
}

// RestoreSource is what a restore puts back.
type RestoreSource struct {
	// Snapshot opens the snapshot file (checked by CheckSnapshot first), once per control plane.
	Snapshot func() (io.ReadCloser, error)
	// Etcdutl is the etcdutl binary for the nodes (linux/amd64, static).
	Etcdutl []byte
}

// Restore puts a cluster's etcd back to a snapshot, by etcd's documented
// procedure (etcd disaster recovery; Kubernetes "Restoring an etcd
// cluster"): every control plane's etcd and API server stopped, each
// member's data made again from the same snapshot with etcdutl snapshot
// restore (a new cluster of the same members, the old data kept aside),
// the control planes started again, etcd first, every kubelet restarted,
// then the cluster waited for: API server answering, every node Ready.
// nodes are the cluster's nodes, the first control plane first.
func Restore(ctx context.Context, log *slog.Logger, nodes []Node, src RestoreSource) error {
	var cps, workers []Node
	for _, n := range nodes {
		if n.Role == config.RoleControlPlane {
			cps = append(cps, n)
		} else {
			workers = append(workers, n)
		}
	}
	if len(cps) == 0 || cps[0].Name != nodes[0].Name {
		return fmt.Errorf("etcd restore: the first node must be a control plane")
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	aside := "/etc/kubernetes/meshready-restore"
	var members []string
	for _, n := range cps {
		members = append(members, n.Name+"=https://"+n.Address+":2380")
	}
	p := Plan{Log: log}
	// 1. Stop every control plane, so no member serves the old data.
	log.InfoContext(ctx, "etcd restore: stopping the control planes", "nodes", len(cps))
	if err := remote.Parallel(ctx, cps, len(cps), func(ctx context.Context, n Node) error {
		return p.run(ctx, n, "etcd restore: stop", func() (string, error) {
			return render("restore-stop.sh.tmpl", struct{ Node, Aside string }{n.Name, aside})
		})
	}); err != nil {
		return err
	}
	// 3. Start them again, and every kubelet.
	start := func(ctx context.Context) error {
		log.InfoContext(ctx, "etcd restore: starting the control planes")
		return remote.Parallel(ctx, cps, len(cps), func(ctx context.Context, n Node) error {
			return p.run(ctx, n, "etcd restore: start", func() (string, error) {
				return render("restore-start.sh.tmpl", struct{ Node, Aside string }{n.Name, aside})
			})
		})
	}
	// 2. Every member's data from the snapshot. When a member fails, every
	// control plane starts again on the data it has (the restored, or the
	// old one where the restore did not get to move it), and the error says so.
	const etcdutl = "/var/lib/meshready/bin/etcdutl"
	if err := remote.Parallel(ctx, cps, len(cps), func(ctx context.Context, n Node) error {
		if err := n.Runner.Upload(ctx, etcdutl, src.Etcdutl, 0o755); err != nil {
			return fmt.Errorf("%s: etcd restore: %w", n.Name, err)
		}
		snap := "/var/lib/meshready/restore-" + stamp + ".db"
		f, err := src.Snapshot()
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := n.Runner.Run(ctx, "mkdir -p /var/lib/meshready && umask 077 && cat > "+remote.Quote(snap), remote.WithStdin(f)); err != nil {
			return fmt.Errorf("%s: etcd restore: upload the snapshot: %w", n.Name, err)
		}
		return p.run(ctx, n, "etcd restore: data", func() (string, error) {
			return RestoreDataScript(n, snap, etcdutl, members, stamp)
		})
	}); err != nil {
		if serr := start(context.WithoutCancel(ctx)); serr != nil {
			return fmt.Errorf("%w\n(and starting the control planes again failed: %v)", err, serr)
		}
		return fmt.Errorf("%w\n(the control planes were started again; a member whose data was not restored runs on its old data, kept in %s/%s)", err, DefaultEtcdDataDir, ".before-restore-"+stamp)
	}
	if err := start(ctx); err != nil {
		return err
	}
	if err := remote.Parallel(ctx, workers, len(workers), func(ctx context.Context, n Node) error {
		if _, err := n.Runner.Run(ctx, "systemctl restart kubelet"); err != nil {
			return fmt.Errorf("%s: etcd restore: restart the kubelet: %w", n.Name, err)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := waitAPIServer(ctx, cps[0], "the restore"); err != nil {
		return err
	}
	return p.waitReady(ctx, cps[0], nodes)
}

// RestoreDataScript makes member n's data from the snapshot at snap with
// etcdutl, as one of members (name=peer URL) of a new cluster named for
// stamp, and keeps the data it had beside.
func RestoreDataScript(n Node, snap, etcdutl string, members []string, stamp string) (string, error) {
	return render("restore-data.sh.tmpl", struct {
		Node, Snapshot, Etcdutl, InitialCluster, Token, PeerURL, DataDir, Restored, Before string
	}{n.Name, snap, etcdutl, strings.Join(members, ","), "meshready-restore-" + stamp,
		"https://" + n.Address + ":2380", DefaultEtcdDataDir, ".restored-" + stamp, ".before-restore-" + stamp})
}

// waitAPIServer polls the API server through cp until it is ready (at
// most 5 minutes) after what (a step that restarted etcd).
func waitAPIServer(ctx context.Context, cp Node, what string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		_, err := cp.Runner.Run(ctx, kube.Command("get", "--raw=/readyz"))
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: the API server is not ready 5 minutes after %s: %w", cp.Name, what, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Second):
		}
	}
}
