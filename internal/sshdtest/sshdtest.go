// Package sshdtest starts a real OpenSSH server on loopback for tests, with a
// host key and a client key made for the test, so that the SSH runner and
// everything above it can be tested against the real thing.
package sshdtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Server is a running sshd.
type Server struct {
	Address string // 127.0.0.1
	Port    int
	User    string
	// HostKeyFingerprint and HostPublicKey pin the server.
	HostKeyFingerprint string
	HostPublicKey      string
	// ClientKeyFile is a private key sshd accepts.
	ClientKeyFile string
	// Dir is the server's scratch folder (removed after the test).
	Dir string
	// HostKeyFile is the private host key sshd serves; PID the listener's
	// process (SIGHUP makes it read its host keys again).
	HostKeyFile string
	PID         int
}

// Sshd is where Debian's openssh-server puts the daemon.
const Sshd = "/usr/sbin/sshd"

// Start runs sshd on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := os.Stat(Sshd); err != nil {
		t.Fatalf("%s missing: run scripts/deps.sh (Debian package openssh-server)", Sshd)
	}
	// sshd refuses to start without its privilege separation directory, which
	// the package makes at boot through systemd; make it where there is no systemd.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("privsep dir: %v", err)
	}
	dir := t.TempDir()
	s := &Server{Address: "127.0.0.1", User: currentUser(), Dir: dir}

	hostPub := key(t, filepath.Join(dir, "host_ed25519"))
	s.HostKeyFingerprint = ssh.FingerprintSHA256(hostPub)
	s.HostPublicKey = string(ssh.MarshalAuthorizedKey(hostPub))
	clientPub := key(t, filepath.Join(dir, "client_ed25519"))
	s.ClientKeyFile = filepath.Join(dir, "client_ed25519")
	write(t, filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientPub), 0o600)

	s.Port = freePort(t)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile none
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
LogLevel ERROR
`, s.Port, filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "authorized_keys"))
	write(t, filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600)

	cmd := exec.Command(Sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	logFile, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	s.HostKeyFile, s.PID = filepath.Join(dir, "host_ed25519"), cmd.Process.Pid
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil && len(b) > 0 {
				t.Logf("sshd log:\n%s", b)
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", net.JoinHostPort(s.Address, strconv.Itoa(s.Port)))
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %d: %v", s.Port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "root"
}

// key makes an ed25519 key pair, writes the private key in OpenSSH format and
// returns the public key.
func key(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	priv, pub := NewKey(t)
	write(t, path, priv, 0o600)
	sshPub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
	if err != nil {
		t.Fatal(err)
	}
	return sshPub
}

func write(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WriteKey writes a fresh private key the server does not know.
func WriteKey(t testing.TB, path string) { key(t, path) }

// NewKey makes an ed25519 key pair for a test: the OpenSSH private PEM and
// the authorized_keys line.
func NewKey(t testing.TB) ([]byte, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))
}
