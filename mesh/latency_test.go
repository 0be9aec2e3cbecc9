package mesh

import (
	"encoding/json"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/remote"
)

// fakeControlPlane answers `get nodes` and the fortio loads from recorded
// output, and fails the load of one namespace if told to.
func fakeControlPlane(nodes string, fortio []byte, failLoad string) *fakeKubectl {
	return &fakeKubectl{respond: func(args []string) (string, error) {
		cmd := strings.Join(args, " ")
		switch {
		case cmd == "get nodes -o json":
			return nodes, nil
		case strings.Contains(cmd, " exec deploy/fortio-client"):
			if failLoad != "" && strings.Contains(cmd, "--namespace "+failLoad+" ") && strings.Contains(cmd, "fortio load") {
				return "", &remote.ExitError{Host: "cp-1", Cmd: cmd, Code: 1, Stderr: "Aborting because of error 503"}
			}
			return string(fortio), nil
		}
		return "", nil
	}}
}

const twoWorkers = `{"items":[
 {"metadata":{"name":"cp-1","labels":{"node-role.kubernetes.io/control-plane":""}},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
 {"metadata":{"name":"w-2","labels":{}},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
 {"metadata":{"name":"w-1","labels":{}},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}`

func TestMeasureLatency(t *testing.T) {
	fortio, err := os.ReadFile("../benchmarks/testdata/fortio/load-ok.json")
	if err != nil {
		t.Fatal(err)
	}
	spec := LatencySpec{Sidecars: true, Image: "fortio/fortio:1.67.1", PullPolicy: "IfNotPresent",
		Load: LoadOptions{QPS: 1000, Connections: 16, PayloadBytes: 1024, Duration: 240 * time.Second}}
	measure := func(k *fakeKubectl) (benchmarks.MeshLatency, error) {
		return Latency{Kubectl: k, Spec: spec, Log: slog.New(slog.DiscardHandler), Retry: time.Millisecond}.Measure(t.Context())
	}

	r := fakeControlPlane(twoWorkers, fortio, "")
	lat, err := measure(r)
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
		want = append(want, "apply -f -", "--namespace "+ns+" rollout status deployment/fortio-server",
			"--namespace "+ns+" rollout status deployment/fortio-client",
			"--namespace "+ns+" exec deploy/fortio-client -c fortio -- fortio curl -quiet http://fortio-server."+ns+".svc.cluster.local:8080/echo",
			"--namespace "+ns+" exec deploy/fortio-client -c fortio -- fortio load -qps 1000 -c 16 -t 4m0s",
			"delete namespace "+ns+" --ignore-not-found --wait --timeout=170s")
	}
	cmds := r.commands()
	if len(cmds) != 2+len(want) || cmds[0] != "delete namespace -l meshready.io/latency --ignore-not-found --wait --timeout=180s" {
		t.Fatalf("commands:\n%s", strings.Join(cmds, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(cmds[i+2], w) {
			t.Errorf("command %d = %q, want %q...", i+2, cmds[i+2], w)
		}
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.applied[1], &list); err != nil || len(list.Items) != 6 {
		t.Fatalf("mtls objects: %d, %v", len(list.Items), err)
	}

	// A load that fails: the error names the node and the variant, its
	// namespace is deleted all the same, and no later variant runs.
	r = fakeControlPlane(twoWorkers, fortio, "meshready-latency-mtls")
	_, err = measure(r)
	if err == nil || !strings.Contains(err.Error(), "latency mtls: ") || !strings.Contains(err.Error(), "cp-1") ||
		!strings.Contains(err.Error(), "Aborting because of error 503") {
		t.Errorf("failed load: %v", err)
	}
	cmds = r.commands()
	if last := cmds[len(cmds)-1]; !strings.HasPrefix(last, "delete namespace meshready-latency-mtls") {
		t.Errorf("last command %q, want the mtls namespace deleted", last)
	}
	for _, c := range cmds {
		if strings.Contains(c, "plaintext") {
			t.Errorf("ran after the failure: %q", c)
		}
	}

	// Without sidecars (no Envoy): the baseline alone, and why.
	spec.Sidecars, spec.NoSidecars = false, "no Envoy binary exists offline"
	lat, err = measure(fakeControlPlane(twoWorkers, fortio, ""))
	if err != nil || len(lat.Runs) != 1 || lat.PerHopP90 != nil || lat.Unavailable != "no Envoy binary exists offline" || lat.DataPlane != "" {
		t.Errorf("baseline only: %+v %v", lat, err)
	}
}

// TestBound: a quantile of istiod's histogram is said as its bucket bound.
func TestBound(t *testing.T) {
	inf := math.Inf(1)
	h := Histogram{Bounds: []float64{0.1, 0.5, 30, inf}, Counts: []uint64{90, 99, 99, 100}, Count: 100}
	if got := bound(h, 0.5); got != "≤ 0.1 s" {
		t.Errorf("p50 %q", got)
	}
	if got := bound(h, 0.99); got != "≤ 0.5 s" {
		t.Errorf("p99 %q", got)
	}
	if got := bound(h, 1); got != "> 30 s" {
		t.Errorf("max %q", got)
	}
	if got := bound(Histogram{}, 0.5); got != "" {
		t.Errorf("empty %q", got)
	}
}
