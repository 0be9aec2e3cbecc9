// Package infra provides a stack's nodes: the VPS servers (or local machines,
// or existing hosts) that Kubernetes is bootstrapped on.
package infra

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/config"
)

// Role is what a node does in the cluster.
type Role string

// The node roles.
const (
	RoleControlPlane Role = "control-plane"
	RoleWorker       Role = "worker"
)

// NodeSpec is one node a stack asks for.
type NodeSpec struct {
	Name string `pulumi:"name"`
	Role string `pulumi:"role"`
}

// Plan names every node a stack's config asks for, control planes first.
// Names are stable (stack-role-index) so that a re-run converges on the same
// nodes, and unique per stack so that two stacks never collide.
func Plan(stack string, cfg *config.Config) []NodeSpec {
	var nodes []NodeSpec
	for i := range cfg.Nodes.ControlPlanes {
		nodes = append(nodes, NodeSpec{Name: fmt.Sprintf("%s-cp-%d", stack, i+1), Role: string(RoleControlPlane)})
	}
	for i := range cfg.Nodes.Workers {
		nodes = append(nodes, NodeSpec{Name: fmt.Sprintf("%s-worker-%d", stack, i+1), Role: string(RoleWorker)})
	}
	return nodes
}

// NodePoolArgs are a stack's node settings.
type NodePoolArgs struct {
	Stack  string
	Config *config.Config
}

// NodePool is the component that owns a stack's nodes.
type NodePool struct {
	pulumi.ResourceState

	// Servers are the pool's servers, control planes first.
	Servers []*ServerResource
	// Nodes lists each node's name, role, address, SSH port, user and host key.
	Nodes pulumi.ArrayOutput `pulumi:"nodes"`
	// SSHPrivateKey logs in to the nodes (a secret); empty for static stacks,
	// which log in with the configured identity.
	SSHPrivateKey pulumi.StringOutput `pulumi:"sshPrivateKey"`
}

// NewNodePool registers the pool and its servers.
func NewNodePool(ctx *pulumi.Context, name string, args *NodePoolArgs, opts ...pulumi.ResourceOption) (*NodePool, error) {
	cfg := args.Config
	pool := &NodePool{SSHPrivateKey: pulumi.String("").ToStringOutput()}
	if err := ctx.RegisterComponentResource("meshready:infra:NodePool", name, pool, opts...); err != nil {
		return nil, fmt.Errorf("register node pool %s: %w", name, err)
	}
	var key *SSHKey
	if cfg.Provider != config.ProviderStatic {
		var err error
		key, err = NewSSHKey(ctx, name+"-ssh", "meshready "+args.Stack, pulumi.Parent(pool))
		if err != nil {
			return nil, fmt.Errorf("ssh key: %w", err)
		}
		pool.SSHPrivateKey = key.PrivateKey
	}
	var nodes pulumi.Array
	for i, n := range Plan(args.Stack, cfg) {
		a := ServerArgs{
			Backend: string(cfg.Provider), Stack: args.Stack, Name: n.Name, Role: n.Role, Region: cfg.Region,
			ServerType: cfg.Nodes.ServerType, Image: cfg.Nodes.Image,
		}
		switch cfg.Provider {
		case config.ProviderStatic:
			h := cfg.Nodes.Static[i]
			a.Static = pulumi.Map{"address": pulumi.String(h.Address), "port": pulumi.Int(h.Port), "user": pulumi.String(h.User), "hostKey": pulumi.String(h.HostKey)}
			a.IdentityFile = cfg.SSH.IdentityFile
		case config.ProviderHetzner:
			a.Hetzner = pulumi.Map{"token": pulumi.ToSecret(pulumi.String(cfg.Hetzner.Token.Reveal())).(pulumi.StringOutput)}
		case config.ProviderLocal:
			a.Local = pulumi.Map{"bridge": pulumi.String(cfg.Local.Bridge), "subnet": pulumi.String(cfg.Local.Subnet)}
		}
		if key != nil {
			a.SSHPublicKey, a.SSHPrivateKey = key.PublicKey, key.PrivateKey
		}
		srv, err := NewServer(ctx, n.Name, a, pulumi.Parent(pool))
		if err != nil {
			return nil, fmt.Errorf("server %s: %w", n.Name, err)
		}
		pool.Servers = append(pool.Servers, srv)
		nodes = append(nodes, pulumi.Map{
			"name": srv.Name, "role": srv.Role, "address": srv.Address, "sshPort": srv.SSHPort,
			"sshUser": srv.SSHUser, "hostKey": srv.HostKey, "hostKeyFingerprint": srv.HostKeyFingerprint,
			"disk": srv.Disk, "virtualization": srv.Virtualization,
		})
	}
	pool.Nodes = nodes.ToArrayOutput()
	if err := ctx.RegisterResourceOutputs(pool, pulumi.Map{"nodes": pool.Nodes}); err != nil {
		return nil, fmt.Errorf("node pool %s outputs: %w", name, err)
	}
	return pool, nil
}
