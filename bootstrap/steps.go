package bootstrap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/meshready/meshready/remote"
)

// withSecret runs a step whose kubeadm config holds secrets (the join token,
// the certificate key): the config goes to the node as a file of its own
// for this run (0600, never on a command line, where every local user
// could read it in /proc), and the step's script removes it when it ends.
func (p Plan) withSecret(ctx context.Context, n Node, step string, render func() ([]byte, error), script func(path string) (string, error)) error {
	cfg, err := render()
	if err != nil {
		return fmt.Errorf("%s: %s: %w", n.Name, step, err)
	}
	path := "/etc/meshready/kubeadm-" + randomName() + ".yaml"
	if err := n.Runner.Upload(ctx, path, cfg, 0o600); err != nil {
		return fmt.Errorf("%s: %s: %w", n.Name, step, err)
	}
	return p.run(ctx, n, step, func() (string, error) { return script(path) })
}

// randomName is 16 hex digits, unique per run.
func randomName() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// resetScript undoes kubeadm, stops flannel and removes meshready's files.
const resetScript = `if command -v kubeadm >/dev/null; then kubeadm reset -f; fi
if [ -f /etc/systemd/system/meshready-flanneld.service ]; then
  systemctl disable --now meshready-flanneld >/dev/null 2>&1 || true
  rm -f /etc/systemd/system/meshready-flanneld.service
  systemctl daemon-reload
fi
ip link del flannel.1 2>/dev/null || true
rm -rf /etc/cni/net.d/10-meshready.conflist /etc/meshready /run/flannel`

// Reset undoes kubeadm on nodes that outlive the cluster (static servers):
// kubeadm reset and meshready's own files, on every node at once.
func Reset(ctx context.Context, nodes []Node) error {
	return remote.Parallel(ctx, nodes, len(nodes), func(ctx context.Context, n Node) error {
		if _, err := n.Runner.Run(ctx, resetScript); err != nil {
			return fmt.Errorf("%s: kubeadm reset: %w", n.Name, err)
		}
		return nil
	})
}

// Flags are the etcd flags t gives, each with why, and ionice's why ("" =
// etcd runs without it).
func (t EtcdTuning) Flags() (flags []EtcdFlag, ionice string) {
	for _, a := range t.ExtraArgs() {
		flags = append(flags, EtcdFlag{Name: a.Name, Value: a.Value, Why: t.Why[a.Name]})
	}
	if t.Ionice {
		ionice = t.Why["ionice"]
	}
	return flags, ionice
}

// EtcdFlag is one etcd flag and why it has its value.
type EtcdFlag struct{ Name, Value, Why string }

// UploadClusterConfig uploads kubeadm's ClusterConfiguration from p on cp
// again: what joins and upgrades read etcd's flags from.
func UploadClusterConfig(ctx context.Context, p Plan, cp Node) error {
	return p.withSecret(ctx, cp, "upload kubeadm config", func() ([]byte, error) { return RenderInit(p.params(cp)) }, func(path string) (string, error) {
		return UploadConfigScript(cp.Name, path)
	})
}
