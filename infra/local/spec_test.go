package local

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/meshready/meshready/infra"
)

func TestCheckSpec(t *testing.T) {
	priv, pub := newKey(t)
	_, otherPub := newKey(t)
	_, client := newKey(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaBlock, err := ssh.MarshalPrivateKey(rsaKey, "")
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, _ := ssh.NewPublicKey(&rsaKey.PublicKey)
	good := infra.ServerSpec{Name: "local-cp-0", SSHPublicKey: client,
		HostKey: infra.HostKeyPair{PrivatePEM: string(priv), Public: pub}}
	if err := checkSpec(good); err != nil {
		t.Fatalf("a good spec: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*infra.ServerSpec)
		want string
	}{
		{"upper case", func(s *infra.ServerSpec) { s.Name = "Local" }, "name"},
		{"path", func(s *infra.ServerSpec) { s.Name = "../x" }, "name"},
		{"too long", func(s *infra.ServerSpec) { s.Name = strings.Repeat("a", 59) }, "name"},
		{"no host key", func(s *infra.ServerSpec) { s.HostKey.PrivatePEM = "" }, "host key"},
		{"mismatched public", func(s *infra.ServerSpec) { s.HostKey.Public = otherPub }, "not the private key's"},
		{"rsa host key", func(s *infra.ServerSpec) {
			s.HostKey = infra.HostKeyPair{PrivatePEM: string(pem.EncodeToMemory(rsaBlock)), Public: string(ssh.MarshalAuthorizedKey(rsaPub))}
		}, "ed25519"},
		{"no client key", func(s *infra.ServerSpec) { s.SSHPublicKey = "" }, "SSH public key"},
		{"two client keys", func(s *infra.ServerSpec) { s.SSHPublicKey = client + "\n" + otherPub }, "one key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.edit(&s)
			err := checkSpec(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("the error shows key material: %v", err)
			}
		})
	}
}
