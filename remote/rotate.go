package remote

import (
	"context"
	"fmt"
	"strings"
)

// HostKeyRotation replaces a server's SSH host key over a session that was
// verified with the old one: for a key that travelled where others could
// read it (a cloud's user_data stays readable from the metadata service
// for the server's life).
type HostKeyRotation struct {
	// KeyFile is the private host key sshd serves (its .pub beside it).
	KeyFile string
	// Reload makes the listening sshd read its host keys again (sessions
	// that are open stay).
	Reload string
}

// DebianRotation is the rotation of a Debian or Ubuntu server's ed25519 key.
func DebianRotation() HostKeyRotation {
	return HostKeyRotation{
		KeyFile: "/etc/ssh/ssh_host_ed25519_key",
		Reload:  "systemctl reload ssh 2>/dev/null || systemctl reload sshd 2>/dev/null || pkill -HUP -x sshd",
	}
}

// Rotate installs the new key pair through r (the private key written
// 0600, atomically) and reloads sshd. The caller pins the new public key
// and checks that the server answers with it.
func (h HostKeyRotation) Rotate(ctx context.Context, r Runner, privatePEM, public string) error {
	if err := r.Upload(ctx, h.KeyFile, []byte(strings.TrimSpace(privatePEM)+"\n"), 0o600); err != nil {
		return fmt.Errorf("%s: rotate host key: %w", r.Host(), err)
	}
	if err := r.Upload(ctx, h.KeyFile+".pub", []byte(strings.TrimSpace(public)+"\n"), 0o644); err != nil {
		return fmt.Errorf("%s: rotate host key: %w", r.Host(), err)
	}
	if _, err := r.Run(ctx, h.Reload); err != nil {
		return fmt.Errorf("%s: rotate host key: reload sshd: %w", r.Host(), err)
	}
	return nil
}
