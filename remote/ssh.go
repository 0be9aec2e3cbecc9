package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Target is an SSH endpoint and how its identity is known in advance.
type Target struct {
	Name    string // shown in logs and errors; defaults to Address
	Address string
	Port    int    // 22 when 0
	User    string // root when empty
	// HostKey pins the server: a SHA256:... fingerprint or an authorized_keys line.
	HostKey string
	// KnownHosts is an OpenSSH known_hosts file, used when HostKey is empty.
	KnownHosts string
	// Via is an optional bastion (ProxyJump) reached first.
	Via *Target
}

func (t Target) addr() string {
	port := t.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(t.Address, strconv.Itoa(port))
}

func (t Target) name() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Address
}

// Auth is how meshready logs in: a private key (file or bytes), else the agent.
type Auth struct {
	IdentityFile string
	PrivateKey   []byte
	// AgentSocket is SSH_AUTH_SOCK; used when no key is given.
	AgentSocket string
}

// DialOptions tune connecting.
type DialOptions struct {
	// Attempts is how many times to try to connect (default 10); host key and
	// auth failures are never retried.
	Attempts int
	// Backoff is the wait before attempt n (1-based); default 250ms doubling to 5s.
	Backoff func(attempt int) time.Duration
	// Timeout bounds one TCP connect + handshake (default 10s).
	Timeout time.Duration
	// KeepAlive is the interval of keepalive requests (default 15s; <0 disables).
	KeepAlive time.Duration
	Log       *slog.Logger
}

// HostKeyError is a server whose key is not the pinned one: never retried.
type HostKeyError struct {
	Host      string
	Want, Got string
}

func (e *HostKeyError) Error() string {
	return fmt.Sprintf("%s: host key mismatch: pinned %s, server offered %s (refusing to connect)", e.Host, e.Want, e.Got)
}

