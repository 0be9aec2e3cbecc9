package provider

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/remote"
	"github.com/meshready/meshready/report"
)

// SuiteType is the benchmark run of a stack's nodes: a resource, so that up
// measures once, keeps the summary in state as an output, and measures again
// only when the nodes or the settings change.
const SuiteType tokens.Type = "meshready:benchmarks:Suite"

// SuiteInputs are a Suite's inputs.
type SuiteInputs struct {
	Stack         string      `json:"stack"`
	Region        string      `json:"region"`
	Provider      string      `json:"provider"`
	Nodes         []SuiteNode `json:"nodes"`
	SSHPrivateKey string      `json:"sshPrivateKey,omitempty"` // secret
	IdentityFile  string      `json:"identityFile,omitempty"`
	Dir           string      `json:"dir"`
	DiskRuntime   string      `json:"diskRuntime"`
	StealIdle     string      `json:"stealIdle"`
	StealLoaded   string      `json:"stealLoaded"`
	Thresholds    struct {
		FdatasyncP99     string  `json:"fdatasyncP99"`
		ReadP99          string  `json:"readP99"`
		StealMeanPercent float64 `json:"stealMeanPercent"`
		StealMaxPercent  float64 `json:"stealMaxPercent"`
	} `json:"thresholds"`
	Gate      bool   `json:"gate"`
	ReportDir string `json:"reportDir"`
}

// SuiteNode is one node to measure, pinned by its host key.
type SuiteNode struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Address string `json:"address"`
	SSHPort int    `json:"sshPort"`
	SSHUser string `json:"sshUser"`
	HostKey string `json:"hostKey"`
}

func decodeSuite(m resource.PropertyMap) (SuiteInputs, error) { return decode[SuiteInputs](m, "suite") }

func (in SuiteInputs) options() (benchmarks.Options, config.Thresholds, error) {
	var o benchmarks.Options
	var th config.Thresholds
	var errs []error
	dur := func(s string) time.Duration {
		d, err := time.ParseDuration(s)
		errs = append(errs, err)
		return d
	}
	o.Dir, o.DiskRuntime, o.StealIdle, o.StealLoaded = in.Dir, dur(in.DiskRuntime), dur(in.StealIdle), dur(in.StealLoaded)
	th.FdatasyncP99 = config.Duration(dur(in.Thresholds.FdatasyncP99))
	th.ReadP99 = config.Duration(dur(in.Thresholds.ReadP99))
	th.StealMeanPercent, th.StealMaxPercent = in.Thresholds.StealMeanPercent, in.Thresholds.StealMaxPercent
	return o, th, errors.Join(errs...)
}

// createSuite connects to every node with its pinned key, runs the suite in
// parallel, writes the report and applies the hardware gate.
func (p *Provider) createSuite(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	in, err := decodeSuite(req.Properties)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	o, th, err := in.options()
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("benchmark settings: %w", err)
	}
	o.Log = p.log
	auth := remote.Auth{PrivateKey: []byte(in.SSHPrivateKey), IdentityFile: in.IdentityFile}
	var nodes []benchmarks.Node
	defer func() {
		for _, n := range nodes {
			n.Runner.Close()
		}
	}()
	for _, n := range in.Nodes {
		t := remote.Target{Name: n.Name, Address: n.Address, Port: n.SSHPort, User: n.SSHUser, HostKey: n.HostKey}
		r, err := remote.Dial(ctx, t, auth, remote.DialOptions{Log: p.log})
		if err != nil {
			return plugin.CreateResponse{}, fmt.Errorf("benchmarks: %w", err)
		}
		nodes = append(nodes, benchmarks.Node{Name: n.Name, Address: n.Address, Role: n.Role, Runner: r})
	}
	p.log.Info("benchmarking nodes", "nodes", len(nodes), "region", in.Region)
	results, rtts, notes := benchmarks.RunAll(ctx, nodes, o)
	if err := ctx.Err(); err != nil {
		return plugin.CreateResponse{}, err
	}
	rep := report.Evaluate(in.Region, in.Provider, results, rtts, th, time.Now().UTC())
	rep.Notes = append(rep.Notes, notes...)
	if err := report.Write(in.ReportDir, rep); err != nil {
		return plugin.CreateResponse{}, err
	}
	if in.Gate {
		if err := report.Gate(rep); err != nil {
			return plugin.CreateResponse{}, fmt.Errorf("%w\nreport: %s", err, filepath.Join(in.ReportDir, report.MarkdownFile))
		}
	}
	return plugin.CreateResponse{
		ID:         resource.ID(fmt.Sprintf("%s-%d", in.Stack, rep.Generated.Unix())),
		Properties: suiteOutputs(req.Properties, rep),
		Status:     resource.StatusOK,
	}, nil
}

// suiteOutputs are the inputs plus the summary: each claim's verdict, and the
// measurements bootstrap tunes etcd from.
func suiteOutputs(inputs resource.PropertyMap, r report.Report) resource.PropertyMap {
	out := inputs.Copy()
	var claims []any
	for _, c := range r.Claims {
		claims = append(claims, map[string]any{"id": c.ID, "node": c.Node, "verdict": string(c.Verdict), "measured": c.Measured})
	}
	var rttP99, fsyncP99 time.Duration
	for _, x := range r.Network {
		rttP99 = max(rttP99, x.Latency.P99)
	}
	for _, n := range r.Nodes {
		if n.Role == "control-plane" && n.Disk.Fdatasync != nil {
			fsyncP99 = max(fsyncP99, n.Disk.Fdatasync.P99)
		}
	}
	summary := resource.NewPropertyMapFromMap(map[string]any{
		"claims":         claims,
		"reportDir":      inputs["reportDir"].StringValue(),
		"generated":      r.Generated.Format(time.RFC3339),
		"peerRttP99Ms":   float64(rttP99.Microseconds()) / 1000,
		"fdatasyncP99Ms": float64(fsyncP99.Microseconds()) / 1000,
	})
	for k, v := range summary {
		out[k] = v
	}
	return out
}

// diffSuite re-runs the suite (a replacement) when what it measures or how
// changes; a new login key alone does not.
func diffSuite(olds, news resource.PropertyMap) plugin.DiffResult {
	var keys []resource.PropertyKey
	for k, nv := range news {
		if k == "sshPrivateKey" {
			continue
		}
		if nv.ContainsUnknowns() || !olds[k].DeepEquals(nv) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return plugin.DiffResult{Changes: plugin.DiffNone}
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, ReplaceKeys: keys}
}
