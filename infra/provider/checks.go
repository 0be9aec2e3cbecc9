package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/mesh"
	"github.com/meshready/meshready/mesh/probe"
	"github.com/meshready/meshready/remote"
	"github.com/meshready/meshready/report"
)

// ChecksType is the mesh checks of one canary (METHODS.md, mesh
// convergence; the split and STRICT checks), through proxyless gRPC
// or, with Sidecars, through Envoy sidecars: run with kubectl
// on a control plane against meshready's probe workloads, written into the
// region report. They run again whenever an input changes (new weights, a
// new mTLS mode, a new probe image). A check that finds the mesh wrong is a
// FAIL row in the report and a warning, not a failed up; a check that
// cannot run (pods never ready) fails the up with the reason.
const ChecksType tokens.Type = "meshready:mesh:Checks"

// ChecksInputs are a Checks' inputs.
type ChecksInputs struct {
	Nodes         []SuiteNode    `json:"nodes"`
	SSHPrivateKey string         `json:"sshPrivateKey,omitempty"`
	IdentityFile  string         `json:"identityFile,omitempty"`
	Namespace     string         `json:"namespace"`
	Service       string         `json:"service"`
	Weights       map[string]int `json:"weights"`
	// MTLS is the PeerAuthentication mode in force in Namespace.
	MTLS string `json:"mtls"`
	// Calls is how many calls the split check makes; Runs how many
	// convergence runs; TolerancePts the split's allowed deviation.
	Calls        int     `json:"calls"`
	Runs         int     `json:"runs"`
	TolerancePts float64 `json:"tolerancePts"`
	// Image is the probe image (a new one means new pods: check again).
	Image string `json:"image"`
	// Sidecars: the probe runs behind Envoy sidecars, not proxyless.
	Sidecars  bool   `json:"sidecars,omitempty"`
	ReportDir string `json:"reportDir,omitempty"`
}

// checker runs kubectl on a control plane.
type checker struct {
	cp  bootstrap.Node
	in  ChecksInputs
	log func(msg string, args ...any)
}

func (c checker) kubectl(ctx context.Context, args string) (string, error) {
	res, err := c.cp.Runner.Run(ctx, kubectl+" "+args)
	if err != nil {
		return "", fmt.Errorf("%s: kubectl %s: %w", c.cp.Name, args, err)
	}
	return string(res.Stdout), nil
}

// client asks a probe client pod's HTTP API through the API server's pod proxy.
func (c checker) client(ctx context.Context, pod, path string, v any) error {
	out, err := c.kubectl(ctx, fmt.Sprintf("get --raw '/api/v1/namespaces/%s/pods/%s:%d/proxy%s'", c.in.Namespace, pod, mesh.ProbeHTTPPort, path))
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("%s: probe client %s%s: %w", c.cp.Name, pod, path, err)
	}
	return nil
}

// route points the convergence Service at subset to (server-side apply).
func (c checker) route(ctx context.Context, to string) error {
	b, err := json.Marshal(mesh.ConvergenceRoute(c.in.Service, c.in.Namespace, to))
	if err != nil {
		return err
	}
	file := "/run/meshready-checks-" + c.in.Namespace + "-" + c.in.Service + ".json"
	if err := c.cp.Runner.Upload(ctx, file, b, 0o600); err != nil {
		return fmt.Errorf("%s: %w", c.cp.Name, err)
	}
	_, err = c.kubectl(ctx, "apply --server-side --field-manager meshready-checks -f "+file)
	return err
}

// samples reads every client's samples since t.
func (c checker) samples(ctx context.Context, pods []string, since time.Time) (map[string][]probe.Sample, error) {
	out := map[string][]probe.Sample{}
	for _, p := range pods {
		var s []probe.Sample
		if err := c.client(ctx, p, "/samples?since="+fmt.Sprint(since.UnixNano()), &s); err != nil {
			return nil, err
		}
		out[p] = s
	}
	return out, nil
}

