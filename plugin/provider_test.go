package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pplugin "github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/infra"
	"github.com/meshready/meshready/remote"
)

// fakeBackend keeps servers in memory and remembers the specs it was given.
type fakeBackend struct {
	mu      sync.Mutex
	servers map[string]infra.Server
	specs   []infra.ServerSpec
	deletes int
}

func (f *fakeBackend) Create(_ context.Context, s infra.ServerSpec) (infra.Server, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.specs = append(f.specs, s)
	srv := infra.Server{ID: "id-" + s.Name, Name: s.Name, Status: "running", PrivateIPv4: "10.213.0.9", SSHPort: 22, SSHUser: "root", Labels: s.Labels, Virtualization: "fake"}
	f.servers[srv.ID] = srv
	return srv, nil
}

func (f *fakeBackend) Get(_ context.Context, id string) (infra.Server, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.servers[id]
	if !ok {
		return s, fmt.Errorf("%s: %w", id, infra.ErrNotFound)
	}
	return s, nil
}

func (f *fakeBackend) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes++
	delete(f.servers, id)
	return nil
}

func (f *fakeBackend) List(context.Context, map[string]string) ([]infra.Server, error) {
	return nil, nil
}

// fakeConnector checks that the pinned host key is the one the backend was
// given, and records rotations.
type fakeConnector struct {
	backend *fakeBackend
	fail    error
	rotated *[]string // "old -> new" public keys
}

func (c fakeConnector) Rotate(_ context.Context, t remote.Target, _ remote.Auth, h remote.HostKeyRotation, next infra.HostKeyPair) error {
	if c.rotated != nil {
		*c.rotated = append(*c.rotated, t.HostKey+" -> "+next.Public+" in "+h.KeyFile)
	}
	return nil
}

func (c fakeConnector) Probe(_ context.Context, t remote.Target, a remote.Auth) (Facts, error) {
	if c.fail != nil {
		return Facts{}, c.fail
	}
	c.backend.mu.Lock()
	defer c.backend.mu.Unlock()
	last := c.backend.specs[len(c.backend.specs)-1]
	if t.HostKey != last.HostKey.Public || len(a.PrivateKey) == 0 {
		return Facts{}, errors.New("pinned a different host key than the server got, or no login key")
	}
	return Facts{Disk: contract.Disk{Device: "vda", FSType: "ext4", Rotational: new(false)}}, nil
}

func serve(t *testing.T, conn Connector, b *fakeBackend) pulumirpc.ResourceProviderClient {
	t.Helper()
	return serveProvider(t, testProvider(conn, b))
}

func testProvider(conn Connector, b *fakeBackend) *Provider {
	return New("0.1.0", Deps{
		Backends: map[string]BackendFactory{"local": func(contract.ServerInputs) (infra.Backend, error) { return b, nil }},
		Connect:  conn, Log: slog.New(slog.DiscardHandler),
		Dial: func(context.Context, remote.Target, remote.Auth) (remote.Runner, error) {
			return nil, errors.New("this test dials no node")
		},
	})
}

func serveProvider(t *testing.T, p *Provider) pulumirpc.ResourceProviderClient {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	pulumirpc.RegisterResourceProviderServer(s, pplugin.NewProviderServer(p))
	go s.Serve(l)
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pulumirpc.NewResourceProviderClient(cc)
}

