// Package plugin is meshready's Pulumi resource provider plugin. Go has no
// dynamic providers, so what a stack creates (servers, benchmark runs, the
// cluster, the mesh steps) are real custom resources served by this plugin:
// the meshready binary itself, started by the engine as
// pulumi-resource-meshready. The resources are declared in contract/; each
// has a short file here that decodes its inputs, calls its domain package
// and encodes what it returned. Pulumi state tracks each one's lifecycle,
// and destroy deletes what up created.
package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pplugin "github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/bootstrap/etcdclient"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/remote"
)

// Provider implements Pulumi's plugin.Provider for meshready's resources.
type Provider struct {
	pplugin.UnimplementedProvider

	version   string
	resources map[tokens.Type]Resource
	log       *slog.Logger

	// cancel ends in-flight operations when the engine signals cancellation.
	ctx    context.Context
	cancel context.CancelFunc
	// ops counts in-flight operations, for Orphaned.
	ops sync.WaitGroup
}

// Deps are the outside systems the resources reach, each behind its seam.
type Deps struct {
	// Backends make the VPS backend a server's inputs name.
	Backends map[string]BackendFactory
	// Connect waits until a server answers SSH with its pinned key and reads its facts.
	Connect Connector
	// Dial opens an SSH session to a node (remote.Dial in the real plugin).
	Dial Dialer
	// Etcd reaches a cluster's etcd through its first control plane
	// (etcdclient.Dial when nil).
	Etcd func(ctx context.Context, cp remote.Node) (bootstrap.Etcd, error)
	Log  *slog.Logger
}

// New returns the provider serving every resource of the contract.
func New(version string, d Deps) *Provider {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Provider{version: version, log: d.Log, ctx: ctx, cancel: cancel, resources: map[tokens.Type]Resource{}}
	nodes := nodeDialer{dial: d.Dial, log: d.Log}
	add := func(token string, r Resource) { p.resources[tokens.Type(token)] = r }
	add(contract.Server().Token, typed[contract.ServerInputs, contract.ServerOutputs]{contract.Server(), servers{backends: d.Backends, connect: d.Connect, log: d.Log}})
	add(contract.SSHKey().Token, typed[contract.SSHKeyInputs, contract.SSHKeyOutputs]{contract.SSHKey(), sshKeys{}})
	add(contract.Suite().Token, typed[contract.SuiteInputs, contract.SuiteOutputs]{contract.Suite(), suites{nodes: nodes, log: d.Log}})
	if d.Etcd == nil {
		d.Etcd = etcdclient.Dial
	}
	add(contract.Cluster().Token, typed[contract.ClusterInputs, contract.ClusterOutputs]{contract.Cluster(), clusters{nodes: nodes, etcd: d.Etcd, log: d.Log}})
	add(contract.Member().Token, typed[contract.MemberInputs, contract.MemberOutputs]{contract.Member(), members{nodes: nodes, etcd: d.Etcd, log: d.Log}})
	add(contract.PodNetwork().Token, typed[contract.PodNetworkInputs, contract.PodNetworkOutputs]{contract.PodNetwork(), podNetworks{nodes: nodes, log: d.Log}})
	add(contract.Preflight().Token, typed[contract.PreflightInputs, contract.PreflightOutputs]{contract.Preflight(), preflights{nodes: nodes, log: d.Log}})
	add(contract.Webhooks().Token, typed[contract.WebhooksInputs, contract.WebhooksOutputs]{contract.Webhooks(), webhooks{nodes: nodes, log: d.Log}})
	add(contract.Injection().Token, typed[contract.InjectionInputs, contract.InjectionOutputs]{contract.Injection(), injections{nodes: nodes, log: d.Log}})
	add(contract.Checks().Token, typed[contract.ChecksInputs, contract.ChecksOutputs]{contract.Checks(), checks{nodes: nodes, log: d.Log}})
	add(contract.Latency().Token, typed[contract.LatencyInputs, contract.LatencyOutputs]{contract.Latency(), latencies{nodes: nodes, log: d.Log}})
	return p
}

func (p *Provider) resource(t tokens.Type) (Resource, error) {
	r, ok := p.resources[t]
	if !ok {
		return nil, fmt.Errorf("unknown resource type %s", t)
	}
	return r, nil
}

// opCtx is ctx, also ended by SignalCancellation.
func (p *Provider) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	p.ops.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.ctx, cancel)
	return ctx, func() { stop(); cancel(); p.ops.Done() }
}

// Orphaned is for a plugin whose engine died without ending it (killed with
// SIGKILL, as a cancelled CI job is): nobody will read its answers, but its
// operations still run steps on nodes. It cancels them (which stops their
// remote commands) and waits at most grace for them to return.
func (p *Provider) Orphaned(grace time.Duration) {
	p.cancel()
	done := make(chan struct{})
	go func() { p.ops.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
	}
}

// GetPluginInfo reports the plugin's version.
func (p *Provider) GetPluginInfo(context.Context) (pplugin.PluginInfo, error) {
	v, err := semver.ParseTolerant(p.version)
	if err != nil {
		v = semver.MustParse("0.0.1")
	}
	return pplugin.PluginInfo{Version: &v}, nil
}

