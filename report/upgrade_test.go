package report

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/internal/golden"
	"github.com/meshready/meshready/traffic"
)

// An upgrade shows as its own section: the verdict on the load, the
// rollout node by node and the windows with failures; it survives a JSON
// round trip.
func TestGoldenUpgrade(t *testing.T) {
	r := fixtureReport()
	r.Upgrade = &Upgrade{
		UpgradeResult: bootstrap.UpgradeResult{From: "v1.34.4", To: "v1.35.4", Started: fixedNow, Seconds: 262.4, Nodes: []bootstrap.NodeUpgrade{
			{Node: "d2-cp-1", Role: "control-plane", UpgradeSeconds: 71.2, DrainSeconds: 3.1, ReadySeconds: 12.5},
			{Node: "d2-worker-1", Role: "worker", UpgradeSeconds: 4.2, DrainSeconds: 9.8, ReadySeconds: 11},
			{Node: "d2-worker-2", Role: "worker", Skipped: true},
		}},
		Traffic: &traffic.Result{Clients: []string{"d2-cp-1", "d2-worker-1", "d2-worker-2"}, QPS: 100, Target: "10.96.14.2:8080",
			Started: fixedNow, Seconds: 263, Sent: 78900, Failed: 3, P99Ms: 4.2, MaxMs: 310.5, LongestSec: 0.51,
			Windows: []traffic.Window{{FromSec: 80.2, ToSec: 80.71, Failed: 2}, {FromSec: 140, ToSec: 140, Failed: 1}},
			Errors:  map[string]int{"connection refused": 2, "timeout": 1}},
	}
	if met, _ := r.Upgrade.Target(); met {
		t.Error("target met with failed requests")
	}
	golden.Check(t, "testdata/report-upgrade.md", Markdown(r))
	b, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/report-upgrade.html", b)
	if !strings.Contains(string(b), "<h2>Upgrade</h2>") {
		t.Error("no upgrade section in HTML")
	}
	selfContained(t, string(b))
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil || !reflect.DeepEqual(back.Upgrade, r.Upgrade) {
		t.Errorf("upgrade did not round-trip: %+v %v", back.Upgrade, err)
	}
	for _, tc := range []struct {
		u    Upgrade
		met  bool
		want string
	}{
		{Upgrade{Traffic: &traffic.Result{Sent: 10}}, true, "0 failed requests"},
		{Upgrade{TrafficNote: "no image"}, false, "not measured: no image"},
		{Upgrade{Traffic: &traffic.Result{Sent: 10}, Error: "w-1: not Ready"}, false, "did not finish"},
		{Upgrade{Traffic: &traffic.Result{}}, false, "no request was sent"},
	} {
		if met, why := tc.u.Target(); met != tc.met || !strings.Contains(why, tc.want) {
			t.Errorf("%+v: %v %q, want %v %q", tc.u, met, why, tc.met, tc.want)
		}
	}
}

// An Istio upgrade shows as its own section: the revisions, each
// namespace's move with the watchers' calls, the verdict on 0 failed; it
// survives a JSON round trip.
func TestGoldenMeshUpgrade(t *testing.T) {
	r := fixtureReport()
	r.MeshUpgrade = &MeshUpgrade{From: "1-31-alpha-b01690e6db7d", To: "1-31-alpha-eed52ebb66ad", Namespaces: []NamespaceMove{
		{Namespace: "demo", Restarted: []string{"deployment/echo-v1", "deployment/echo-v2", "daemonset/meshprobe-client-echo"}, Seconds: 16.8,
			Traffic: &MoveTraffic{Clients: []string{"meshprobe-client-echo-a", "meshprobe-client-echo-b"}, Sent: 1110, Seconds: 5.6}},
		{Namespace: "shop", Restarted: []string{"deployment/legacy"}, Seconds: 0.4},
	}}
	golden.Check(t, "testdata/report-mesh-upgrade.md", Markdown(r))
	b, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/report-mesh-upgrade.html", b)
	if !strings.Contains(string(b), "<h2>Istio upgrade</h2>") {
		t.Error("no Istio upgrade section in HTML")
	}
	selfContained(t, string(b))
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil || !reflect.DeepEqual(back.MeshUpgrade, r.MeshUpgrade) {
		t.Errorf("the Istio upgrade did not round-trip: %+v %v", back.MeshUpgrade, err)
	}
	for _, tc := range []struct {
		u    MeshUpgrade
		met  bool
		want string
	}{
		{*r.MeshUpgrade, true, "0 of 1110 calls failed"},
		{MeshUpgrade{Namespaces: []NamespaceMove{{Traffic: &MoveTraffic{Sent: 100, Failed: 3}}}}, false, "3 of 100 calls failed"},
		{MeshUpgrade{Namespaces: []NamespaceMove{{Namespace: "shop"}}}, false, "not measured"},
	} {
		if met, why := tc.u.Target(); met != tc.met || !strings.Contains(why, tc.want) {
			t.Errorf("%+v: %v %q, want %v %q", tc.u, met, why, tc.met, tc.want)
		}
	}
}
