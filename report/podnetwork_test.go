package report

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/internal/golden"
)

// The pod network shows as its own section: each pair's RTT over the
// nodes' addresses and over flannel's overlay, the overlay's cost, and
// the pairs that could not be measured; it survives a JSON round trip.
func TestGoldenPodNetwork(t *testing.T) {
	r := fixtureReport()
	lat := func(p50, p99 time.Duration) benchmarks.Latency {
		return benchmarks.Latency{P50: p50, P99: p99, Max: p99 + 10*time.Microsecond, Samples: 20}
	}
	r.PodNetwork = &PodNetwork{Kind: "flannel", RTTs: []PodRTT{
		{From: "local-cp-1", To: "local-worker-1", Node: lat(61*time.Microsecond, 95*time.Microsecond), Pods: lat(83*time.Microsecond, 130*time.Microsecond)},
		{From: "local-worker-1", To: "local-cp-1", Node: lat(58*time.Microsecond, 88*time.Microsecond), Pods: lat(80*time.Microsecond, 121*time.Microsecond)},
		{From: "local-worker-1", To: "local-worker-2", Node: lat(60*time.Microsecond, 90*time.Microsecond), Pods: benchmarks.Latency{}, PodsLoss: 100},
	}, Notes: []string{"local-worker-1 -> local-worker-2: ping: 20 packets transmitted, 0 received"}}
	golden.Check(t, "testdata/report-pod-network.md", Markdown(r))
	b, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/report-pod-network.html", b)
	if !strings.Contains(string(b), "<h2>Pod network</h2>") {
		t.Error("no pod network section in HTML")
	}
	selfContained(t, string(b))
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.PodNetwork, r.PodNetwork) {
		t.Errorf("round trip: %+v, want %+v", back.PodNetwork, r.PodNetwork)
	}
}
