package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/kube"
)

// LatencySpec is how the mesh latency benchmark runs.
type LatencySpec struct {
	// Sidecars says whether Envoy sidecars can run; without them only the
	// baseline runs, and NoSidecars says why.
	Sidecars   bool
	NoSidecars string
	// Image is the fortio image, PullPolicy Never where it is pre-loaded.
	Image, PullPolicy string
	Load              LoadOptions
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
	for _, v := range LatencyVariants(l.Spec.Sidecars) {
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
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": LatencyWorkloads(v, l.Spec.Image, l.Spec.PullPolicy, client, server)})
	if err != nil {
		return fail(err)
	}
	if err := l.Kubectl.Apply(ctx, b); err != nil {
		return fail(err)
	}
	for _, d := range []string{"fortio-server", "fortio-client"} {
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
