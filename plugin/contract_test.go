package plugin

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pplugin "github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumix"

	"github.com/meshready/meshready/contract"
)

// engine records the inputs of each resource the program registers, as
// the engine hands them to the plugin.
type engine struct {
	mu     sync.Mutex
	inputs map[string]resource.PropertyMap
}

func (e *engine) NewResource(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inputs[a.TypeToken] = a.Inputs
	return a.Name + "-id", a.Inputs, nil
}

func (e *engine) Call(a pulumi.MockCallArgs) (resource.PropertyMap, error) { return a.Args, nil }

// full are Args of every resource with every field set, the deferred ones
// as outputs (as another resource's would be).
func full(ctx *pulumi.Context) map[string]any {
	nodes := pulumix.Val([]contract.NodeRef{{Name: "cp-1", Role: "control-plane", Address: "10.0.0.1", SSHPort: 22, SSHUser: "root", HostKey: "ssh-ed25519 AAAA"}})
	node := pulumix.Val(contract.NodeRef{Name: "cp-1", Role: "control-plane", Address: "10.0.0.1", SSHPort: 22, SSHUser: "root", HostKey: "ssh-ed25519 AAAA"})
	worker := pulumix.Val(contract.NodeRef{Name: "worker-1", Role: "worker", Address: "10.0.0.2", SSHPort: 22, SSHUser: "root", HostKey: "ssh-ed25519 AAAB"})
	bundle := &contract.Bundle{Dir: "/opt/meshready/bundle/v1.34.4", Images: []contract.Image{{Ref: "r/p:1", Tarball: "/opt/p.tar"}}}
	access := contract.AccessArgs{SSHPrivateKey: pulumi.String("KEY").ToStringOutput(), IdentityFile: "/home/me/.ssh/id"}
	return map[string]any{
		contract.Server().Token: contract.ServerArgs{
			Backend: "hetzner", Stack: "s", Name: "n", Role: "worker", Region: "hel1", ServerType: "ccx13", Image: "debian-12",
			SSHPublicKey: pulumi.String("ssh-ed25519 AAAA").ToStringOutput(), Labels: map[string]string{"team": "a"}, Owner: "aaaa000011112222", Access: access,
			Static:  &contract.StaticInputs{Address: "192.0.2.1", Port: 22, User: "root", HostKey: "SHA256:x"},
			Hetzner: &contract.HetznerInputs{Token: "t", Endpoint: "http://127.0.0.1:1"},
			Local:   &contract.LocalInputs{Bridge: "br", Subnet: "10.0.0.0/24"},
		},
		contract.SSHKey().Token: contract.SSHKeyArgs{Comment: "meshready s"},
		contract.Suite().Token: contract.SuiteArgs{Stack: "s", Region: "r", Provider: "local", Nodes: nodes, Access: access,
			Dir: "/var/lib/x", DiskRuntime: "20s", StealIdle: "5s", StealLoaded: "10s", Gate: true,
			Thresholds: contract.Thresholds{FdatasyncP99: "10ms", ReadP99: "500us", StealMeanPercent: 0.5, StealMaxPercent: 2}},
		contract.Cluster().Token: contract.ClusterArgs{Stack: "s", Provider: "local", Version: "v1.34.4", ControlPlane: node, Nodes: nodes, Access: access,
			PodSubnet: "10.244.0.0/16", ServiceSubnet: "10.96.0.0/12", Etcd: "{}", ControlPlanes: 3, Schedulable: true, SnapshotsKeep: 5,
			PeerRTTP99Ms: pulumi.Float64(0.4).ToFloat64Output(), FdatasyncP99Ms: pulumi.Float64(2).ToFloat64Output(),
			Bundle: bundle, DrainTimeout: "5m"},
		contract.Member().Token: contract.MemberArgs{Stack: "s", Provider: "local", Version: "v1.34.4", Node: worker, ControlPlane: node, Access: access,
			Endpoint: pulumi.String("10.0.0.1:6443").ToStringOutput(), CACertHash: pulumi.String("sha256:ab").ToStringOutput(),
			PodSubnet: "10.244.0.0/16", ServiceSubnet: "10.96.0.0/12", Etcd: "{}", ControlPlanes: 3, Schedulable: true, SnapshotsKeep: 5,
			PeerRTTP99Ms: pulumi.Float64(0.4).ToFloat64Output(), FdatasyncP99Ms: pulumi.Float64(2).ToFloat64Output(),
			EtcdFlags:    pulumi.StringMap{"snapshot-count": pulumi.String("10000")}.ToStringMapOutput(),
			DrainTimeout: "5m0s", Bundle: bundle},
		contract.PodNetwork().Token: contract.PodNetworkArgs{Stack: "s", Nodes: nodes, Access: access,
			EtcdFlags: pulumi.StringMap{"snapshot-count": pulumi.String("10000")}.ToStringMapOutput(),
			CNI:       "flannel", PodSubnet: "10.244.0.0/16", FlanneldPath: "/cache/flanneld", FlanneldSHA256: "ab"},
		contract.Preflight().Token: contract.PreflightArgs{Nodes: nodes, Access: access, IstioVersion: "1.28.0",
			Images: []contract.Image{{Ref: "localhost/x:1", Tarball: "/opt/x.tar"}}},
		contract.Webhooks().Token:  contract.WebhooksArgs{Nodes: nodes, Access: access, Revision: "1-28-0"},
		contract.Injection().Token: contract.InjectionArgs{Nodes: nodes, Access: access, Namespace: "demo", Revision: "1-28-0"},
		contract.Checks().Token: contract.ChecksArgs{Nodes: nodes, Access: access, Namespace: "demo", Service: "echo",
			Weights: map[string]int{"v1": 90, "v2": 10}, MTLS: "STRICT", Calls: 2000, Runs: 20, TolerancePts: 3, Image: "p:1", Sidecars: true, KubernetesVersion: "v1.34.4", Revision: "1-28-0"},
		contract.Latency().Token: contract.LatencyArgs{Nodes: nodes, Access: access, Sidecars: true, NoSidecars: "why",
			Image: "fortio", PullPolicy: "Never", Proxyless: true, ProbeImage: "meshprobe", QPS: 1000, Connections: 16, PayloadBytes: 1024, Duration: "4m0s", IstioVersion: "1.28.0"},
	}
}