// ConnectError is a host that could not be reached or logged in to.
type ConnectError struct {
	Host     string
	Attempts int
	Err      error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("%s: ssh connect failed after %d attempt(s): %v", e.Host, e.Attempts, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// SSH is a Runner over one SSH connection.
type SSH struct {
	name   string
	client *ssh.Client
	via    *ssh.Client
	stop   chan struct{}
}

func defaults(o DialOptions) DialOptions {
	if o.Attempts <= 0 {
		o.Attempts = 10
	}
	if o.Backoff == nil {
		o.Backoff = func(n int) time.Duration {
			d := 250 * time.Millisecond << (n - 1)
			return min(d, 5*time.Second)
		}
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = 15 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Dial connects to t, retrying transient failures with backoff until ctx ends.
func Dial(ctx context.Context, t Target, auth Auth, o DialOptions) (*SSH, error) {
	o = defaults(o)
	methods, err := authMethods(auth)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.name(), err)
	}
	var via *ssh.Client
	if t.Via != nil {
		bastion, err := Dial(ctx, *t.Via, auth, o)
		if err != nil {
			return nil, fmt.Errorf("%s: via bastion: %w", t.name(), err)
		}
		via = bastion.client
	}
	var last error
	for attempt := 1; attempt <= o.Attempts; attempt++ {
		client, err := dialOnce(ctx, t, methods, via, o.Timeout)
		if err == nil {
			s := &SSH{name: t.name(), client: client, via: via, stop: make(chan struct{})}
			if o.KeepAlive > 0 {
				go s.keepAlive(o.KeepAlive)
			}
			return s, nil
		}
		last = err
		var hk *HostKeyError
		if errors.As(err, &hk) || isAuthError(err) {
			break
		}
		o.Log.Debug("ssh connect failed, retrying", "host", t.name(), "attempt", attempt, "err", err)
		if attempt == o.Attempts {
			break
		}
		select {
		case <-ctx.Done():
			return nil, &ConnectError{t.name(), attempt, errors.Join(ctx.Err(), last)}
		case <-time.After(o.Backoff(attempt)):
		}
	}
	if via != nil {
		via.Close()
	}
	var hk *HostKeyError
	if errors.As(last, &hk) {
		return nil, hk
	}
	return nil, &ConnectError{t.name(), o.Attempts, last}
}

func isAuthError(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unable to authenticate")
}

func dialOnce(ctx context.Context, t Target, methods []ssh.AuthMethod, via *ssh.Client, timeout time.Duration) (*ssh.Client, error) {
	user := t.User
	if user == "" {
		user = "root"
	}
	hostKey, err := hostKeyCallback(t)
	if err != nil {
		return nil, err
	}
	cfg := &ssh.ClientConfig{User: user, Auth: methods, HostKeyCallback: hostKey, Timeout: timeout}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var conn net.Conn
	if via != nil {
		conn, err = via.DialContext(dctx, "tcp", t.addr())
	} else {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", t.addr())
	}
	if err != nil {
		return nil, err
	}
	// The handshake has no context: bound it with a deadline.
	conn.SetDeadline(time.Now().Add(timeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, t.addr(), cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// hostKeyCallback pins the server's key; there is deliberately no
// trust-on-first-use fallback.
func hostKeyCallback(t Target) (ssh.HostKeyCallback, error) {
	switch {
	case strings.HasPrefix(t.HostKey, "SHA256:"):
		want := t.HostKey
		return func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if got := ssh.FingerprintSHA256(key); got != want {
				return &HostKeyError{t.name(), want, got}
			}
			return nil
		}, nil
	case t.HostKey != "":
		pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(t.HostKey))
		if err != nil {
			return nil, fmt.Errorf("pinned host key: %w", err)
		}
		return func(_ string, _ net.Addr, key ssh.PublicKey) error {
			if !bytes.Equal(key.Marshal(), pinned.Marshal()) {
				return &HostKeyError{t.name(), ssh.FingerprintSHA256(pinned), ssh.FingerprintSHA256(key)}
			}
			return nil
		}, nil
	case t.KnownHosts != "":
		cb, err := knownhosts.New(t.KnownHosts)
		if err != nil {
			return nil, fmt.Errorf("known hosts: %w", err)
		}
		return func(host string, remote net.Addr, key ssh.PublicKey) error {
			if err := cb(host, remote, key); err != nil {
				return &HostKeyError{t.name(), "an entry in " + t.KnownHosts, ssh.FingerprintSHA256(key) + " (" + err.Error() + ")"}
			}
			return nil
		}, nil
	}
	return nil, errors.New("no host key pinned: give a fingerprint, a public key or a known_hosts file")
}

func authMethods(a Auth) ([]ssh.AuthMethod, error) {
	key := a.PrivateKey
	if a.IdentityFile != "" {
		b, err := os.ReadFile(a.IdentityFile)
		if err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		key = b
	}
	if len(key) > 0 {
		signer, err := ssh.ParsePrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		return []ssh.AuthMethod{ssh.PublicKeys(signer)}, nil
	}
	if a.AgentSocket != "" {
		conn, err := net.Dial("unix", a.AgentSocket)
		if err != nil {
			return nil, fmt.Errorf("ssh agent: %w", err)
		}
		return []ssh.AuthMethod{ssh.PublicKeysCallback(agent.NewClient(conn).Signers)}, nil
	}
	return nil, errors.New("no identity file and no SSH agent (SSH_AUTH_SOCK)")
}

func (s *SSH) keepAlive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if _, _, err := s.client.SendRequest("keepalive@openssh.com", true, nil); err != nil {
				s.client.Close()
				return
			}
		}
	}
}

// Host names the host.
func (s *SSH) Host() string { return s.name }

// Close ends the connection (and the bastion's).
func (s *SSH) Close() error {
	close(s.stop)
	err := s.client.Close()
	if s.via != nil {
		s.via.Close()
	}
	return err
}

// DialContext opens a TCP connection from the node to addr, through the SSH
// connection (a direct-tcpip channel): how meshready reads what a node serves
// only on its loopback, such as etcd's /metrics on 127.0.0.1:2381.
func (s *SSH) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := s.client.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("%s: tunnel to %s: %w", s.name, addr, err)
	}
	return c, nil
}
