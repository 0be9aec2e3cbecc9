package infra

import (
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/config"
)

// recorder is a Pulumi mock that keeps every registered resource's inputs.
type recorder struct {
	mu   sync.Mutex
	regs []pulumi.MockResourceArgs
}

func (r *recorder) NewResource(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r.mu.Lock()
	r.regs = append(r.regs, a)
	r.mu.Unlock()
	out := a.Inputs.Copy()
	if a.TypeToken == "meshready:infra:SSHKey" {
		out["publicKey"] = resource.NewProperty("ssh-ed25519 AAAAtest")
		out["privateKey"] = resource.MakeSecret(resource.NewProperty("PRIVATE"))
	}
	return a.Name + "-id", out, nil
}

func (r *recorder) Call(a pulumi.MockCallArgs) (resource.PropertyMap, error) { return a.Args, nil }

func (r *recorder) of(typ string) []pulumi.MockResourceArgs {
	var out []pulumi.MockResourceArgs
	for _, a := range r.regs {
		if a.TypeToken == typ {
			out = append(out, a)
		}
	}
	return out
}

func pool(t *testing.T, cfg config.Config) *recorder {
	t.Helper()
	rec := &recorder{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := NewNodePool(ctx, "nodes", &NodePoolArgs{Stack: "s1", Config: &cfg})
		return err
	}, pulumi.WithMocks("meshready", "s1", rec))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestPlanNamesControlPlanesFirst(t *testing.T) {
	cfg := config.Defaults()
	cfg.Nodes.ControlPlanes, cfg.Nodes.Workers = 3, 1
	var got []string
	for _, n := range Plan("hel1", &cfg) {
		got = append(got, n.Name+"/"+n.Role)
	}
	want := "hel1-cp-1/control-plane hel1-cp-2/control-plane hel1-cp-3/control-plane hel1-worker-1/worker"
	if strings.Join(got, " ") != want {
		t.Errorf("plan = %v, want %s", got, want)
	}
}

func TestLocalPoolHasAKeyAndOneServerPerNode(t *testing.T) {
	cfg := config.Defaults()
	cfg.Region = "local"
	rec := pool(t, cfg)
	if n := len(rec.of("meshready:infra:SSHKey")); n != 1 {
		t.Fatalf("ssh keys = %d, want 1", n)
	}
	servers := rec.of("meshready:infra:Server")
	if len(servers) != 3 {
		t.Fatalf("servers = %d, want 3", len(servers))
	}
	for _, s := range servers {
		in := s.Inputs
		if in["backend"].StringValue() != "local" || in["stack"].StringValue() != "s1" || !in["local"].IsObject() {
			t.Errorf("%s inputs = %v", s.Name, in)
		}
		if !in["sshPrivateKey"].IsSecret() {
			t.Errorf("%s: the private key input is not a secret", s.Name)
		}
		if !strings.HasSuffix(s.RegisterRPC.GetParent(), "meshready:infra:NodePool::nodes") {
			t.Errorf("%s parent = %s", s.Name, s.RegisterRPC.GetParent())
		}
	}
	// Registration is concurrent, so check names and roles, not order.
	roles := map[string]string{}
	for _, s := range servers {
		roles[s.Inputs["name"].StringValue()] = s.Inputs["role"].StringValue()
	}
	want := map[string]string{"s1-cp-1": "control-plane", "s1-worker-1": "worker", "s1-worker-2": "worker"}
	for n, r := range want {
		if roles[n] != r {
			t.Errorf("%s role = %q, want %q (all: %v)", n, roles[n], r, roles)
		}
	}
}

func TestStaticPoolPinsConfiguredHostKeys(t *testing.T) {
	cfg := config.Defaults()
	cfg.Provider, cfg.Region = config.ProviderStatic, "oslo"
	cfg.Nodes.Workers = 0
	cfg.Nodes.Static = []config.StaticHost{{Address: "192.0.2.10", Port: 2222, User: "admin", HostKey: "SHA256:abc"}}
	cfg.SSH.IdentityFile = "/keys/id"
	rec := pool(t, cfg)
	if n := len(rec.of("meshready:infra:SSHKey")); n != 0 {
		t.Errorf("a static stack made %d ssh keys", n)
	}
	s := rec.of("meshready:infra:Server")[0].Inputs
	st := s["static"].ObjectValue()
	if st["hostKey"].StringValue() != "SHA256:abc" || st["port"].NumberValue() != 2222 || s["identityFile"].StringValue() != "/keys/id" {
		t.Errorf("static inputs = %v", s)
	}
}

func TestHetznerTokenIsASecretInput(t *testing.T) {
	cfg := config.Defaults()
	cfg.Provider, cfg.Region = config.ProviderHetzner, "hel1"
	cfg.Nodes.ServerType, cfg.Nodes.Image = "ccx13", "debian-12"
	cfg.Hetzner.Token = "tok"
	rec := pool(t, cfg)
	for _, s := range rec.of("meshready:infra:Server") {
		h := s.Inputs["hetzner"]
		if !h.IsSecret() && !(h.IsObject() && h.ObjectValue()["token"].IsSecret()) {
			t.Errorf("%s: hetzner token input is not secret: %v", s.Name, h)
		}
	}
}
