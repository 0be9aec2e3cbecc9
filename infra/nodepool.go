// Package infra provides a stack's nodes: the VPS servers (or local machines,
// or existing hosts) that Kubernetes is bootstrapped on.
package infra

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumix"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
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
		nodes = append(nodes, NodeSpec{Name: fmt.Sprintf("%s-cp-%d", stack, i+1), Role: config.RoleControlPlane})
	}
	for i := range cfg.Nodes.Workers {
		nodes = append(nodes, NodeSpec{Name: fmt.Sprintf("%s-worker-%d", stack, i+1), Role: config.RoleWorker})
	}
	return nodes
}

// NodePoolArgs are a stack's node settings.
type NodePoolArgs struct {
	Stack  string
	Config *config.Config
	// Owner is the backend's label value (stacks.Env.Owner).
	Owner string
}

// NodePool is the component that owns a stack's nodes.
type NodePool struct {
	pulumi.ResourceState

	// Servers are the pool's servers, control planes first.
	Servers []*contract.ServerResource
	// Refs reach every node (name, role, address, SSH port, user, host
	// key): what the steps after the servers are given.
	Refs pulumix.Output[[]contract.NodeRef]
	// NodeRefs are Refs one by one, in the order of Plan.
	NodeRefs []pulumix.Output[contract.NodeRef]
	// Nodes lists each node with its disk and virtualisation, for the stack's outputs.
	Nodes pulumi.ArrayOutput `pulumi:"nodes"`
	// Access logs in to the nodes: the stack's key pair (a secret) where
	// meshready made the servers, the configured identity for static ones.
	Access contract.AccessArgs
}

// NewNodePool registers the pool and its servers.
func NewNodePool(ctx *pulumi.Context, name string, args *NodePoolArgs, opts ...pulumi.ResourceOption) (*NodePool, error) {
	cfg := args.Config
	pool := &NodePool{Access: contract.AccessArgs{SSHPrivateKey: pulumi.String("").ToStringOutput(), IdentityFile: cfg.SSH.IdentityFile}}
	if err := ctx.RegisterComponentResource(contract.NodePoolComponent, name, pool, opts...); err != nil {
		return nil, fmt.Errorf("register node pool %s: %w", name, err)
	}
	var key contract.SSHKeyResource
	if cfg.Provider != config.ProviderStatic {
		if err := contract.Register(ctx, contract.SSHKey(), name+"-ssh", contract.SSHKeyArgs{Comment: "meshready " + args.Stack}, &key, pulumi.Parent(pool)); err != nil {
			return nil, fmt.Errorf("ssh key: %w", err)
		}
		pool.Access.SSHPrivateKey = key.PrivateKey
	}
	var nodes pulumi.Array
	var refs pulumix.Array[contract.NodeRef]
	for i, n := range Plan(args.Stack, cfg) {
		a := contract.ServerArgs{
			Backend: string(cfg.Provider), Stack: args.Stack, Name: n.Name, Role: n.Role, Region: cfg.Region,
			ServerType: cfg.Nodes.ServerType, Image: cfg.Nodes.Image, Owner: args.Owner,
		}
		switch cfg.Provider {
		case config.ProviderStatic:
			h := cfg.Nodes.Static[i]
			a.Static = &contract.StaticInputs{Address: h.Address, Port: h.Port, User: h.User, HostKey: h.HostKey}
			a.Access.IdentityFile = cfg.SSH.IdentityFile
		case config.ProviderHetzner:
			a.Hetzner = &contract.HetznerInputs{Token: cfg.Hetzner.Token.Reveal(), AllowedCIDRs: cfg.Nodes.AllowedCIDRs}
		case config.ProviderLocal:
			a.Local = &contract.LocalInputs{Bridge: cfg.Local.Bridge, Subnet: cfg.Local.Subnet}
		}
		if cfg.Provider != config.ProviderStatic {
			a.SSHPublicKey, a.Access.SSHPrivateKey = key.PublicKey, key.PrivateKey
		}
		var srv contract.ServerResource
		if err := contract.Register(ctx, contract.Server(), n.Name, a, &srv, pulumi.Parent(pool)); err != nil {
			return nil, fmt.Errorf("server %s: %w", n.Name, err)
		}
		pool.Servers = append(pool.Servers, &srv)
		addrs := pulumix.Apply2(srv.Address, srv.PrivateIP, func(addr, private string) [2]string {
			if private == addr {
				private = "" // one address for everything (local machines)
			}
			return [2]string{addr, private}
		})
		ref := pulumix.Apply7(srv.Name, srv.Role, addrs, srv.SSHPort, srv.SSHUser, srv.HostKey, srv.Instance,
			func(name, role string, addrs [2]string, port int, user, hostKey, instance string) contract.NodeRef {
				return contract.NodeRef{Name: name, Role: role, Address: addrs[0], InternalAddress: addrs[1],
					SSHPort: port, SSHUser: user, HostKey: hostKey, Instance: instance}
			})
		refs = append(refs, ref)
		pool.NodeRefs = append(pool.NodeRefs, ref)
		nodes = append(nodes, pulumi.Map{
			"name": srv.Name, "role": srv.Role, "address": srv.Address, "sshPort": srv.SSHPort,
			"sshUser": srv.SSHUser, "hostKey": srv.HostKey, "hostKeyFingerprint": srv.HostKeyFingerprint,
			"disk": srv.Disk, "virtualization": srv.Virtualization,
		})
	}
	pool.Refs = refs.ToOutput(ctx.Context())
	pool.Nodes = nodes.ToArrayOutput()
	if err := ctx.RegisterResourceOutputs(pool, pulumi.Map{"nodes": pool.Nodes}); err != nil {
		return nil, fmt.Errorf("node pool %s outputs: %w", name, err)
	}
	return pool, nil
}
