package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/infra"
	"github.com/meshready/meshready/remote"
)

// SSHConnector is the real Connector: it dials with the pinned host key,
// retrying while the server boots, and runs the benchmarks' facts script.
type SSHConnector struct {
	// Wait bounds how long a new server may take to answer SSH.
	Wait time.Duration
	Log  *slog.Logger
}

// Probe connects and reads the facts of the disk under /var/lib (where etcd's data goes).
func (c SSHConnector) Probe(ctx context.Context, t remote.Target, a remote.Auth) (Facts, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Wait)
	defer cancel()
	r, err := remote.Dial(ctx, t, a, remote.DialOptions{Attempts: 1000, Log: c.Log})
	if err != nil {
		return Facts{}, err
	}
	defer r.Close()
	script, err := benchmarks.FactsScript("/var/lib")
	if err != nil {
		return Facts{}, err
	}
	out, err := r.Run(ctx, script)
	if err != nil {
		return Facts{}, fmt.Errorf("facts: %w", err)
	}
	f, err := benchmarks.ParseFacts("/var/lib", out.Stdout)
	if err != nil {
		return Facts{}, err
	}
	virt := f.VirtVM
	if f.VirtContainer != "" && f.VirtContainer != "none" {
		virt = f.VirtContainer + " container on " + f.VirtVM + " (not KVM itself)"
	}
	return Facts{Disk: contract.Disk{Device: f.Device.Device, Model: f.Device.Model, FSType: f.Device.FSType, Rotational: f.Device.Rotational}, Virtualization: virt}, nil
}

// Rotate installs next as the server's host key over a session verified
// with t's key, then checks that the server answers with next.
func (c SSHConnector) Rotate(ctx context.Context, t remote.Target, a remote.Auth, h remote.HostKeyRotation, next infra.HostKeyPair) error {
	r, err := remote.Dial(ctx, t, a, remote.DialOptions{Log: c.Log})
	if err != nil {
		return err
	}
	err = h.Rotate(ctx, r, next.PrivatePEM, next.Public)
	r.Close()
	if err != nil {
		return err
	}
	t.HostKey = next.Public
	n, err := remote.Dial(ctx, t, a, remote.DialOptions{Attempts: 20, Log: c.Log})
	if err != nil {
		return fmt.Errorf("%s: after the host key rotation: %w", t.Name, err)
	}
	return n.Close()
}
