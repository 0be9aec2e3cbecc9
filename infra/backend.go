package infra

import (
	"context"
	"errors"
)

// Backend is the one seam to a provider of servers: create, get, delete, list.
// Everything above it (the provider plugin, the pipeline) is tested with a fake;
// each implementation is tested against a real thing (nspawn machines, an
// httptest server that behaves like the provider's API, a real sshd).
//
// Waiting for SSH and reading disk facts are not a backend's job: the provider
// does both, the same way for every backend, through the SSH runner with the
// host key the server was given.
type Backend interface {
	// Create makes a server and waits until the provider reports it running.
	// It must never make two servers for one spec: after an ambiguous failure
	// (a lost response), it looks the server up by its labels and adopts it.
	Create(ctx context.Context, spec ServerSpec) (Server, error)
	// Get returns the server, or an error wrapping ErrNotFound when it is gone.
	Get(ctx context.Context, id string) (Server, error)
	// Delete removes the server; a server that is already gone is not an error.
	Delete(ctx context.Context, id string) error
	// List returns the servers carrying all of the given labels.
	List(ctx context.Context, labels map[string]string) ([]Server, error)
}

// StackReconciler is a Backend with objects of the stack beside its servers
// (Hetzner's network, firewall, placement group): Reconcile brings them to
// the Backend's options (found by the stack's labels, made if missing).
type StackReconciler interface {
	Reconcile(ctx context.Context, region string) error
}

// LabelBackend names, on everything meshready makes, the backend and
// project whose state holds it (engine.Project.Owner): what gc --orphans
// may judge. Made before the label existed, or by plain pulumi up, a thing
// has none and is never collected.
const LabelBackend = "meshready-backend"

// ErrNotFound is wrapped by Get when the server does not exist (any more).
var ErrNotFound = errors.New("server not found")

// ServerSpec is what to create.
type ServerSpec struct {
	// Name is unique per stack and stable across runs (region-role-index).
	Name       string
	Role       string // control-plane | worker
	Region     string // a Hetzner location, or the local stack's region label
	ServerType string
	Image      string
	// SSHPublicKey (authorized_keys format) may log in as SSHUser.
	SSHPublicKey string
	// HostKey is the SSH host key pair the server must present, made by
	// meshready so that the first connection is already verified.
	HostKey HostKeyPair
	// Labels mark what meshready owns (always includes meshready=true and the stack).
	Labels map[string]string
}

// HostKeyPair is an ed25519 SSH host key.
type HostKeyPair struct {
	PrivatePEM string // OpenSSH private key format
	Public     string // authorized_keys format: "ssh-ed25519 AAAA..."
}

// Server is a server as the backend sees it.
type Server struct {
	ID          string
	Name        string
	Status      string // running, starting, off, ...
	PublicIPv4  string
	PrivateIPv4 string
	SSHPort     int
	SSHUser     string
	Labels      map[string]string
	// Virtualization says what the server runs on, as the backend knows it
	// (e.g. "kvm" on Hetzner, "systemd-nspawn container, not KVM" locally).
	Virtualization string
}

// Address is where SSH reaches the server: public first, then private.
func (s Server) Address() string {
	if s.PublicIPv4 != "" {
		return s.PublicIPv4
	}
	return s.PrivateIPv4
}
