package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/mesh"
	"github.com/meshready/meshready/remote"
	"github.com/meshready/meshready/report"
)

// LatencyType is the mesh latency benchmark (METHODS.md, Istio's method):
// per variant a namespace with a fortio server and client on two fixed
// nodes, a fortio load between them, and the namespace deleted again, so a
// run leaves nothing in the cluster. The runs and the overhead they show go
// into the region report. It runs again whenever an input changes (another
// Istio, other load knobs). A run that cannot be made (pods never ready,
// fortio failing) fails the up with the reason; a run that is made but
// untrustworthy (failed calls, a rate short of the one asked) is reported,
// and its figures are NOT MEASURABLE.
const LatencyType tokens.Type = "meshready:mesh:Latency"

// LatencyInputs are a Latency's inputs.
type LatencyInputs struct {
	Nodes         []SuiteNode `json:"nodes"`
	SSHPrivateKey string      `json:"sshPrivateKey,omitempty"`
	IdentityFile  string      `json:"identityFile,omitempty"`
	// Sidecars says whether Envoy sidecars can run; without them only the
	// baseline runs, and NoSidecars says why.
	Sidecars   bool   `json:"sidecars"`
	NoSidecars string `json:"noSidecars,omitempty"`
	// Image is the fortio image, PullPolicy Never where it is pre-loaded.
	Image        string `json:"image"`
	PullPolicy   string `json:"pullPolicy"`
	QPS          int    `json:"qps"`
	Connections  int    `json:"connections"`
	PayloadBytes int    `json:"payloadBytes"`
	Duration     string `json:"duration"`
	// IstioVersion is the mesh measured (a new one is measured again).
	IstioVersion string `json:"istioVersion"`
	ReportDir    string `json:"reportDir,omitempty"`
}

// latencyRun runs one variant on the control plane cp and returns fortio's result.
func (p *Provider) latencyRun(ctx context.Context, cp bootstrap.Node, in LatencyInputs, v mesh.LatencyVariant, client, server string, o mesh.LoadOptions) (benchmarks.LoadRun, error) {
	run := func(cmd string) (string, error) {
		res, err := cp.Runner.Run(ctx, kubectl+" "+cmd)
		if err != nil {
			return "", fmt.Errorf("%s: latency %s: kubectl %s: %w", cp.Name, v.Name, firstWords(cmd, 4), err)
		}
		return string(res.Stdout), nil
	}
	file := "/run/meshready-latency-" + v.Name + ".json"
	defer func() {
		// Cleaned up also when the run failed or was cancelled.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		if _, err := cp.Runner.Run(cctx, kubectl+" delete namespace "+v.Namespace+" --ignore-not-found --wait --timeout=170s; rm -f "+file); err != nil {
			p.log.Warn("could not delete the latency namespace", "namespace", v.Namespace, "node", cp.Name, "err", err)
		}
	}()
	objs := mesh.LatencyWorkloads(v, in.Image, in.PullPolicy, client, server)
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": objs})
	if err != nil {
		return benchmarks.LoadRun{}, err
	}
	if err := cp.Runner.Upload(ctx, file, b, 0o600); err != nil {
		return benchmarks.LoadRun{}, fmt.Errorf("%s: latency %s: %w", cp.Name, v.Name, err)
	}
	if _, err := run("apply -f " + file); err != nil {
		return benchmarks.LoadRun{}, err
	}
	for _, d := range []string{"fortio-server", "fortio-client"} {
		if _, err := run(fmt.Sprintf("--namespace %s rollout status deployment/%s --timeout=300s", v.Namespace, d)); err != nil {
			return benchmarks.LoadRun{}, err
		}
	}
	// The pods are ready before every node's proxy (kube-proxy, or the
	// sidecars' xDS) routes the new Service: call until a call succeeds.
	exec := fmt.Sprintf("--namespace %s exec deploy/fortio-client -c fortio -- ", v.Namespace)
	for deadline := time.Now().Add(2 * time.Minute); ; {
		_, err := run(exec + strings.Join(mesh.WarmupCommand(v), " "))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return benchmarks.LoadRun{}, fmt.Errorf("the fortio server is not reachable from the client after 2 minutes: %w", err)
		}
		select {
		case <-ctx.Done():
			return benchmarks.LoadRun{}, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	p.log.Info("fortio load", "variant", v.Name, "client", client, "server", server, "qps", o.QPS, "connections", o.Connections, "duration", o.Duration.String())
	out, err := run(exec + strings.Join(mesh.LoadCommand(v, o), " "))
	if err != nil {
		return benchmarks.LoadRun{}, err
	}
	r, err := benchmarks.ParseFortio(v.Name, []byte(out))
	if err != nil {
		return benchmarks.LoadRun{}, fmt.Errorf("%s: latency %s: %w", cp.Name, v.Name, err)
	}
	p.log.Info("fortio result", "variant", v.Name, "p50", r.P50.String(), "p90", r.P90.String(), "p99", r.P99.String(),
		"qps", fmt.Sprintf("%.0f", r.ActualQPS), "calls", r.Calls, "ok", r.OK)
	return r, nil
}

