package contract

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Server is one node's server: created through a VPS backend (or a local
// machine, or taken as it is), pinned by an SSH host key known before the
// first connect. What the server is cannot change in place: a new name,
// role, type or image is a new server, the old one deleted first (names are
// unique at the provider).
func Server() Def[ServerInputs, ServerOutputs] {
	return Def[ServerInputs, ServerOutputs]{
		Token: "meshready:infra:Server",
		// owner labels what is made from now on; a server made before keeps
		// what it has (gc --orphans leaves unlabelled ones alone).
		Diff: Policy{
			Replace:             []string{"backend", "stack", "name", "role", "region", "serverType", "image", "sshPublicKey", "static", "local"},
			Update:              []string{"labels", "hetzner"},
			Ignore:              ignoreAccess("owner"),
			DeleteBeforeReplace: true,
		},
		SecretInputs: []string{"sshPrivateKey", "hetzner"},
	}
}

// ServerInputs are a server's inputs.
type ServerInputs struct {
	Backend      string            `json:"backend"`
	Stack        string            `json:"stack"`
	Name         string            `json:"name"`
	Role         string            `json:"role"`
	Region       string            `json:"region"`
	ServerType   string            `json:"serverType,omitempty"`
	Image        string            `json:"image,omitempty"`
	SSHPublicKey string            `json:"sshPublicKey,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	// Owner names the backend and project whose state holds the server
	// (the meshready-backend label).
	Owner string `json:"owner,omitempty"`
	Access
	Static  *StaticInputs  `json:"static,omitempty"`
	Hetzner *HetznerInputs `json:"hetzner,omitempty"`
	Local   *LocalInputs   `json:"local,omitempty"`
}

// ServerArgs are ServerInputs as the program gives them.
type ServerArgs struct {
	Backend, Stack, Name, Role, Region, ServerType, Image string
	SSHPublicKey                                          pulumi.StringInput
	Labels                                                map[string]string
	Owner                                                 string
	Access                                                AccessArgs
	Static                                                *StaticInputs
	Hetzner                                               *HetznerInputs
	Local                                                 *LocalInputs
}

// StaticInputs describe a server that exists already.
type StaticInputs struct {
	Address string `json:"address"`
	Port    int    `json:"port,omitempty"`
	User    string `json:"user,omitempty"`
	HostKey string `json:"hostKey"`
}

// HetznerInputs reach the Hetzner Cloud API.
type HetznerInputs struct {
	Token    string `json:"token"` // a secret
	Endpoint string `json:"endpoint,omitempty"`
	// AllowedCIDRs may reach SSH and the API server (the stack's firewall).
	AllowedCIDRs []string `json:"allowedCIDRs,omitempty"`
}

// LocalInputs place nspawn machines on the project's bridge.
type LocalInputs struct {
	Bridge string `json:"bridge"`
	Subnet string `json:"subnet"`
}

// ServerOutputs are a server's inputs and what the backend and the first
// SSH session told about it.
type ServerOutputs struct {
	ServerInputs
	Status             string `json:"status"`
	PublicIP           string `json:"publicIp"`
	PrivateIP          string `json:"privateIp"`
	Address            string `json:"address"`
	SSHPort            int    `json:"sshPort"`
	SSHUser            string `json:"sshUser"`
	HostKey            string `json:"hostKey"`
	HostKeyFingerprint string `json:"hostKeyFingerprint"`
	// Labels are the labels the server carries: meshready's and the user's.
	Labels map[string]string `json:"labels"`
	Disk   Disk              `json:"disk"`
	// Virtualization says what the server runs on.
	Virtualization string `json:"virtualization"`
	// Instance is made at create, once per server: a server made again
	// under the same name and address (a local machine, a dead server
	// recreated) is told from the one before by it.
	Instance string `json:"instance,omitempty"`
}

// Disk is the disk under /var/lib (where etcd's data goes), read once at create.
type Disk struct {
	Device     string `json:"device"`
	Model      string `json:"model"`
	FSType     string `json:"fsType"`
	Rotational *bool  `json:"rotational,omitempty"`
}

// ServerResource is a registered server, as the program reads it.
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
	Instance           pulumi.StringOutput `pulumi:"instance"`
}

// SSHKey is the key pair meshready logs in to the servers it creates with:
// made once and kept in state (the private key a secret).
func SSHKey() Def[SSHKeyInputs, SSHKeyOutputs] {
	return Def[SSHKeyInputs, SSHKeyOutputs]{
		Token:         "meshready:infra:SSHKey",
		Diff:          Policy{Replace: []string{"comment"}},
		SecretOutputs: []string{"privateKey"},
	}
}

// SSHKeyInputs are a key pair's inputs.
type SSHKeyInputs struct {
	Comment string `json:"comment"`
}

// SSHKeyArgs are SSHKeyInputs as the program gives them.
type SSHKeyArgs struct{ Comment string }

// SSHKeyOutputs are the key pair.
type SSHKeyOutputs struct {
	SSHKeyInputs
	PublicKey   string `json:"publicKey"`
	PrivateKey  string `json:"privateKey"`
	Fingerprint string `json:"fingerprint"`
}

// SSHKeyResource is a registered key pair.
type SSHKeyResource struct {
	pulumi.CustomResourceState

	PublicKey   pulumi.StringOutput `pulumi:"publicKey"`
	PrivateKey  pulumi.StringOutput `pulumi:"privateKey"`
	Fingerprint pulumi.StringOutput `pulumi:"fingerprint"`
}
