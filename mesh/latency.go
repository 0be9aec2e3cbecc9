package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/kube"
	"github.com/meshready/meshready/mesh/probe"
)

// LatencySpec is how the mesh latency benchmark runs.
type LatencySpec struct {
	// Sidecars says whether Envoy sidecars can run; without them only the
	// baseline runs, and NoSidecars says why.
	Sidecars   bool
	NoSidecars string
	// Image is the fortio image, PullPolicy Never where it is pre-loaded.
	Image, PullPolicy string
	// Proxyless adds the proxyless gRPC variants (mTLS on and off, no
	// Envoy), run with the meshprobe image ProbeImage.
	Proxyless                   bool
	ProbeImage, ProbePullPolicy string
	Load                        LoadOptions
}

// Latency is the mesh latency benchmark (METHODS.md, Istio's method): per
// variant a namespace with a fortio server and client on two fixed nodes,
// a fortio load between them, and the namespace deleted again, so a run
// leaves nothing in the cluster. A run that cannot be made (pods never
// ready, fortio failing) is an error; a run that is made but untrustworthy
// (failed calls, a rate short of the one asked) is judged NOT MEASURABLE.
type Latency struct {
	Kubectl kube.Kubectl
	Spec    LatencySpec
	Log     *slog.Logger
	// Retry is the wait between warm-up calls (1 s when 0).
	Retry time.Duration
}

// leftovers deletes every namespace of the benchmark (LatencyLabel).
func leftovers() []string {
	return []string{"delete", "namespace", "-l", LatencyLabel, "--ignore-not-found", "--wait", "--timeout=180s"}
}

// Measure picks the nodes and runs every variant, one after another
// (their loads must not overlap).
func (l Latency) Measure(ctx context.Context) (benchmarks.MeshLatency, error) {
	// What a killed run left is deleted first: a re-run starts clean.
	if _, err := l.Kubectl.Run(ctx, leftovers()...); err != nil {
		return benchmarks.MeshLatency{}, fmt.Errorf("delete the namespaces of an earlier run: %w", err)
	}
	nodes, err := l.Kubectl.Run(ctx, "get", "nodes", "-o", "json")
	if err != nil {
		return benchmarks.MeshLatency{}, err
	}
	client, server, same, err := LatencyNodes(nodes)
	if err != nil {
		return benchmarks.MeshLatency{}, fmt.Errorf("%s: %w", l.Kubectl.Host(), err)
	}
	if same {
		l.Log.Warn("one schedulable node: fortio's client and server share it, so no network hop is measured", "node", client)
	}
	lat := benchmarks.MeshLatency{Client: client, Server: server, SameNode: same, NotRun: l.Spec.NoSidecars}
	if l.Spec.Sidecars {
		lat.DataPlane = "Envoy sidecars"
	}
	for _, v := range LatencyVariants(l.Spec.Sidecars, l.Spec.Proxyless) {
		r, err := l.run(ctx, v, client, server)
		if err != nil {
			return benchmarks.MeshLatency{}, err
		}
		lat.Runs = append(lat.Runs, r)
	}
	return lat.Judge(), nil
}

// Cleanup deletes what a killed run may have left in the cluster.
func (l Latency) Cleanup(ctx context.Context) error {
	_, err := l.Kubectl.Run(ctx, leftovers()...)
	return err
}

// proxylessLoad makes a proxyless variant's load: the client pod warmed up
// (warmUp), then the load.
func (l Latency) proxylessLoad(ctx context.Context, v LatencyVariant, client, server string) (benchmarks.LoadRun, error) {
	for _, d := range []string{LoadServer, LoadClient} {
		if _, err := l.Kubectl.Run(ctx, "--namespace", v.Namespace, "rollout", "status", "deployment/"+d, "--timeout=300s"); err != nil {
			return benchmarks.LoadRun{}, err
		}
	}
	pods, err := readyPods(ctx, l.Kubectl, v.Namespace, LoadClient)
	if err != nil {
		return benchmarks.LoadRun{}, err
	}
	retry := l.Retry
	if retry == 0 {
		retry = time.Second
	}
	sp, ok, err := warmUp(ctx, l.Kubectl, v.Namespace, pods[0], retry)
	if err != nil {
		return benchmarks.LoadRun{}, err
	}
	if !ok {
		return benchmarks.LoadRun{}, fmt.Errorf("the proxyless server is not answering the client after 2 minutes: %d of %d calls failed: %s", sp.Errors, sp.Calls, sp.FirstError)
	}
	o := l.Spec.Load
	l.Log.Info("proxyless gRPC load", "variant", v.Name, "client", client, "server", server, "qps", o.QPS, "connections", o.Connections, "duration", o.Duration.String())
	var res probe.LoadResult
	q := url.Values{"qps": {fmt.Sprint(o.QPS)}, "c": {fmt.Sprint(o.Connections)}, "t": {o.Duration.String()}, "payload": {fmt.Sprint(o.PayloadBytes)}}
	if err := probeGet(ctx, l.Kubectl, v.Namespace, pods[0], "/load?"+q.Encode(), &res); err != nil {
		return benchmarks.LoadRun{}, err
	}
	r, err := ProxylessRun(v.Name, o, res)
	if err != nil {
		return r, fmt.Errorf("%s: %w", l.Kubectl.Host(), err)
	}
	l.Log.Info("proxyless gRPC result", "variant", v.Name, "p50", r.P50.String(), "p90", r.P90.String(), "p99", r.P99.String(),
		"qps", fmt.Sprintf("%.0f", r.ActualQPS), "calls", r.Calls, "ok", r.OK)
	return r, nil
}