// leftovers deletes every namespace of the benchmark (mesh.LatencyLabel).
const leftovers = "delete namespace -l " + mesh.LatencyLabel + " --ignore-not-found --wait --timeout=180s"

// deleteLatency removes what a killed run may have left in the cluster. It
// is best effort: a cluster that cannot be reached (being destroyed, its
// nodes gone) must not block the destroy, so it warns and succeeds.
func (p *Provider) deleteLatency(ctx context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	in, err := decode[LatencyInputs](req.Inputs, "mesh latency")
	if err != nil {
		return plugin.DeleteResponse{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cp, done, err := p.controlPlane(ctx, in.Nodes, remote.Auth{PrivateKey: []byte(in.SSHPrivateKey), IdentityFile: in.IdentityFile})
	if err == nil {
		defer done()
		_, err = cp.Runner.Run(ctx, kubectl+" "+leftovers)
	}
	if err != nil {
		p.log.Warn("could not check the cluster for latency namespaces left behind", "err", err)
	}
	return plugin.DeleteResponse{Status: resource.StatusOK}, nil
}

// firstWords is the start of a command, for errors (the rest may be long).
func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

func (p *Provider) latency(ctx context.Context, props resource.PropertyMap) (resource.PropertyMap, error) {
	in, err := decode[LatencyInputs](props, "mesh latency")
	if err != nil {
		return nil, err
	}
	cp, done, err := p.controlPlane(ctx, in.Nodes, remote.Auth{PrivateKey: []byte(in.SSHPrivateKey), IdentityFile: in.IdentityFile})
	if err != nil {
		return nil, fmt.Errorf("mesh latency: %w", err)
	}
	defer done()
	lat, err := p.measureLatency(ctx, cp, in)
	if err != nil {
		return nil, fmt.Errorf("mesh latency: %w", err)
	}
	p.addToReport(in.ReportDir, "mesh latency", func(r report.Report) report.Report { return report.WithMeshLatency(r, lat) })
	return withResults(props, lat)
}

// measureLatency picks the nodes and runs every variant, one after another
// (their loads must not overlap), with kubectl on the control plane cp.
func (p *Provider) measureLatency(ctx context.Context, cp bootstrap.Node, in LatencyInputs) (benchmarks.MeshLatency, error) {
	d, err := time.ParseDuration(in.Duration)
	if err != nil {
		return benchmarks.MeshLatency{}, fmt.Errorf("duration %q: %w", in.Duration, err)
	}
	o := mesh.LoadOptions{QPS: in.QPS, Connections: in.Connections, Duration: d, PayloadBytes: in.PayloadBytes}
	// What a killed run left is deleted first: a re-run starts clean.
	if _, err := cp.Runner.Run(ctx, kubectl+" "+leftovers); err != nil {
		return benchmarks.MeshLatency{}, fmt.Errorf("%s: delete the namespaces of an earlier run: %w", cp.Name, err)
	}
	res, err := cp.Runner.Run(ctx, kubectl+" get nodes -o json")
	if err != nil {
		return benchmarks.MeshLatency{}, fmt.Errorf("%s: kubectl get nodes: %w", cp.Name, err)
	}
	client, server, same, err := mesh.LatencyNodes(string(res.Stdout))
	if err != nil {
		return benchmarks.MeshLatency{}, fmt.Errorf("%s: %w", cp.Name, err)
	}
	if same {
		p.log.Warn("one schedulable node: fortio's client and server share it, so no network hop is measured", "node", client)
	}
	lat := benchmarks.MeshLatency{Client: client, Server: server, SameNode: same, NotRun: in.NoSidecars}
	if in.Sidecars {
		lat.DataPlane = "Envoy sidecars"
	}
	for _, v := range mesh.LatencyVariants(in.Sidecars) {
		r, err := p.latencyRun(ctx, cp, in, v, client, server, o)
		if err != nil {
			return benchmarks.MeshLatency{}, err
		}
		lat.Runs = append(lat.Runs, r)
	}
	return lat.Judge(), nil
}

func (p *Provider) createLatency(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	out, err := p.latency(ctx, req.Properties)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	return plugin.CreateResponse{ID: "latency", Properties: out, Status: resource.StatusOK}, nil
}

func (p *Provider) updateLatency(ctx context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	if req.Preview {
		return plugin.UpdateResponse{Properties: req.NewInputs, Status: resource.StatusOK}, nil
	}
	out, err := p.latency(ctx, req.NewInputs)
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	return plugin.UpdateResponse{Properties: out, Status: resource.StatusOK}, nil
}
