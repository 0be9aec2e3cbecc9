package provider

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/mesh"
	"github.com/meshready/meshready/remote"
)

// kubectlRunner stands for a control plane: it records the kubectl
// commands and uploads it gets, answers `get nodes` and the fortio loads
// from recorded output, and fails the load of one namespace if told to.
type kubectlRunner struct {
	mu       sync.Mutex
	cmds     []string
	uploads  map[string][]byte
	nodes    string
	fortio   []byte
	failLoad string
}

func (r *kubectlRunner) Host() string { return "cp-1" }
func (r *kubectlRunner) Close() error { return nil }
func (r *kubectlRunner) Upload(_ context.Context, path string, data []byte, _ os.FileMode) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.uploads[path] = data
	return nil
}

func (r *kubectlRunner) Run(_ context.Context, cmd string, _ ...remote.RunOption) (remote.Result, error) {
	r.mu.Lock()
	r.cmds = append(r.cmds, strings.TrimPrefix(cmd, kubectl+" "))
	r.mu.Unlock()
	switch {
	case strings.Contains(cmd, "get nodes -o json"):
		return remote.Result{Stdout: []byte(r.nodes)}, nil
	case strings.Contains(cmd, " exec deploy/fortio-client"):
		if r.failLoad != "" && strings.Contains(cmd, "--namespace "+r.failLoad+" ") && strings.Contains(cmd, "fortio load") {
			return remote.Result{}, &remote.ExitError{Host: "cp-1", Cmd: cmd, Code: 1, Stderr: "Aborting because of error 503"}
		}
		return remote.Result{Stdout: r.fortio}, nil
	}
	return remote.Result{}, nil
}

const twoWorkers = `{"items":[
 {"metadata":{"name":"cp-1","labels":{"node-role.kubernetes.io/control-plane":""}},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
 {"metadata":{"name":"w-2","labels":{}},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
 {"metadata":{"name":"w-1","labels":{}},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}`

func TestMeasureLatency(t *testing.T) {
	fortio, err := os.ReadFile("../../benchmarks/testdata/fortio/load-ok.json")
	if err != nil {
		t.Fatal(err)
	}
	p := New("test", nil, nil, slog.New(slog.DiscardHandler))
	in := LatencyInputs{Sidecars: true, Image: "fortio/fortio:1.67.1", PullPolicy: "IfNotPresent",
		QPS: 1000, Connections: 16, PayloadBytes: 1024, Duration: "240s"}

	r := &kubectlRunner{uploads: map[string][]byte{}, nodes: twoWorkers, fortio: fortio}
	lat, err := p.measureLatency(t.Context(), bootstrap.Node{Name: "cp-1", Runner: r}, in)
	if err != nil {
		t.Fatal(err)
	}
	if lat.Client != "w-1" || lat.Server != "w-2" || len(lat.Runs) != 3 || lat.PerHopP90 == nil || *lat.PerHopP90 != 0 || lat.MTLSCostP90 == nil {
		t.Errorf("result %+v", lat)
	}
	// Each variant in turn: a clean namespace, the objects, both pods
	// ready, the load, the namespace gone again.
	var want []string
	for _, ns := range []string{"meshready-latency-baseline", "meshready-latency-mtls", "meshready-latency-plaintext"} {
		want = append(want, "apply -f /run/meshready-latency-", "--namespace "+ns+" rollout status deployment/fortio-server",
			"--namespace "+ns+" rollout status deployment/fortio-client",
			"--namespace "+ns+" exec deploy/fortio-client -c fortio -- fortio curl -quiet http://fortio-server."+ns+".svc.cluster.local:8080/echo",
			"--namespace "+ns+" exec deploy/fortio-client -c fortio -- fortio load -qps 1000 -c 16 -t 4m0s",
			"delete namespace "+ns+" --ignore-not-found --wait --timeout=170s; rm -f /run/meshready-latency-")
	}
	if len(r.cmds) != 2+len(want) || r.cmds[0] != "delete namespace -l meshready.io/latency --ignore-not-found --wait --timeout=180s" {
		t.Fatalf("commands:\n%s", strings.Join(r.cmds, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(r.cmds[i+2], w) {
			t.Errorf("command %d = %q, want %q...", i+2, r.cmds[i+2], w)
		}
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.uploads["/run/meshready-latency-mtls.json"], &list); err != nil || len(list.Items) != 6 {
		t.Fatalf("mtls objects: %d, %v", len(list.Items), err)
	}

	// A load that fails: the error names the node and the variant, its
	// namespace is deleted all the same, and no later variant runs.
	r = &kubectlRunner{uploads: map[string][]byte{}, nodes: twoWorkers, fortio: fortio, failLoad: "meshready-latency-mtls"}
	_, err = p.measureLatency(t.Context(), bootstrap.Node{Name: "cp-1", Runner: r}, in)
	if err == nil || !strings.Contains(err.Error(), "cp-1: latency mtls: kubectl --namespace meshready-latency-mtls exec") ||
		!strings.Contains(err.Error(), "Aborting because of error 503") {
		t.Errorf("failed load: %v", err)
	}
	if last := r.cmds[len(r.cmds)-1]; !strings.HasPrefix(last, "delete namespace meshready-latency-mtls") {
		t.Errorf("last command %q, want the mtls namespace deleted", last)
	}
	for _, c := range r.cmds {
		if strings.Contains(c, "plaintext") {
			t.Errorf("ran after the failure: %q", c)
		}
	}

	// Without sidecars (no Envoy): the baseline alone, and why.
	in.Sidecars, in.NoSidecars = false, "no Envoy binary exists offline"
	r = &kubectlRunner{uploads: map[string][]byte{}, nodes: twoWorkers, fortio: fortio}
	lat, err = p.measureLatency(t.Context(), bootstrap.Node{Name: "cp-1", Runner: r}, in)
	if err != nil || len(lat.Runs) != 1 || lat.PerHopP90 != nil || lat.Unavailable != "no Envoy binary exists offline" || lat.DataPlane != "" {
		t.Errorf("baseline only: %+v %v", lat, err)
	}
	in.Duration = "four minutes"
	if _, err := p.measureLatency(t.Context(), bootstrap.Node{Name: "cp-1", Runner: r}, in); err == nil {
		t.Error("a bad duration must be an error")
	}
}

// TestBound: a quantile of istiod's histogram is said as its bucket bound.
func TestBound(t *testing.T) {
	inf := math.Inf(1)
	h := mesh.Histogram{Bounds: []float64{0.1, 0.5, 30, inf}, Counts: []uint64{90, 99, 99, 100}, Count: 100}
	if got := bound(h, 0.5); got != "≤ 0.1 s" {
		t.Errorf("p50 %q", got)
	}
	if got := bound(h, 0.99); got != "≤ 0.5 s" {
		t.Errorf("p99 %q", got)
	}
	if got := bound(h, 1); got != "> 30 s" {
		t.Errorf("max %q", got)
	}
	if got := bound(mesh.Histogram{}, 0.5); got != "" {
		t.Errorf("empty %q", got)
	}
}
