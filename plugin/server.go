package plugin

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pplugin "github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil/rpcerror"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/infra"
	"github.com/meshready/meshready/remote"
)

// BackendFactory makes the backend a server's inputs name.
type BackendFactory func(in contract.ServerInputs) (infra.Backend, error)

// Facts are what the plugin reads from a server once it answers SSH.
type Facts struct {
	Disk           contract.Disk
	Virtualization string
}

// Connector waits until a server answers SSH with its pinned host key, then
// reads its disk and virtualisation facts; Rotate gives it a new host key
// over a session verified with the old one, and checks it answers with it.
type Connector interface {
	Probe(ctx context.Context, t remote.Target, auth remote.Auth) (Facts, error)
	Rotate(ctx context.Context, t remote.Target, auth remote.Auth, h remote.HostKeyRotation, next infra.HostKeyPair) error
}

// servers serves contract.Server through the VPS backends.
type servers struct {
	backends map[string]BackendFactory
	connect  Connector
	log      *slog.Logger
}

func (s servers) backend(in contract.ServerInputs) (infra.Backend, error) {
	f, ok := s.backends[in.Backend]
	if !ok {
		return nil, fmt.Errorf("backend %q is not served by this plugin", in.Backend)
	}
	return f(in)
}

func (s servers) check(in contract.ServerInputs) []pplugin.CheckFailure {
	var f []pplugin.CheckFailure
	fail := func(k, format string, args ...any) {
		f = append(f, pplugin.CheckFailure{Property: resource.PropertyKey(k), Reason: fmt.Sprintf(format, args...)})
	}
	if _, ok := s.backends[in.Backend]; !ok {
		fail("backend", "%q is not a backend this plugin serves", in.Backend)
	}
	if in.Name == "" {
		fail("name", "required")
	}
	if in.Role != config.RoleControlPlane && in.Role != config.RoleWorker {
		fail("role", "%q is not %s or %s", in.Role, config.RoleControlPlane, config.RoleWorker)
	}
	switch config.Provider(in.Backend) {
	case config.ProviderStatic:
		if in.Static == nil || in.Static.Address == "" || in.Static.HostKey == "" {
			fail("static", "address and hostKey are required for a static server")
		}
	case config.ProviderHetzner:
		if in.Hetzner == nil {
			fail("hetzner", "the API token is required")
		}
	case config.ProviderLocal:
		if in.Local == nil {
			fail("local", "bridge and subnet are required")
		}
	}
	return f
}

func (s servers) create(ctx context.Context, in contract.ServerInputs) (string, contract.ServerOutputs, error) {
	b, err := s.backend(in)
	if err != nil {
		return "", contract.ServerOutputs{}, err
	}
	spec := infra.ServerSpec{
		Name: in.Name, Role: in.Role, Region: in.Region, ServerType: in.ServerType, Image: in.Image,
		SSHPublicKey: in.SSHPublicKey, Labels: ownLabels(in),
	}
	hostKey := ""
	if in.Static != nil {
		hostKey = in.Static.HostKey
	} else {
		// The server gets a host key made here, so the first connect is
		// already verified; the same one again when a killed create resumes.
		if spec.HostKey, err = hostKeyFor(in.SSHPrivateKey, in.Name, 0); err != nil {
			return "", contract.ServerOutputs{}, err
		}
		hostKey = spec.HostKey.Public
	}
	s.log.InfoContext(ctx, "creating server", "host", in.Name, "backend", in.Backend)
	srv, err := b.Create(ctx, spec)
	if err != nil {
		return "", contract.ServerOutputs{}, fmt.Errorf("create %s: %w", in.Name, err)
	}
	t := remote.Target{Name: in.Name, Address: srv.Address(), Port: srv.SSHPort, User: srv.SSHUser, HostKey: hostKey}
	var rotated infra.HostKeyPair
	if in.Hetzner != nil {
		if rotated, err = hostKeyFor(in.SSHPrivateKey, in.Name, 1); err != nil {
			return "", contract.ServerOutputs{}, err
		}
	}
	facts, err := s.connect.Probe(ctx, t, in.Auth())
	var hk *remote.HostKeyError
	if errors.As(err, &hk) && rotated.Public != "" {
		// A create killed after the rotation below: the server has its second key.
		t.HostKey = rotated.Public
		if facts, err = s.connect.Probe(ctx, t, in.Auth()); err == nil {
			hostKey, rotated = rotated.Public, infra.HostKeyPair{}
		}
	}
	if err != nil {
		msg := fmt.Sprintf("%s was created but does not answer SSH with its pinned host key: %v", in.Name, err)
		return "", contract.ServerOutputs{}, initFailed(srv.ID, serverOutputs(in, srv, hostKey, Facts{}), msg)
	}
	if rotated.Public != "" {
		// The first host key travelled in user_data, which the metadata
		// service serves (to pods too) for the server's life: replace it.
		if err := s.connect.Rotate(ctx, t, in.Auth(), remote.DebianRotation(), rotated); err != nil {
			msg := fmt.Sprintf("%s was created but its host key could not be replaced: %v", in.Name, err)
			return "", contract.ServerOutputs{}, initFailed(srv.ID, serverOutputs(in, srv, hostKey, facts), msg)
		}
		hostKey = rotated.Public
		s.log.InfoContext(ctx, "host key replaced (the first one was in user_data)", "host", in.Name)
	}
	if facts.Virtualization == "" {
		facts.Virtualization = srv.Virtualization
	}
	s.log.InfoContext(ctx, "server ready", "host", in.Name, "address", srv.Address(), "disk", facts.Disk.Device)
	out := serverOutputs(in, srv, hostKey, facts)
	out.Instance = randomHex(8)
	return srv.ID, out, nil
}

