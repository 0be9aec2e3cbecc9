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
// Names are stable (region-role-index) so that a re-run converges on the same nodes.
func Plan(cfg *config.Config) []NodeSpec {
	var nodes []NodeSpec
	for i := range cfg.Nodes.ControlPlanes {
		nodes = append(nodes, NodeSpec{Name: fmt.Sprintf("%s-cp-%d", cfg.Region, i+1), Role: string(RoleControlPlane)})
	}
	for i := range cfg.Nodes.Workers {
		nodes = append(nodes, NodeSpec{Name: fmt.Sprintf("%s-worker-%d", cfg.Region, i+1), Role: string(RoleWorker)})
	}
	return nodes
}

// NodePoolArgs are a stack's node settings.
type NodePoolArgs struct {
	Provider config.Provider
	Region   string
	Nodes    []NodeSpec
}

// NodePool is the component that owns a stack's nodes.
type NodePool struct {
	pulumi.ResourceState

	// Nodes lists the pool's nodes by name and role.
	Nodes pulumi.ArrayOutput `pulumi:"nodes"`
}

// NewNodePool registers the pool component for a stack's planned nodes.
func NewNodePool(ctx *pulumi.Context, name string, args *NodePoolArgs, opts ...pulumi.ResourceOption) (*NodePool, error) {
	pool := &NodePool{}
	if err := ctx.RegisterComponentResource("meshready:infra:NodePool", name, pool, opts...); err != nil {
		return nil, fmt.Errorf("register node pool %s: %w", name, err)
	}
	nodes := make(pulumi.Array, len(args.Nodes))
	for i, n := range args.Nodes {
		nodes[i] = pulumi.StringMap{"name": pulumi.String(n.Name), "role": pulumi.String(n.Role)}
	}
	pool.Nodes = nodes.ToArrayOutput()
	if err := ctx.RegisterResourceOutputs(pool, pulumi.Map{"nodes": pool.Nodes}); err != nil {
		return nil, fmt.Errorf("node pool %s outputs: %w", name, err)
	}
	return pool, nil
}
