package hetzner

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meshready/meshready/infra"
)

// maxUserData is Hetzner's limit on user_data (32 KiB).
const maxUserData = 32 << 10

// cloudConfig is the part of cloud-init's #cloud-config that meshready sets:
// the ssh module's host keys. Built as data and marshalled, so that a key's
// newlines or odd characters cannot break the document.
type cloudConfig struct {
	// SSHDeleteKeys removes the host keys baked into the image.
	SSHDeleteKeys bool `yaml:"ssh_deletekeys"`
	// SSHGenKeyTypes is empty: cloud-init generates no host key of its own.
	SSHGenKeyTypes []string `yaml:"ssh_genkeytypes"`
	// SSHKeys are the host keys cloud-init writes to /etc/ssh.
	SSHKeys cloudHostKeys `yaml:"ssh_keys"`
}

type cloudHostKeys struct {
	ED25519Private string `yaml:"ed25519_private"`
	ED25519Public  string `yaml:"ed25519_public"`
}

// RenderUserData is the cloud-init user_data a server is created with: it
// makes hk the server's only SSH host key, so that meshready's first SSH
// connection is verified against a key it made, not trusted on first use.
// It is a pure function of hk; the result holds a private key and must not be
// logged.
func RenderUserData(hk infra.HostKeyPair) (string, error) {
	if err := checkHostKey(hk); err != nil {
		return "", err
	}
	private := hk.PrivatePEM
	if !strings.HasSuffix(private, "\n") {
		private += "\n" // OpenSSH wants the key file to end in a newline
	}
	doc := cloudConfig{
		SSHDeleteKeys:  true,
		SSHGenKeyTypes: []string{},
		SSHKeys: cloudHostKeys{
			ED25519Private: private,
			ED25519Public:  strings.TrimSpace(hk.Public),
		},
	}
	var buf bytes.Buffer
	buf.WriteString("#cloud-config\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return "", fmt.Errorf("render cloud-init user data: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("render cloud-init user data: %w", err)
	}
	if buf.Len() > maxUserData {
		return "", fmt.Errorf("cloud-init user data is %d bytes; Hetzner takes at most %d", buf.Len(), maxUserData)
	}
	return buf.String(), nil
}

// checkHostKey rejects a pair that cannot be an ed25519 host key, without
// ever quoting the private part.
func checkHostKey(hk infra.HostKeyPair) error {
	if !strings.HasPrefix(strings.TrimSpace(hk.Public), "ssh-ed25519 ") {
		return errors.New("host key: public key is not in authorized_keys format starting with ssh-ed25519")
	}
	p := strings.TrimSpace(hk.PrivatePEM)
	if !strings.HasPrefix(p, "-----BEGIN OPENSSH PRIVATE KEY-----") || !strings.HasSuffix(p, "-----END OPENSSH PRIVATE KEY-----") {
		return errors.New("host key: private key is not an OpenSSH private key (BEGIN/END OPENSSH PRIVATE KEY)")
	}
	return nil
}