// register registers args of resource spec s through contract.Register's generic path.
func register(ctx *pulumi.Context, s contract.Spec, args any) error {
	props, err := contract.InputMap(args, s.Inputs, s.SecretInputs)
	if err != nil {
		return err
	}
	var r pulumi.CustomResourceState
	return ctx.RegisterResource(s.Token, "x", props, &r)
}

// TestContractRoundTrip: for every resource, what the program registers is
// what the plugin decodes: every key the inputs declare arrives, none
// arrives that they do not, secrets stay secret.
func TestContractRoundTrip(t *testing.T) {
	e := &engine{inputs: map[string]resource.PropertyMap{}}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		args := full(ctx)
		for _, s := range contract.All() {
			a, ok := args[s.Token]
			if !ok {
				t.Errorf("%s: the test has no args for it", s.Token)
				continue
			}
			if err := register(ctx, s, a); err != nil {
				return err
			}
		}
		return nil
	}, pulumi.WithMocks("meshready", "test", e))
	if err != nil {
		t.Fatal(err)
	}
	p := testProvider(nil, nil)
	for _, s := range contract.All() {
		in := e.inputs[s.Token]
		var got []string
		for k := range in {
			got = append(got, string(k))
		}
		var want []string
		for k := range contract.Keys(s.Inputs) {
			want = append(want, k)
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: the program sent %v, the inputs declare %v", s.Token, got, want)
		}
		for _, k := range s.SecretInputs {
			if !in[resource.PropertyKey(k)].ContainsSecrets() {
				t.Errorf("%s: %s is not secret", s.Token, k)
			}
		}
		r, err := p.resource(tokenOf(s))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Check(nil, in); err != nil {
			t.Errorf("%s: the plugin refuses what the program sent: %v", s.Token, err)
		}
	}
}