// ProxylessRun is a proxyless load's result as a benchmark run, its
// figures range-checked: they come from a pod.
func ProxylessRun(variant string, asked LoadOptions, res probe.LoadResult) (benchmarks.LoadRun, error) {
	r := benchmarks.LoadRun{Variant: variant, URL: res.Target, RequestedQPS: float64(asked.QPS), ActualQPS: res.ActualQPS,
		Connections: asked.Connections, Duration: res.Elapsed, Calls: res.Calls, OK: res.OK,
		P50: res.P50, P90: res.P90, P99: res.P99, P999: res.P999, Max: res.Max, Version: res.Runtime}
	ordered := 0 <= r.P50 && r.P50 <= r.P90 && r.P90 <= r.P99 && r.P99 <= r.P999 && r.P999 <= r.Max
	switch {
	case res.Options.QPS != asked.QPS || res.Options.Connections != asked.Connections || res.Options.PayloadBytes != asked.PayloadBytes:
		return r, fmt.Errorf("the probe ran %+v, not the load asked for", res.Options)
	case r.Calls < 0 || r.OK < 0 || r.OK > r.Calls || r.Duration <= 0 || r.Duration > 2*asked.Duration+time.Minute:
		return r, fmt.Errorf("the probe's counts are inconsistent: %d calls, %d answered, in %s", r.Calls, r.OK, r.Duration)
	case !ordered || r.Max > time.Minute || r.ActualQPS < 0 || r.ActualQPS > 2*float64(asked.QPS):
		return r, fmt.Errorf("the probe's figures are out of range: p50 %s, p90 %s, p99 %s, p99.9 %s, max %s, %.0f qps", r.P50, r.P90, r.P99, r.P999, r.Max, r.ActualQPS)
	}
	return r, nil
}

// run runs one variant and returns fortio's result.
func (l Latency) run(ctx context.Context, v LatencyVariant, client, server string) (benchmarks.LoadRun, error) {
	fail := func(err error) (benchmarks.LoadRun, error) {
		return benchmarks.LoadRun{}, fmt.Errorf("latency %s: %w", v.Name, err)
	}
	defer func() {
		// Cleaned up also when the run failed or was cancelled.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		if _, err := l.Kubectl.Run(cctx, "delete", "namespace", v.Namespace, "--ignore-not-found", "--wait", "--timeout=170s"); err != nil {
			l.Log.Warn("could not delete the latency namespace", "namespace", v.Namespace, "node", l.Kubectl.Host(), "err", err)
		}
	}()
	image, pull := l.Spec.Image, l.Spec.PullPolicy
	if v.Proxyless {
		image, pull = l.Spec.ProbeImage, l.Spec.ProbePullPolicy
	}
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": LatencyWorkloads(v, image, pull, client, server)})
	if err != nil {
		return fail(err)
	}
	if err := l.Kubectl.Apply(ctx, b); err != nil {
		return fail(err)
	}
	if v.Proxyless {
		r, err := l.proxylessLoad(ctx, v, client, server)
		if err != nil {
			return fail(err)
		}
		return r, nil
	}
	for _, d := range []string{"fortio-server", "fortio-client"} { // the fortio variants
		if _, err := l.Kubectl.Run(ctx, "--namespace", v.Namespace, "rollout", "status", "deployment/"+d, "--timeout=300s"); err != nil {
			return fail(err)
		}
	}
	// The pods are ready before every node's proxy (kube-proxy, or the
	// sidecars' xDS) routes the new Service: call until a call succeeds.
	exec := []string{"--namespace", v.Namespace, "exec", "deploy/fortio-client", "-c", "fortio", "--"}
	retry := l.Retry
	if retry == 0 {
		retry = time.Second
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		_, err := l.Kubectl.Run(ctx, append(exec, WarmupCommand(v)...)...)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("the fortio server is not reachable from the client after 2 minutes: %w", err))
		}
		if err := sleep(ctx, retry); err != nil {
			return fail(err)
		}
	}
	o := l.Spec.Load
	l.Log.Info("fortio load", "variant", v.Name, "client", client, "server", server, "qps", o.QPS, "connections", o.Connections, "duration", o.Duration.String())
	out, err := l.Kubectl.Run(ctx, append(exec, LoadCommand(v, o)...)...)
	if err != nil {
		return fail(err)
	}
	r, err := benchmarks.ParseFortio(v.Name, []byte(out))
	if err != nil {
		return fail(fmt.Errorf("%s: %w", l.Kubectl.Host(), err))
	}
	l.Log.Info("fortio result", "variant", v.Name, "p50", r.P50.String(), "p90", r.P90.String(), "p99", r.P99.String(),
		"qps", fmt.Sprintf("%.0f", r.ActualQPS), "calls", r.Calls, "ok", r.OK)
	return r, nil
}
