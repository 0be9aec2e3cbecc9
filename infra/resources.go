package infra

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ServerResource is a meshready:infra:Server, served by the meshready provider plugin.
type ServerResource struct {
	pulumi.CustomResourceState

	Name               pulumi.StringOutput `pulumi:"name"`
	Role               pulumi.StringOutput `pulumi:"role"`
	Address            pulumi.StringOutput `pulumi:"address"`
	PublicIP           pulumi.StringOutput `pulumi:"publicIp"`
	PrivateIP          pulumi.StringOutput `pulumi:"privateIp"`
	SSHPort            pulumi.IntOutput    `pulumi:"sshPort"`
	SSHUser            pulumi.StringOutput `pulumi:"sshUser"`
	HostKey            pulumi.StringOutput `pulumi:"hostKey"`
	HostKeyFingerprint pulumi.StringOutput `pulumi:"hostKeyFingerprint"`
	Disk               pulumi.MapOutput    `pulumi:"disk"`
	Virtualization     pulumi.StringOutput `pulumi:"virtualization"`
}

// ServerArgs are a server's inputs (see infra/provider.ServerInputs).
type ServerArgs struct {
	Backend, Stack, Name, Role, Region, ServerType, Image string
	SSHPublicKey                                          pulumi.StringInput
	SSHPrivateKey                                         pulumi.StringInput // secret
	IdentityFile                                          string
	Labels                                                map[string]string
	Static                                                pulumi.Map
	Hetzner                                               pulumi.Map // token inside is a secret
	Local                                                 pulumi.Map
}

// NewServer registers one server.
func NewServer(ctx *pulumi.Context, name string, a ServerArgs, opts ...pulumi.ResourceOption) (*ServerResource, error) {
	props := pulumi.Map{
		"backend": pulumi.String(a.Backend),
		"stack":   pulumi.String(a.Stack),
		"name":    pulumi.String(a.Name),
		"role":    pulumi.String(a.Role),
		"region":  pulumi.String(a.Region),
	}
	set := func(k string, v pulumi.Input, ok bool) {
		if ok {
			props[k] = v
		}
	}
	set("serverType", pulumi.String(a.ServerType), a.ServerType != "")
	set("image", pulumi.String(a.Image), a.Image != "")
	set("sshPublicKey", a.SSHPublicKey, a.SSHPublicKey != nil)
	set("sshPrivateKey", pulumi.ToSecret(a.SSHPrivateKey), a.SSHPrivateKey != nil)
	set("identityFile", pulumi.String(a.IdentityFile), a.IdentityFile != "")
	set("labels", pulumi.ToStringMap(a.Labels), len(a.Labels) > 0)
	set("static", a.Static, a.Static != nil)
	set("hetzner", pulumi.ToSecret(a.Hetzner), a.Hetzner != nil)
	set("local", a.Local, a.Local != nil)
	var s ServerResource
	if err := ctx.RegisterResource("meshready:infra:Server", name, props, &s, opts...); err != nil {
		return nil, err
	}
	return &s, nil
}

// SSHKey is the key pair meshready logs in to the servers it creates with.
type SSHKey struct {
	pulumi.CustomResourceState

	PublicKey   pulumi.StringOutput `pulumi:"publicKey"`
	PrivateKey  pulumi.StringOutput `pulumi:"privateKey"`
	Fingerprint pulumi.StringOutput `pulumi:"fingerprint"`
}

// NewSSHKey registers the stack's key pair; the private key is a secret output.
func NewSSHKey(ctx *pulumi.Context, name, comment string, opts ...pulumi.ResourceOption) (*SSHKey, error) {
	var k SSHKey
	opts = append(opts, pulumi.AdditionalSecretOutputs([]string{"privateKey"}))
	if err := ctx.RegisterResource("meshready:infra:SSHKey", name, pulumi.Map{"comment": pulumi.String(comment)}, &k, opts...); err != nil {
		return nil, err
	}
	return &k, nil
}
