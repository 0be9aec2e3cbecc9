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
	"github.com/meshready/meshready/mesh/probe"
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

// fakeProxyless answers the baseline's fortio with its recorded output and
// a proxyless client's API: warm-up counts that fail `failing` times
// first, then the load result res (as JSON).
func fakeProxyless(t *testing.T, failing int, res probe.LoadResult) *fakeKubectl {
	fortio, err := os.ReadFile("../benchmarks/testdata/fortio/load-ok.json")
	if err != nil {
		t.Fatal(err)
	}
	counts := 0
	return &fakeKubectl{respond: func(args []string) (string, error) {
		cmd := strings.Join(args, " ")
		switch {
		case cmd == "get nodes -o json":
			return twoWorkers, nil
		case strings.Contains(cmd, " exec deploy/fortio-client"):
			return string(fortio), nil
		case strings.Contains(cmd, "get pods -l app=meshprobe-client"):
			return `{"items":[{"metadata":{"name":"meshprobe-client-abc"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}`, nil
		case strings.Contains(cmd, "/proxy/count?n=100"):
			counts++
			if counts <= failing {
				return `{"calls":100,"versions":{},"errors":100,"firstError":"rpc error: code = Unavailable"}`, nil
			}
			return `{"calls":100,"versions":{"proxyless-mtls":100},"errors":0}`, nil
		case strings.Contains(cmd, "/proxy/load?"):
			b, _ := json.Marshal(res)
			return string(b), nil
		}
		return "", nil
	}}
}

// TestMeasureProxylessLatency: without sidecars but with the probe, the
// baseline (fortio) and then the proxyless pair through the client's API:
// rollouts, warm-up until 100 calls succeed, the load with the options
// asked, the namespace deleted; and the cost is judged.
func TestMeasureProxylessLatency(t *testing.T) {
	o := LoadOptions{QPS: 1000, Connections: 16, PayloadBytes: 1024, Duration: 60 * time.Second}
	spec := LatencySpec{NoSidecars: "no Envoy binary exists offline", Image: "fortio", PullPolicy: "Never",
		Proxyless: true, ProbeImage: "meshready.local/meshprobe:v1", ProbePullPolicy: "Never", Load: o}
	good := probe.LoadResult{Options: probe.LoadOptions(o), Target: "xds:///meshprobe-server.ns.svc.cluster.local:7070",
		Elapsed: 60 * time.Second, Calls: 60000, OK: 60000, ActualQPS: 1000, P50: 300 * time.Microsecond, P90: 500 * time.Microsecond,
		P99: time.Millisecond, P999: 2 * time.Millisecond, Max: 5 * time.Millisecond, Runtime: "grpc-go 1.80.0"}
	k := fakeProxyless(t, 2, good)
	lat, err := Latency{Kubectl: k, Spec: spec, Log: slog.New(slog.DiscardHandler), Retry: time.Millisecond}.Measure(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(lat.Runs) != 3 || lat.ProxylessMTLSCostP90 == nil || *lat.ProxylessMTLSCostP90 != 0 || lat.MTLSCostP90 != nil {
		t.Fatalf("result %+v", lat)
	}
	if r := lat.Runs[1]; r.Variant != "proxyless-mtls" || r.Calls != 60000 || r.P90 != 500*time.Microsecond || r.Version != "grpc-go 1.80.0" || r.RequestedQPS != 1000 {
		t.Errorf("proxyless run %+v", r)
	}
	ns := "meshready-latency-proxyless-mtls"
	var mine []string
	for _, c := range k.commands() {
		if strings.Contains(c, ns) {
			mine = append(mine, c)
		}
	}
	want := []string{"--namespace " + ns + " rollout status deployment/meshprobe-server --timeout=300s",
		"--namespace " + ns + " rollout status deployment/meshprobe-client --timeout=300s",
		"--namespace " + ns + " get pods -l app=meshprobe-client -o json",
		"get --raw /api/v1/namespaces/" + ns + "/pods/meshprobe-client-abc:8080/proxy/count?n=100",
		"get --raw /api/v1/namespaces/" + ns + "/pods/meshprobe-client-abc:8080/proxy/count?n=100",
		"get --raw /api/v1/namespaces/" + ns + "/pods/meshprobe-client-abc:8080/proxy/count?n=100",
		"get --raw /api/v1/namespaces/" + ns + "/pods/meshprobe-client-abc:8080/proxy/load?c=16&payload=1024&qps=1000&t=1m0s",
		"delete namespace " + ns + " --ignore-not-found --wait --timeout=170s"}
	if strings.Join(mine, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands in %s:\n%s\nwant\n%s", ns, strings.Join(mine, "\n"), strings.Join(want, "\n"))
	}

	// A probe that ran another load, or answered figures out of order, is
	// an error naming the node, not a row.
	for _, bad := range []func(*probe.LoadResult){
		func(r *probe.LoadResult) { r.Options.QPS = 10 },
		func(r *probe.LoadResult) { r.P90 = -time.Second },
		func(r *probe.LoadResult) { r.OK = r.Calls + 1 },
		func(r *probe.LoadResult) { r.Max = time.Hour; r.P999 = time.Hour },
	} {
		res := good
		bad(&res)
		_, err := Latency{Kubectl: fakeProxyless(t, 0, res), Spec: LatencySpec{Proxyless: true, NoSidecars: "x", Load: o},
			Log: slog.New(slog.DiscardHandler), Retry: time.Millisecond}.Measure(t.Context())
		if err == nil || !strings.Contains(err.Error(), "latency proxyless-mtls: cp-1: the probe") {
			t.Errorf("%+v: %v", res, err)
		}
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
