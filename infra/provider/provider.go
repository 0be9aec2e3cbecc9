// Package provider is meshready's Pulumi resource provider plugin. Go has no
// dynamic providers, so the servers a stack creates are real custom resources
// served by this plugin (the meshready binary itself, started by the engine as
// pulumi-resource-meshready): Pulumi state tracks each server's whole
// lifecycle, and destroy deletes what up created.
package provider

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/meshready/meshready/infra"
)

// Resource type tokens served by the plugin.
const (
	ServerType tokens.Type = "meshready:infra:Server"
	SSHKeyType tokens.Type = "meshready:infra:SSHKey"
)

// BackendFactory makes the backend a server's inputs name.
type BackendFactory func(in ServerInputs) (infra.Backend, error)

// Provider implements plugin.Provider for meshready's resources.
type Provider struct {
	plugin.UnimplementedProvider

	version  string
	backends map[string]BackendFactory
	// connect waits until a server answers SSH with its pinned key and reads its facts.
	connect Connector
	bundle  BundleFunc
	log     *slog.Logger

	// cancel ends in-flight operations when the engine signals cancellation.
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	// ops counts in-flight operations, for Orphaned.
	ops sync.WaitGroup
	// reportMu serialises the mesh steps' rewrites of the region report
	// (checks of several canaries finish at once).
	reportMu sync.Mutex
}

// New returns the provider with the given backends (by name: local, static, hetzner).
func New(version string, backends map[string]BackendFactory, connect Connector, log *slog.Logger) *Provider {
	ctx, cancel := context.WithCancel(context.Background())
	return &Provider{version: version, backends: backends, connect: connect, log: log, ctx: ctx, cancel: cancel}
}

// WithBundle sets where local nodes get Kubernetes from.
func (p *Provider) WithBundle(f BundleFunc) *Provider {
	p.bundle = f
	return p
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
func (p *Provider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v, err := semver.ParseTolerant(p.version)
	if err != nil {
		v = semver.MustParse("0.0.1")
	}
	return plugin.PluginInfo{Version: &v}, nil
}

// CheckConfig accepts the (empty) provider configuration.
func (p *Provider) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

// DiffConfig: the provider has no configuration that could change.
func (p *Provider) DiffConfig(context.Context, plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	return plugin.DiffResult{Changes: plugin.DiffNone}, nil
}

// Configure has nothing to configure: each resource carries its backend's settings.
func (p *Provider) Configure(context.Context, plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	return plugin.ConfigureResponse{}, nil
}

// SignalCancellation ends every in-flight operation (the user pressed Ctrl-C).
func (p *Provider) SignalCancellation(context.Context) error {
	p.cancel()
	return nil
}

// Close releases nothing: servers are infrastructure and outlive the plugin.
func (p *Provider) Close() error { return nil }

// Check validates a resource's inputs before anything is planned.
func (p *Provider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	switch req.Type {
	case ServerType:
		in, err := decodeServer(req.News)
		if err != nil {
			return plugin.CheckResponse{}, err
		}
		return plugin.CheckResponse{Properties: req.News, Failures: in.check(p.backends)}, nil
	case SSHKeyType, SuiteType, ClusterType, PreflightType, InjectionType, ChecksType, LatencyType:
		return plugin.CheckResponse{Properties: req.News}, nil
	}
	return plugin.CheckResponse{}, fmt.Errorf("unknown resource type %s", req.Type)
}

// Diff decides between no change, an in-place update and a replacement.
func (p *Provider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	switch req.Type {
	case ServerType:
		return diffServer(req.OldInputs, req.NewInputs)
	case SSHKeyType:
		return diffSSHKey(req.OldInputs, req.NewInputs), nil
	case SuiteType:
		return diffSuite(req.OldInputs, req.NewInputs), nil
	case ClusterType:
		return diffCluster(req.OldInputs, req.NewInputs), nil
	case PreflightType, ChecksType, LatencyType:
		return diffPreflight(req.OldInputs, req.NewInputs), nil
	case InjectionType:
		return diffInjection(req.OldInputs, req.NewInputs), nil
	}
	return plugin.DiffResult{}, fmt.Errorf("unknown resource type %s", req.Type)
}

// Create makes the resource.
func (p *Provider) Create(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	if req.Preview {
		// The engine asks during preview too (the provider server announces
		// preview support): answer with the inputs alone, so every output the
		// real Create would compute reads as unknown, and touch nothing.
		return plugin.CreateResponse{Properties: req.Properties, Status: resource.StatusOK}, nil
	}
	ctx, done := p.opCtx(ctx)
	defer done()
	switch req.Type {
	case ServerType:
		return p.createServer(ctx, req)
	case SSHKeyType:
		return createSSHKey(req)
	case SuiteType:
		return p.createSuite(ctx, req)
	case ClusterType:
		return p.createCluster(ctx, req)
	case PreflightType:
		return p.createPreflight(ctx, req)
	case InjectionType:
		return p.createInjection(ctx, req)
	case ChecksType:
		return p.createChecks(ctx, req)
	case LatencyType:
		return p.createLatency(ctx, req)
	}
	return plugin.CreateResponse{}, fmt.Errorf("unknown resource type %s", req.Type)
}

// Read refreshes the resource from the real world; an empty ID means it is gone.
func (p *Provider) Read(ctx context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	ctx, done := p.opCtx(ctx)
	defer done()
	switch req.Type {
	case ServerType:
		return p.readServer(ctx, req)
	case SSHKeyType, SuiteType, ClusterType, PreflightType, InjectionType, ChecksType, LatencyType:
		return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State}, Status: resource.StatusOK}, nil
	}
	return plugin.ReadResponse{}, fmt.Errorf("unknown resource type %s", req.Type)
}

// Update applies changes Diff found updatable in place.
func (p *Provider) Update(ctx context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	switch req.Type {
	case ServerType:
		return updateServer(req)
	case PreflightType:
		ctx, done := p.opCtx(ctx)
		defer done()
		return p.updatePreflight(ctx, req)
	case ChecksType:
		ctx, done := p.opCtx(ctx)
		defer done()
		return p.updateChecks(ctx, req)
	case LatencyType:
		ctx, done := p.opCtx(ctx)
		defer done()
		return p.updateLatency(ctx, req)
	case SSHKeyType, SuiteType, ClusterType, InjectionType:
		return plugin.UpdateResponse{Properties: req.OldOutputs, Status: resource.StatusOK}, nil
	}
	return plugin.UpdateResponse{}, fmt.Errorf("unknown resource type %s", req.Type)
}

// Delete removes the resource; deleting what is already gone succeeds.
func (p *Provider) Delete(ctx context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	ctx, done := p.opCtx(ctx)
	defer done()
	switch req.Type {
	case ServerType:
		return p.deleteServer(ctx, req)
	case ClusterType:
		return p.deleteCluster(ctx, req)
	case LatencyType:
		return p.deleteLatency(ctx, req)
	case SSHKeyType, SuiteType, PreflightType, InjectionType, ChecksType:
		// Key pairs, preflights, injections, checks and benchmark runs live only in state (reports stay on disk).
		return plugin.DeleteResponse{Status: resource.StatusOK}, nil
	}
	return plugin.DeleteResponse{}, fmt.Errorf("unknown resource type %s", req.Type)
}