func (s servers) read(ctx context.Context, id string, in contract.ServerInputs, state contract.ServerOutputs) (contract.ServerOutputs, bool, error) {
	b, err := s.backend(in)
	if err != nil {
		return state, false, err
	}
	srv, err := b.Get(ctx, id)
	if errors.Is(err, infra.ErrNotFound) {
		s.log.WarnContext(ctx, "server is gone", "host", in.Name, "id", id)
		return state, false, nil
	}
	if err != nil {
		return state, false, fmt.Errorf("read %s: %w", in.Name, err)
	}
	// Facts are read once, at create.
	out := serverOutputs(in, srv, state.HostKey, Facts{Disk: state.Disk, Virtualization: state.Virtualization})
	out.Instance = state.Instance
	return out, true, nil
}

func (s servers) update(ctx context.Context, _ string, old contract.ServerOutputs, in contract.ServerInputs) (contract.ServerOutputs, error) {
	// A backend with stack-wide objects (Hetzner's firewall) brings them to
	// the new inputs: new allowed CIDRs change the firewall, not the server.
	if b, err := s.backend(in); err == nil {
		if r, ok := b.(infra.StackReconciler); ok {
			if err := r.Reconcile(ctx, in.Region); err != nil {
				return old, fmt.Errorf("update %s: %w", in.Name, err)
			}
		}
	}
	old.ServerInputs = in
	old.Labels = ownLabels(in)
	return old, nil
}

func (s servers) delete(ctx context.Context, id string, in contract.ServerInputs, _ contract.ServerOutputs) error {
	b, err := s.backend(in)
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "deleting server", "host", in.Name, "id", id)
	if err := b.Delete(ctx, id); err != nil && !errors.Is(err, infra.ErrNotFound) {
		return fmt.Errorf("delete %s: %w", in.Name, err)
	}
	return nil
}

// initFailed reports a server that exists but is not usable. The engine then
// records it in state with its ID (so a re-run or destroy deals with it)
// instead of leaking it; the provider server passes this gRPC error through.
func initFailed(id string, out contract.ServerOutputs, msg string) error {
	pm, err := encode(out, append(contract.Server().SecretInputs, contract.Server().SecretOutputs...))
	if err == nil {
		var props *structpb.Struct
		props, err = pplugin.MarshalProperties(pm, pplugin.MarshalOptions{KeepSecrets: true})
		if err == nil {
			return rpcerror.WithDetails(rpcerror.New(codes.Unknown, msg),
				&pulumirpc.ErrorResourceInitFailed{Id: id, Properties: props, Reasons: []string{msg}})
		}
	}
	return fmt.Errorf("%s (and its outputs: %w)", msg, err)
}

// ownLabels are the labels that mark what meshready owns, plus the user's.
func ownLabels(in contract.ServerInputs) map[string]string {
	l := map[string]string{"meshready": "true", "meshready-stack": in.Stack, "meshready-role": in.Role}
	if in.Owner != "" {
		l[infra.LabelBackend] = in.Owner
	}
	for k, v := range in.Labels {
		l[k] = v
	}
	return l
}

func serverOutputs(in contract.ServerInputs, srv infra.Server, hostKey string, f Facts) contract.ServerOutputs {
	return contract.ServerOutputs{
		ServerInputs: in, Status: srv.Status, PublicIP: srv.PublicIPv4, PrivateIP: srv.PrivateIPv4,
		Address: srv.Address(), SSHPort: srv.SSHPort, SSHUser: srv.SSHUser,
		HostKey: strings.TrimSpace(hostKey), HostKeyFingerprint: fingerprint(hostKey),
		Labels: ownLabels(in), Disk: f.Disk, Virtualization: f.Virtualization,
	}
}

// fingerprint is the SHA256 fingerprint of an authorized_keys line; a
// fingerprint given as such is returned unchanged.
func fingerprint(key string) string {
	if pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key)); err == nil {
		return ssh.FingerprintSHA256(pk)
	}
	return key
}

// newKeyPair makes a random ed25519 SSH key pair (the login key).
func newKeyPair() (infra.HostKeyPair, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return infra.HostKeyPair{}, err
	}
	return keyPair(priv)
}

// hostKeyFor is server name's nth host key (0: the one it is created with,
// 1: the one a rotation installs), derived from the stack's login key, a
// secret kept in its state: a create that was killed and is resumed finds
// the server it made answering with the key it expects. Without a login
// key (none to derive from) the key is random.
func hostKeyFor(login, name string, n int) (infra.HostKeyPair, error) {
	if login == "" {
		return newKeyPair()
	}
	mac := hmac.New(sha256.New, []byte(login))
	fmt.Fprintf(mac, "meshready host key %d of %s", n, name)
	return keyPair(ed25519.NewKeyFromSeed(mac.Sum(nil)))
}

func keyPair(priv ed25519.PrivateKey) (infra.HostKeyPair, error) {
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return infra.HostKeyPair{}, err
	}
	sp, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return infra.HostKeyPair{}, err
	}
	return infra.HostKeyPair{
		PrivatePEM: string(pem.EncodeToMemory(block)),
		Public:     strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))),
	}, nil
}

// sshKeys serves contract.SSHKey: a key pair made once, kept in state.
type sshKeys struct {
	noop[contract.SSHKeyInputs, contract.SSHKeyOutputs]
}

func (sshKeys) create(_ context.Context, in contract.SSHKeyInputs) (string, contract.SSHKeyOutputs, error) {
	kp, err := newKeyPair()
	if err != nil {
		return "", contract.SSHKeyOutputs{}, err
	}
	fp := fingerprint(kp.Public)
	return fp, contract.SSHKeyOutputs{SSHKeyInputs: in, PublicKey: kp.Public, PrivateKey: kp.PrivatePEM, Fingerprint: fp}, nil
}
