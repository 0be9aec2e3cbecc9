package plugin

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/remote"
)

// Dialer opens an SSH session to a target, verified by its pinned host key.
type Dialer func(ctx context.Context, t remote.Target, a remote.Auth) (remote.Runner, error)

// SSHDialer is the real Dialer.
func SSHDialer(log *slog.Logger) Dialer {
	return func(ctx context.Context, t remote.Target, a remote.Auth) (remote.Runner, error) {
		return remote.Dial(ctx, t, a, remote.DialOptions{Log: log})
	}
}

// nodeDialer reaches a resource's nodes: one place for every resource.
type nodeDialer struct {
	dial Dialer
	log  *slog.Logger
}

// all dials every node; close ends the sessions.
func (d nodeDialer) all(ctx context.Context, refs []contract.NodeRef, a contract.Access) (nodes []remote.Node, close func(), err error) {
	close = func() {
		for _, n := range nodes {
			n.Runner.Close()
		}
	}
	for _, n := range refs {
		r, err := d.dial(ctx, n.Target(), a.Auth())
		if err != nil {
			close()
			return nil, nil, err
		}
		nodes = append(nodes, remote.Node{Name: n.Name, Role: n.Role, Address: n.Internal(), Runner: r})
	}
	return nodes, close, nil
}

// one dials one node.
func (d nodeDialer) one(ctx context.Context, ref contract.NodeRef, a contract.Access) (remote.Node, func(), error) {
	all, done, err := d.all(ctx, []contract.NodeRef{ref}, a)
	if err != nil {
		return remote.Node{}, nil, err
	}
	return all[0], done, nil
}

// controlPlane dials the first control-plane node.
func (d nodeDialer) controlPlane(ctx context.Context, refs []contract.NodeRef, a contract.Access) (remote.Node, func(), error) {
	for _, n := range refs {
		if n.Role == config.RoleControlPlane {
			all, done, err := d.all(ctx, []contract.NodeRef{n}, a)
			if err != nil {
				return remote.Node{}, nil, err
			}
			return all[0], done, nil
		}
	}
	return remote.Node{}, nil, fmt.Errorf("no control-plane node")
}

// firstControlPlane is the first control plane among nodes.
func firstControlPlane(nodes []remote.Node) (remote.Node, error) {
	for _, n := range nodes {
		if n.Role == config.RoleControlPlane {
			return n, nil
		}
	}
	return remote.Node{}, fmt.Errorf("no control-plane node")
}