// settle waits until every client gets only subset to over a whole second
// after since, and returns when the last of them did (ok false at the limit).
func (c checker) settle(ctx context.Context, pods []string, since time.Time, to string, limit time.Duration) (first, last time.Time, ok bool, err error) {
	deadline := time.Now().Add(limit)
	for {
		all, err := c.samples(ctx, pods, since)
		if err != nil {
			return first, last, false, err
		}
		first, last, ok = time.Time{}, time.Time{}, true
		for _, p := range pods {
			f, conv, done := probe.Converged(all[p], since, to, time.Second)
			if !f.IsZero() && (first.IsZero() || f.Before(first)) {
				first = f
			}
			if !done {
				ok = false
				break
			}
			if conv.After(last) {
				last = conv
			}
		}
		if ok || time.Now().After(deadline) {
			return first, last, ok, nil
		}
		select {
		case <-ctx.Done():
			return first, last, false, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// istiodConvergence reads istiod's pilot_proxy_convergence_time through
// the API server's service proxy (istiod's monitoring port).
func (c checker) istiodConvergence(ctx context.Context) (mesh.Histogram, error) {
	out, err := c.kubectl(ctx, "get --raw /api/v1/namespaces/istio-system/services/istiod:15014/proxy/metrics")
	if err != nil {
		return mesh.Histogram{}, err
	}
	return mesh.ParseHistogram(out, mesh.ConvergenceMetric)
}

// bound says where quantile q of h lies, as a histogram can: "≤ 0.1 s".
func bound(h mesh.Histogram, q float64) string {
	b, ok := h.UpperBound(q)
	switch {
	case !ok:
		return ""
	case math.IsInf(b, 1):
		if len(h.Bounds) > 1 {
			return fmt.Sprintf("> %g s", h.Bounds[len(h.Bounds)-2])
		}
		return "unbounded"
	}
	return fmt.Sprintf("≤ %g s", b)
}

// run does the checks and returns what they found.
func (c checker) run(ctx context.Context) (report.MeshResult, error) {
	in := c.in
	res := report.MeshResult{DataPlane: "proxyless gRPC: pilot-agent, no Envoy"}
	if in.Sidecars {
		res.DataPlane = "Envoy sidecars"
	}
	subsets := make([]string, 0, len(in.Weights))
	for s := range in.Weights {
		subsets = append(subsets, s)
	}
	sort.Strings(subsets)
	client := mesh.ProbeClient(in.Service)
	c.log("waiting for the probe workloads", "namespace", in.Namespace, "service", in.Service)
	for _, s := range subsets {
		if _, err := c.kubectl(ctx, fmt.Sprintf("--namespace %s rollout status deployment/%s-%s --timeout=300s", in.Namespace, in.Service, s)); err != nil {
			return res, err
		}
	}
	if _, err := c.kubectl(ctx, fmt.Sprintf("--namespace %s rollout status daemonset/%s --timeout=300s", in.Namespace, client)); err != nil {
		return res, err
	}
	if _, err := c.kubectl(ctx, fmt.Sprintf("--namespace %s rollout status deployment/%s --timeout=300s", in.Namespace, mesh.ProbeCounter(in.Service))); err != nil {
		return res, err
	}
	running := func(app string) ([]string, error) {
		out, err := c.kubectl(ctx, fmt.Sprintf("--namespace %s get pods -l app=%s -o json", in.Namespace, app))
		if err != nil {
			return nil, err
		}
		pods, err := mesh.ReadyPods(out)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.cp.Name, err)
		}
		if len(pods) == 0 {
			return nil, fmt.Errorf("%s: no ready %s pod in %s", c.cp.Name, app, in.Namespace)
		}
		return pods, nil
	}
	pods, err := running(client)
	if err != nil {
		return res, err
	}
	counters, err := running(mesh.ProbeCounter(in.Service))
	if err != nil {
		return res, err
	}
	// The plaintext client must have no proxy: proxyless pods do not
	// encrypt plain dials, but a sidecar would upgrade them to mTLS.
	plainPod := counters[0]
	if in.Sidecars {
		if _, err := c.kubectl(ctx, fmt.Sprintf("--namespace %s rollout status deployment/%s --timeout=300s", in.Namespace, mesh.ProbePlain(in.Service))); err != nil {
			return res, err
		}
		plain, err := running(mesh.ProbePlain(in.Service))
		if err != nil {
			return res, err
		}
		plainPod = plain[0]
	}

	// 1. The split: warm up until calls succeed (the client's xDS routes
	// arrive after the pod is ready), then count.
	var split probe.Split
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if err := c.client(ctx, counters[0], "/count?n=100", &split); err != nil {
			return res, err
		}
		if split.Errors == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if err := c.client(ctx, counters[0], fmt.Sprintf("/count?n=%d", in.Calls), &split); err != nil {
		return res, err
	}
	res.Split = &report.SplitResult{Service: in.Namespace + "/" + in.Service, Weights: in.Weights, Observed: split.Versions,
		Calls: split.Calls, Errors: split.Errors, FirstError: split.FirstError,
		DeviationPts: probe.Deviation(split, in.Weights), TolerancePts: in.TolerancePts}
	c.log("canary split", "observed", split.Versions, "calls", split.Calls, "errors", split.Errors, "deviation_pts", res.Split.DeviationPts)

	// 2. A plaintext client (no xDS, no TLS) against the same service.
	var plain probe.Split
	addr := fmt.Sprintf("%s.%s.svc.cluster.local:%d", in.Service, in.Namespace, mesh.ProbePort)
	if err := c.client(ctx, plainPod, "/plaintext?n=5&addr="+url.QueryEscape(addr), &plain); err != nil {
		return res, err
	}
	res.Plaintext = &report.PlaintextResult{Service: in.Namespace + "/" + in.Service, Mode: in.MTLS,
		Calls: plain.Calls, Answered: plain.Calls - plain.Errors, Error: plain.FirstError}
	c.log("plaintext calls", "mode", in.MTLS, "answered", res.Plaintext.Answered, "of", plain.Calls)

	// 3. Convergence: all traffic to the first subset, then at T0 to the
	// last; T_conv is when every client last began a whole second of answers
	// from it (samples carry the clients' clocks; local nodes share the
	// host's, real ones need NTP). Each run is bounded by the FAIL band x2.
	from, to := subsets[0], subsets[len(subsets)-1]
	limit := 30 * time.Second
	pushesBefore, metricsErr := c.istiodConvergence(ctx)
	var convs []time.Duration
	for i := 0; i < in.Runs; i++ {
		start := time.Now()
		if err := c.route(ctx, from); err != nil {
			return res, err
		}
		if _, _, ok, err := c.settle(ctx, pods, start, from, limit); err != nil {
			return res, err
		} else if !ok {
			return res, fmt.Errorf("%s: convergence run %d: clients did not settle on %s within %s", c.cp.Name, i+1, from, limit)
		}
		t0 := time.Now()
		if err := c.route(ctx, to); err != nil {
			return res, err
		}
		_, last, ok, err := c.settle(ctx, pods, t0, to, limit)
		if err != nil {
			return res, err
		}
		res.ConvergenceRuns++
		if !ok {
			res.Unconverged++
			convs = append(convs, limit)
			continue
		}
		convs = append(convs, last.Sub(t0))
	}
	if _, err := c.kubectl(ctx, fmt.Sprintf("--namespace %s delete virtualservice %s --ignore-not-found", in.Namespace, mesh.ConvergenceService(in.Service))); err != nil {
		return res, err
	}
	res.Istiod = &report.IstiodConvergence{}
	pushes, err := c.istiodConvergence(ctx)
	if metricsErr == nil {
		metricsErr = err
	}
	if metricsErr == nil {
		pushes, metricsErr = pushes.Since(pushesBefore)
	}
	if metricsErr != nil {
		res.Istiod.Error = metricsErr.Error()
		c.log("istiod's convergence metric not read", "err", metricsErr)
	} else {
		res.Istiod.Pushes = pushes.Count
		res.Istiod.P50, res.Istiod.P99 = bound(pushes, 0.5), bound(pushes, 0.99)
		c.log("istiod convergence metric", "pushes", pushes.Count, "p50", res.Istiod.P50, "p99", res.Istiod.P99)
	}
	if len(convs) > 0 {
		p99, _ := probe.Percentile(convs, 99)
		p50, _ := probe.Percentile(convs, 50)
		res.ConvergenceP99, res.ConvergenceP50 = &p99, &p50
		c.log("convergence", "runs", len(convs), "p50", p50.Round(time.Millisecond).String(), "p99", p99.Round(time.Millisecond).String())
	}
	res.Unavailable = "per-hop latency and the mTLS cost come from the fortio latency benchmark (benchmarks.meshLatency), which has not reported"
	if !in.Sidecars {
		res.Unavailable = "no Envoy binary exists offline: proxyless gRPC has no proxy hop, so per-hop latency and the mTLS cost of a proxy are not measurable here"
	}
	return res, nil
}

func (p *Provider) checks(ctx context.Context, props resource.PropertyMap) (resource.PropertyMap, error) {
	in, err := decode[ChecksInputs](props, "mesh checks")
	if err != nil {
		return nil, err
	}
	cp, done, err := p.controlPlane(ctx, in.Nodes, remote.Auth{PrivateKey: []byte(in.SSHPrivateKey), IdentityFile: in.IdentityFile})
	if err != nil {
		return nil, fmt.Errorf("mesh checks: %w", err)
	}
	defer done()
	c := checker{cp: cp, in: in, log: func(msg string, args ...any) { p.log.Info(msg, args...) }}
	res, err := c.run(ctx)
	if err != nil {
		return nil, fmt.Errorf("mesh checks of %s/%s: %w", in.Namespace, in.Service, err)
	}
	if sp := res.Split; sp.DeviationPts > sp.TolerancePts {
		p.log.Warn("the canary split is off its weights", "service", sp.Service, "observed", sp.Observed, "weights", sp.Weights, "errors", sp.Errors)
	}
	if pt := res.Plaintext; pt.Mode == "STRICT" && pt.Answered > 0 {
		p.log.Warn("STRICT mTLS answered plaintext calls", "service", pt.Service, "answered", pt.Answered)
	}
	p.addToReport(in.ReportDir, "mesh checks", func(r report.Report) report.Report { return report.WithMeshResult(r, res) })
	return withResults(props, res)
}

// addToReport rewrites the region report in dir with what a mesh step
// found; a report that cannot be read or written is a warning (benchmarks
// off: there is none), as the step's results are outputs all the same.
func (p *Provider) addToReport(dir, what string, add func(report.Report) report.Report) {
	if dir == "" {
		return
	}
	p.reportMu.Lock()
	defer p.reportMu.Unlock()
	rep, err := report.Read(dir)
	if err != nil {
		p.log.Warn("no region report to add the "+what+" to (benchmarks off?)", "dir", dir, "err", err)
		return
	}
	if err := report.Write(dir, add(rep)); err != nil {
		p.log.Warn("could not add the "+what+" to the report", "dir", dir, "err", err)
	}
}

// withResults is props with v (a result struct, as its JSON) under "results".
func withResults(props resource.PropertyMap, v any) (resource.PropertyMap, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	out := props.Copy()
	out["results"] = resource.NewPropertyValue(m)
	return out, nil
}

func (p *Provider) createChecks(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	out, err := p.checks(ctx, req.Properties)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	in, _ := decode[ChecksInputs](req.Properties, "mesh checks")
	return plugin.CreateResponse{ID: resource.ID(in.Namespace + "-" + in.Service), Properties: out, Status: resource.StatusOK}, nil
}

func (p *Provider) updateChecks(ctx context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	if req.Preview {
		return plugin.UpdateResponse{Properties: req.NewInputs, Status: resource.StatusOK}, nil
	}
	out, err := p.checks(ctx, req.NewInputs)
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	return plugin.UpdateResponse{Properties: out, Status: resource.StatusOK}, nil
}