// CheckConfig accepts the provider configuration: each resource carries its own settings.
func (p *Provider) CheckConfig(_ context.Context, req pplugin.CheckConfigRequest) (pplugin.CheckConfigResponse, error) {
	return pplugin.CheckConfigResponse{Properties: req.News}, nil
}

// DiffConfig: the provider has no configuration that could change.
func (p *Provider) DiffConfig(context.Context, pplugin.DiffConfigRequest) (pplugin.DiffConfigResponse, error) {
	return pplugin.DiffResult{Changes: pplugin.DiffNone}, nil
}

// Configure has nothing to configure.
func (p *Provider) Configure(context.Context, pplugin.ConfigureRequest) (pplugin.ConfigureResponse, error) {
	return pplugin.ConfigureResponse{}, nil
}

// SignalCancellation ends every in-flight operation (the user pressed Ctrl-C).
func (p *Provider) SignalCancellation(context.Context) error {
	p.cancel()
	return nil
}

// Close releases nothing: servers are infrastructure and outlive the plugin.
func (p *Provider) Close() error { return nil }

// Check validates a resource's inputs before anything is planned.
func (p *Provider) Check(_ context.Context, req pplugin.CheckRequest) (pplugin.CheckResponse, error) {
	r, err := p.resource(req.Type)
	if err != nil {
		return pplugin.CheckResponse{}, err
	}
	news, f, err := r.Check(req.Olds, req.News)
	return pplugin.CheckResponse{Properties: news, Failures: f}, err
}

// Diff decides between no change, an in-place update and a replacement,
// by the resource's policy in the contract.
func (p *Provider) Diff(_ context.Context, req pplugin.DiffRequest) (pplugin.DiffResponse, error) {
	r, err := p.resource(req.Type)
	if err != nil {
		return pplugin.DiffResult{}, err
	}
	return r.Diff(req.OldInputs, req.OldOutputs, req.NewInputs)
}

// Create makes the resource.
func (p *Provider) Create(ctx context.Context, req pplugin.CreateRequest) (pplugin.CreateResponse, error) {
	r, err := p.resource(req.Type)
	if err != nil {
		return pplugin.CreateResponse{}, err
	}
	if req.Preview {
		// The engine asks during preview too (the provider server announces
		// preview support): answer with the inputs alone, so every output the
		// real Create would compute reads as unknown, and touch nothing.
		return pplugin.CreateResponse{Properties: req.Properties, Status: resource.StatusOK}, nil
	}
	ctx, done := p.opCtx(ctx)
	ctx = withURN(ctx, req.URN)
	defer done()
	id, out, err := r.Create(ctx, req.Properties)
	if err != nil {
		return pplugin.CreateResponse{}, err
	}
	return pplugin.CreateResponse{ID: id, Properties: out, Status: resource.StatusOK}, nil
}

// Read refreshes the resource from the real world; an empty ID means it is gone.
func (p *Provider) Read(ctx context.Context, req pplugin.ReadRequest) (pplugin.ReadResponse, error) {
	r, err := p.resource(req.Type)
	if err != nil {
		return pplugin.ReadResponse{}, err
	}
	ctx, done := p.opCtx(ctx)
	ctx = withURN(ctx, req.URN)
	defer done()
	id, out, err := r.Read(ctx, req.ID, req.Inputs, req.State)
	if err != nil {
		return pplugin.ReadResponse{}, err
	}
	if id == "" {
		return pplugin.ReadResponse{Status: resource.StatusOK}, nil
	}
	return pplugin.ReadResponse{ReadResult: pplugin.ReadResult{ID: id, Inputs: req.Inputs, Outputs: out}, Status: resource.StatusOK}, nil
}

// Update applies changes Diff found updatable in place.
func (p *Provider) Update(ctx context.Context, req pplugin.UpdateRequest) (pplugin.UpdateResponse, error) {
	r, err := p.resource(req.Type)
	if err != nil {
		return pplugin.UpdateResponse{}, err
	}
	if req.Preview {
		return pplugin.UpdateResponse{Properties: overlay(req.OldOutputs, req.NewInputs), Status: resource.StatusOK}, nil
	}
	ctx, done := p.opCtx(ctx)
	ctx = withURN(ctx, req.URN)
	defer done()
	out, err := r.Update(ctx, req.ID, req.OldOutputs, req.NewInputs)
	if err != nil {
		return pplugin.UpdateResponse{}, err
	}
	return pplugin.UpdateResponse{Properties: out, Status: resource.StatusOK}, nil
}

// Delete removes the resource; deleting what is already gone succeeds.
func (p *Provider) Delete(ctx context.Context, req pplugin.DeleteRequest) (pplugin.DeleteResponse, error) {
	r, err := p.resource(req.Type)
	if err != nil {
		return pplugin.DeleteResponse{}, err
	}
	ctx, done := p.opCtx(ctx)
	ctx = withURN(ctx, req.URN)
	defer done()
	if err := r.Delete(ctx, req.ID, req.Inputs, req.Outputs); err != nil {
		return pplugin.DeleteResponse{}, err
	}
	return pplugin.DeleteResponse{Status: resource.StatusOK}, nil
}
