// Package static is the backend for servers that exist already (bought in a
// provider's panel): meshready never creates, changes or deletes them. Create
// only records the server; the provider then proves it is reachable with the
// configured host key before anything else runs on it.
package static

import (
	"context"
	"net"
	"strconv"

	"github.com/meshready/meshready/infra"
)

// Host is one existing server.
type Host struct {
	Address string
	Port    int
	User    string
}

// Backend knows one static host (each Server resource gets its own).
type Backend struct{ host Host }

// New returns the backend for host.
func New(h Host) *Backend {
	if h.Port == 0 {
		h.Port = 22
	}
	if h.User == "" {
		h.User = "root"
	}
	return &Backend{host: h}
}

func (b *Backend) server(name string) infra.Server {
	return infra.Server{
		ID:             net.JoinHostPort(b.host.Address, strconv.Itoa(b.host.Port)),
		Name:           name,
		Status:         "running",
		PublicIPv4:     b.host.Address,
		SSHPort:        b.host.Port,
		SSHUser:        b.host.User,
		Virtualization: "existing server (as measured)",
	}
}

// Create records the server; nothing is created.
func (b *Backend) Create(_ context.Context, spec infra.ServerSpec) (infra.Server, error) {
	s := b.server(spec.Name)
	s.Labels = spec.Labels
	return s, nil
}

// Get returns the server as configured: a static server is never "gone" to
// meshready, which does not own its life.
func (b *Backend) Get(_ context.Context, id string) (infra.Server, error) { return b.server(""), nil }

// Delete forgets the server and never touches the host.
func (b *Backend) Delete(context.Context, string) error { return nil }

// List returns nothing: static servers are listed in the stack's config, not discovered.
func (b *Backend) List(context.Context, map[string]string) ([]infra.Server, error) { return nil, nil }