// TestContractPolicies: every declared input key has a policy, no policy
// names a key that does not exist, and what the program reads of a
// resource's outputs is what the plugin writes.
func TestContractPolicies(t *testing.T) {
	reads := map[string]reflect.Type{
		contract.Server().Token:     reflect.TypeFor[contract.ServerResource](),
		contract.SSHKey().Token:     reflect.TypeFor[contract.SSHKeyResource](),
		contract.Suite().Token:      reflect.TypeFor[contract.SuiteResource](),
		contract.Cluster().Token:    reflect.TypeFor[contract.ClusterResource](),
		contract.PodNetwork().Token: reflect.TypeFor[contract.PodNetworkResource](),
		contract.Checks().Token:     reflect.TypeFor[contract.ChecksResource](),
		contract.Latency().Token:    reflect.TypeFor[contract.LatencyResource](),
	}
	for _, s := range contract.All() {
		keys := contract.Keys(s.Inputs)
		seen := map[string]string{}
		for list, ks := range map[string][]string{"Replace": s.Diff.Replace, "Update": s.Diff.Update, "Ignore": s.Diff.Ignore} {
			for _, k := range ks {
				if _, ok := keys[k]; !ok {
					t.Errorf("%s: %s names %q, which is no input", s.Token, list, k)
				}
				if other, dup := seen[k]; dup {
					t.Errorf("%s: %q is in %s and %s", s.Token, k, other, list)
				}
				seen[k] = list
			}
		}
		for k := range keys {
			if _, ok := seen[k]; !ok {
				t.Errorf("%s: input %q has no diff policy", s.Token, k)
			}
		}
		outs := contract.Keys(s.Outputs)
		for _, k := range append(s.SecretInputs, s.SecretOutputs...) {
			if _, ok := outs[k]; !ok {
				t.Errorf("%s: secret %q is no output", s.Token, k)
			}
		}
		if rt, ok := reads[s.Token]; ok {
			for i := range rt.NumField() {
				tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("pulumi"), ",")
				if _, ok := outs[tag]; tag != "" && !ok {
					t.Errorf("%s: the program reads output %q, which the plugin never writes", s.Token, tag)
				}
			}
		}
	}
}

func tokenOf(s contract.Spec) tokens.Type { return tokens.Type(s.Token) }

// TestNoLocalPathChangesAnything: the same stack run from another clone,
// workspace or machine gives other paths on the machine running up (its
// identity file; an older meshready's report folder): no resource is
// replaced or updated for that.
func TestNoLocalPathChangesAnything(t *testing.T) {
	e := &engine{inputs: map[string]resource.PropertyMap{}}
	if err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		for _, s := range contract.All() {
			if err := register(ctx, s, full(ctx)[s.Token]); err != nil {
				return err
			}
		}
		return nil
	}, pulumi.WithMocks("meshready", "test", e)); err != nil {
		t.Fatal(err)
	}
	p := testProvider(nil, nil)
	for _, s := range contract.All() {
		olds := e.inputs[s.Token].Copy()
		news := olds.Copy()
		olds["reportDir"] = resource.NewProperty("/home/a/clone1/.meshready/reports/s")
		if _, ok := olds["identityFile"]; ok {
			news["identityFile"] = resource.NewProperty("/builds/ci-7/id_ed25519")
		}
		r, _ := p.resource(tokenOf(s))
		d, err := r.Diff(olds, olds, news)
		if err != nil {
			t.Fatal(err)
		}
		if d.Changes != pplugin.DiffNone {
			t.Errorf("%s: another clone's paths give %+v", s.Token, d)
		}
	}
}