func props(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	pm := resource.NewPropertyMapFromMap(m)
	if k, ok := m["sshPrivateKey"]; ok {
		pm["sshPrivateKey"] = resource.MakeSecret(resource.NewProperty(k.(string)))
	}
	s, err := pplugin.MarshalProperties(pm, pplugin.MarshalOptions{KeepSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func inputs(name string) map[string]any {
	return map[string]any{
		"backend": "local", "stack": "s1", "name": name, "role": "worker", "region": "local",
		"sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", "sshPrivateKey": "PRIVATE",
		"local": map[string]any{"bridge": "mr-br0", "subnet": "10.213.0.0/24"},
	}
}

const urn = "urn:pulumi:s1::meshready::meshready:infra:Server::n1"

func TestCheckNamesBadInputs(t *testing.T) {
	c := serve(t, fakeConnector{}, &fakeBackend{servers: map[string]infra.Server{}})
	in := inputs("n1")
	in["backend"], in["role"] = "aws", "boss"
	res, err := c.Check(t.Context(), &pulumirpc.CheckRequest{Urn: urn, Type: contract.Server().Token, News: props(t, in)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range res.GetFailures() {
		got[f.GetProperty()] = f.GetReason()
	}
	if !strings.Contains(got["backend"], `"aws"`) || !strings.Contains(got["role"], `"boss"`) {
		t.Errorf("failures = %v", got)
	}
}

func TestDiffReplacesImmutableFieldsAndUpdatesLabels(t *testing.T) {
	c := serve(t, fakeConnector{}, &fakeBackend{servers: map[string]infra.Server{}})
	diff := func(mod func(map[string]any)) *pulumirpc.DiffResponse {
		n := inputs("n1")
		mod(n)
		res, err := c.Diff(t.Context(), &pulumirpc.DiffRequest{Urn: urn, Type: contract.Server().Token, Id: "id-n1",
			OldInputs: props(t, inputs("n1")), Olds: props(t, inputs("n1")), News: props(t, n)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if d := diff(func(map[string]any) {}); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("no change: %v", d)
	}
	d := diff(func(m map[string]any) { m["serverType"] = "ccx23" })
	if d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || strings.Join(d.GetReplaces(), ",") != "serverType" || !d.GetDeleteBeforeReplace() {
		t.Errorf("serverType change: %v", d)
	}
	d = diff(func(m map[string]any) { m["labels"] = map[string]any{"team": "a"} })
	if d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(d.GetReplaces()) != 0 {
		t.Errorf("labels change should update in place: %v", d)
	}
}

func TestCreateReadDelete(t *testing.T) {
	b := &fakeBackend{servers: map[string]infra.Server{}}
	c := serve(t, fakeConnector{backend: b}, b)
	res, err := c.Create(t.Context(), &pulumirpc.CreateRequest{Urn: urn, Type: contract.Server().Token, Properties: props(t, inputs("n1"))})
	if err != nil {
		t.Fatal(err)
	}
	out, err := pplugin.UnmarshalProperties(res.GetProperties(), pplugin.MarshalOptions{KeepSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	spec := b.specs[0]
	if res.GetId() != "id-n1" || out["hostKey"].StringValue() != spec.HostKey.Public || out["address"].StringValue() != "10.213.0.9" {
		t.Errorf("outputs = %v", out)
	}
	if out["disk"].ObjectValue()["device"].StringValue() != "vda" || out["disk"].ObjectValue()["rotational"].BoolValue() {
		t.Errorf("disk facts = %v", out["disk"])
	}
	// The private host key went to the server, never into outputs.
	signer, err := ssh.ParsePrivateKey([]byte(spec.HostKey.PrivatePEM))
	if err != nil || strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) != spec.HostKey.Public {
		t.Fatalf("host key pair does not match: %v", err)
	}
	// The login key the inputs carry stays a secret in the outputs.
	rest := out.Copy()
	delete(rest, "sshPrivateKey")
	if s := fmt.Sprint(rest); strings.Contains(s, "PRIVATE") || !out["sshPrivateKey"].IsSecret() {
		t.Errorf("a private key leaked into outputs: %s", s)
	}
	if spec.Labels["meshready"] != "true" || spec.Labels["meshready-stack"] != "s1" {
		t.Errorf("labels = %v", spec.Labels)
	}

	read := func() string {
		r, err := c.Read(t.Context(), &pulumirpc.ReadRequest{Urn: urn, Type: contract.Server().Token, Id: "id-n1",
			Inputs: props(t, inputs("n1")), Properties: res.GetProperties()})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetId()
	}
	if read() != "id-n1" {
		t.Errorf("existing server read as gone")
	}
	delete(b.servers, "id-n1") // deleted behind Pulumi's back
	if id := read(); id != "" {
		t.Errorf("a vanished server read as %q, want gone", id)
	}
	for range 2 {
		if _, err := c.Delete(t.Context(), &pulumirpc.DeleteRequest{Urn: urn, Type: contract.Server().Token, Id: "id-n1",
			OldInputs: props(t, inputs("n1")), Properties: res.GetProperties()}); err != nil {
			t.Errorf("delete: %v", err)
		}
	}
}

func TestCreateThatNeverAnswersSSHStillReportsTheServer(t *testing.T) {
	b := &fakeBackend{servers: map[string]infra.Server{}}
	c := serve(t, fakeConnector{backend: b, fail: errors.New("host key mismatch")}, b)
	_, err := c.Create(t.Context(), &pulumirpc.CreateRequest{Urn: urn, Type: contract.Server().Token, Properties: props(t, inputs("n1"))})
	if err == nil || !strings.Contains(err.Error(), "does not answer SSH with its pinned host key") {
		t.Fatalf("want a partial failure, got %v", err)
	}
	// The engine gets the ID with the error (an init failure), so the server is tracked, not leaked.
	st, _ := status.FromError(err)
	var id string
	for _, d := range st.Details() {
		if f, ok := d.(*pulumirpc.ErrorResourceInitFailed); ok {
			id = f.GetId()
		}
	}
	if id != "id-n1" {
		t.Errorf("init failure carries id %q, want id-n1 (details %v)", id, st.Details())
	}
}

// TestCreateInPreviewMakesNothing: the engine calls Create with preview set
// during `pulumi preview`; no server may come of it.
func TestCreateInPreviewMakesNothing(t *testing.T) {
	b := &fakeBackend{servers: map[string]infra.Server{}}
	c := serve(t, fakeConnector{backend: b}, b)
	for _, typ := range []string{contract.Server().Token, contract.Suite().Token, contract.Cluster().Token} {
		u := "urn:pulumi:s1::meshready::" + typ + "::n1"
		resp, err := c.Create(t.Context(), &pulumirpc.CreateRequest{Urn: u, Type: typ, Properties: props(t, inputs("n1")), Preview: true})
		if err != nil {
			t.Fatalf("%s: preview Create: %v", typ, err)
		}
		if resp.GetId() != "" {
			t.Errorf("%s: preview Create returned id %q", typ, resp.GetId())
		}
	}
	if len(b.specs) != 0 || len(b.servers) != 0 {
		t.Errorf("a preview created servers: %v", b.specs)
	}
}

// TestHetznerHostKeyIsRotated: a Hetzner server's first host key travelled
// in user_data; the key pinned in its outputs is a second one, installed
// over a session verified with the first.
func TestHetznerHostKeyIsRotated(t *testing.T) {
	b := &fakeBackend{servers: map[string]infra.Server{}}
	var rotated []string
	p := New("0.1.0", Deps{
		Backends: map[string]BackendFactory{"hetzner": func(contract.ServerInputs) (infra.Backend, error) { return b, nil }},
		Connect:  fakeConnector{backend: b, rotated: &rotated}, Log: slog.New(slog.DiscardHandler),
	})
	c := serveProvider(t, p)
	in := inputs("n1")
	delete(in, "local")
	in["backend"], in["hetzner"] = "hetzner", map[string]any{"token": "t"}
	res, err := c.Create(t.Context(), &pulumirpc.CreateRequest{Urn: urn, Type: contract.Server().Token, Properties: props(t, in)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := pplugin.UnmarshalProperties(res.GetProperties(), pplugin.MarshalOptions{KeepSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	first := b.specs[0].HostKey.Public
	if len(rotated) != 1 || !strings.HasPrefix(rotated[0], first+" -> ") || !strings.HasSuffix(rotated[0], " in /etc/ssh/ssh_host_ed25519_key") {
		t.Fatalf("rotations %v", rotated)
	}
	if pinned := out["hostKey"].StringValue(); pinned == first || !strings.Contains(rotated[0], pinned) {
		t.Errorf("pinned %s, first %s, rotations %v", pinned, first, rotated)
	}
	// A local server's key never left this host: it is not rotated.
	rotated = nil
	lp := serve(t, fakeConnector{backend: b, rotated: &rotated}, b)
	if _, err := lp.Create(t.Context(), &pulumirpc.CreateRequest{Urn: urn, Type: contract.Server().Token, Properties: props(t, inputs("n2"))}); err != nil {
		t.Fatal(err)
	}
	if len(rotated) != 0 {
		t.Errorf("a local server's key was rotated: %v", rotated)
	}
}

// keyedServers is a backend and connector whose servers keep the host key
// they were made with (a second Create of a name adopts the first server,
// as a resumed create does) until a rotation replaces it.
type keyedServers struct {
	fakeBackend
	keys    map[string]string // name -> the key the server answers with
	rotated int
}

func (k *keyedServers) Create(ctx context.Context, s infra.ServerSpec) (infra.Server, error) {
	k.mu.Lock()
	if _, ok := k.keys[s.Name]; !ok {
		k.keys[s.Name] = s.HostKey.Public
	}
	k.mu.Unlock()
	return k.fakeBackend.Create(ctx, s)
}

func (k *keyedServers) Probe(_ context.Context, t remote.Target, _ remote.Auth) (Facts, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if have := k.keys[t.Name]; t.HostKey != have {
		return Facts{}, &remote.HostKeyError{Host: t.Name, Want: t.HostKey, Got: have}
	}
	return Facts{Disk: contract.Disk{Device: "vda"}}, nil
}

func (k *keyedServers) Rotate(_ context.Context, t remote.Target, _ remote.Auth, _ remote.HostKeyRotation, next infra.HostKeyPair) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[t.Name] = next.Public
	k.rotated++
	return nil
}

// TestResumedCreateFindsTheServerItMade: host keys derive from the stack's
// login key, so a create killed after the server was made (before or after
// its key was rotated) and run again adopts that server and answers to the
// key it has; another server name gets another key.
func TestResumedCreateFindsTheServerItMade(t *testing.T) {
	k := &keyedServers{fakeBackend: fakeBackend{servers: map[string]infra.Server{}}, keys: map[string]string{}}
	p := New("0.1.0", Deps{
		Backends: map[string]BackendFactory{"hetzner": func(contract.ServerInputs) (infra.Backend, error) { return k, nil }},
		Connect:  k, Log: slog.New(slog.DiscardHandler),
	})
	c := serveProvider(t, p)
	create := func(name string) string {
		in := inputs(name)
		delete(in, "local")
		in["backend"], in["hetzner"] = "hetzner", map[string]any{"token": "t"}
		res, err := c.Create(t.Context(), &pulumirpc.CreateRequest{Urn: urn, Type: contract.Server().Token, Properties: props(t, in)})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		out, _ := pplugin.UnmarshalProperties(res.GetProperties(), pplugin.MarshalOptions{KeepSecrets: true})
		return out["hostKey"].StringValue()
	}
	first := create("n1")
	if k.rotated != 1 || first != k.keys["n1"] {
		t.Fatalf("first create: rotated %d, pinned %s, server has %s", k.rotated, first, k.keys["n1"])
	}
	// Killed after the rotation, run again: the same server, not rotated twice.
	if again := create("n1"); again != first || k.rotated != 1 {
		t.Errorf("resumed create pinned %s (first %s), rotations %d", again, first, k.rotated)
	}
	if k.specs[0].HostKey.Public != k.specs[1].HostKey.Public {
		t.Error("the resumed create handed the backend another first key")
	}
	if other := create("n2"); other == first {
		t.Error("two servers share a host key")
	}
}

// TestHetznerBackendIsSharedPerStack: every Server of a stack gets the same
// Backend (one SSH key lookup, one poller for all creates); another stack,
// token or identity gets its own.
func TestHetznerBackendIsSharedPerStack(t *testing.T) {
	make := Backends(slog.New(slog.DiscardHandler))["hetzner"]
	in := func(stack, token string) contract.ServerInputs {
		return contract.ServerInputs{Name: "n", Stack: stack, Hetzner: &contract.HetznerInputs{Token: token}}
	}
	a, err := make(in("hel1", "t1"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := make(in("hel1", "t1"))
	c, _ := make(in("fsn1", "t1"))
	d, _ := make(in("hel1", "t2"))
	if a != b || a == c || a == d {
		t.Errorf("backends: same stack %p %p, other stack %p, other token %p", a, b, c, d)
	}
}
