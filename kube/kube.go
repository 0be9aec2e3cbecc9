// Package kube is meshready's one seam to a cluster's API: kubectl with the
// admin kubeconfig kubeadm wrote, run on a control plane over SSH (the
// cluster's API need not be reachable from the machine running up). Every
// command is an argument list; each argument is quoted for the node's
// shell, so no name read from the cluster or the config can become shell
// syntax. Manifests go on stdin, never on a command line.
package kube

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/meshready/meshready/remote"
)

// AdminKubeconfig is where kubeadm writes the admin kubeconfig on control planes.
const AdminKubeconfig = "/etc/kubernetes/admin.conf"

// Kubectl runs kubectl against one cluster.
type Kubectl interface {
	// Host names where kubectl runs, for errors.
	Host() string
	// Run runs kubectl with args and returns its standard output.
	Run(ctx context.Context, args ...string) (string, error)
	// Apply runs kubectl apply -f - with manifest (JSON or YAML) on stdin,
	// and args after it (e.g. --server-side).
	Apply(ctx context.Context, manifest []byte, args ...string) error
}

// Command is kubectl with the admin kubeconfig and args, as one shell
// command line with every argument quoted.
func Command(args ...string) string {
	q := make([]string, 0, len(args)+3)
	q = append(q, "kubectl", "--kubeconfig", AdminKubeconfig)
	for _, a := range args {
		q = append(q, remote.Quote(a))
	}
	return strings.Join(q, " ")
}

// OnNode is Kubectl on a control plane through its remote.Runner.
type OnNode struct{ Runner remote.Runner }

// Host is the control plane's name.
func (k OnNode) Host() string { return k.Runner.Host() }

// Run runs kubectl on the node.
func (k OnNode) Run(ctx context.Context, args ...string) (string, error) {
	res, err := k.Runner.Run(ctx, Command(args...))
	if err != nil {
		return "", fmt.Errorf("%s: kubectl %s: %w", k.Runner.Host(), brief(args), err)
	}
	return string(res.Stdout), nil
}

// Apply applies manifest from stdin.
func (k OnNode) Apply(ctx context.Context, manifest []byte, args ...string) error {
	all := append([]string{"apply", "-f", "-"}, args...)
	if _, err := k.Runner.Run(ctx, Command(all...), remote.WithStdin(bytes.NewReader(manifest))); err != nil {
		return fmt.Errorf("%s: kubectl %s: %w", k.Runner.Host(), brief(all), err)
	}
	return nil
}

// brief is the start of a command's arguments, for errors (the rest may be long).
func brief(args []string) string {
	if len(args) > 4 {
		args = args[:4]
	}
	return strings.Join(args, " ")
}
