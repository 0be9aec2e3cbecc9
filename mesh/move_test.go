package mesh

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meshready/meshready/mesh/probe"
)

// pod is a running pod without a proxy, owned by ReplicaSet owner.
func pod(owner, hash string) string {
	return `{"metadata":{"labels":{"pod-template-hash":"` + hash + `"},"ownerReferences":[{"kind":"ReplicaSet","name":"` + owner + `"}]},
		"spec":{"containers":[{"name":"app"}]},"status":{"phase":"Running"}}`
}

// onRev is a Ready pod with a proxy of revision rev, owned by kind/owner.
func onRev(name, kind, owner, hash, rev, app string) string {
	return `{"metadata":{"name":"` + name + `","labels":{"app":"` + app + `","pod-template-hash":"` + hash + `"},"annotations":{"istio.io/rev":"` + rev + `"},
		"ownerReferences":[{"kind":"` + kind + `","name":"` + owner + `"}]},
		"spec":{"containers":[{"name":"app"},{"name":"istio-proxy"}]},
		"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}`
}

// TestMoveTakesNoNameAsShell: an owner name is whatever a tenant wrote
// (the API server only wants it non-empty). A name no workload can have is
// not restarted; a good one reaches kubectl as one argument.
func TestMoveTakesNoNameAsShell(t *testing.T) {
	pods := `{"items":[` + pod("a;touch /tmp/x;#-h-5d9c8", "5d9c8") + `,` + pod("web-7f6b9", "7f6b9") + `,` +
		onRev("d", "DaemonSet", "$(reboot)", "", "old", "x") + `]}`
	k := &fakeKubectl{respond: func(args []string) (string, error) {
		if strings.Join(args, " ") == "--namespace shop get pods -o json" {
			return pods, nil
		}
		return "", nil
	}}
	got, err := Move{Kubectl: k, Namespace: "shop"}.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Restarted, ",") != "deployment/web" || got.Traffic != nil {
		t.Errorf("restarted %v (traffic %v), want deployment/web alone", got.Restarted, got.Traffic)
	}
	cmds := k.commands()
	if len(cmds) != 2 || cmds[1] != "--namespace shop rollout restart deployment/web" {
		t.Errorf("commands %q", cmds)
	}

	// Only hostile names: nothing is restarted at all.
	pods = `{"items":[` + pod("$(reboot)-5d9c8", "5d9c8") + `]}`
	k.calls = nil
	if got, err := (Move{Kubectl: k, Namespace: "shop"}).Run(t.Context()); err != nil || len(got.Restarted) != 0 || len(k.commands()) != 1 {
		t.Errorf("restarted %v (%v), commands %q", got.Restarted, err, k.commands())
	}
}

// TestMoveBetweenRevisions: an upgrade's move restarts the Deployments of
// the old revision while the probe watchers keep calling, reads what they
// saw, then restarts the watchers' DaemonSet; each rollout is waited for,
// and a stuck one is an error naming it.
func TestMoveBetweenRevisions(t *testing.T) {
	pods := `{"items":[` + strings.Join([]string{
		onRev("echo-v1-5d9c8-a", "ReplicaSet", "echo-v1-5d9c8", "5d9c8", "old", "echo"),
		onRev("echo-v2-7f6b9-a", "ReplicaSet", "echo-v2-7f6b9", "7f6b9", "new", "echo"),
		onRev("meshprobe-client-echo-x", "DaemonSet", "meshprobe-client-echo", "", "old", "meshprobe-client-echo"),
		onRev("meshprobe-client-echo-y", "DaemonSet", "meshprobe-client-echo", "", "old", "meshprobe-client-echo"),
	}, ",") + `]}`
	t0 := time.Unix(1_800_000_000, 0)
	samples := func(pod string) string {
		var ss []probe.Sample
		for i := range 10 {
			s := probe.Sample{At: t0.Add(time.Duration(i) * 100 * time.Millisecond), Version: "v1"}
			if pod == "meshprobe-client-echo-y" && (i == 4 || i == 5) {
				s = probe.Sample{At: s.At, Err: "rpc error: code = Unavailable desc = connection refused"}
			}
			ss = append(ss, s)
		}
		return string(mustJSON(t, ss))
	}
	var stuck bool
	k := &fakeKubectl{respond: func(args []string) (string, error) {
		a := strings.Join(args, " ")
		switch {
		case a == "--namespace demo get pods -o json":
			return pods, nil
		case strings.HasSuffix(a, ":8080/proxy/now"):
			return fmt.Sprintf(`{"unixNano":%d}`, t0.UnixNano()), nil
		case strings.Contains(a, "/proxy/samples?since="):
			return samples(strings.Split(strings.Split(a, "/pods/")[1], ":")[0]), nil
		case stuck && strings.Contains(a, "rollout status daemonset/"):
			return "", errors.New("timed out waiting for the condition")
		}
		return "", nil
	}}
	res, err := Move{Kubectl: k, Namespace: "demo", Revision: "new", From: "old", Wait: 3 * time.Minute}.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Restarted, ",") != "deployment/echo-v1,daemonset/meshprobe-client-echo" {
		t.Errorf("restarted %v", res.Restarted)
	}
	var order []string
	for _, c := range k.commands() {
		if strings.Contains(c, "rollout") || strings.Contains(c, "samples") {
			order = append(order, c)
		}
	}
	want := []string{
		"--namespace demo rollout restart deployment/echo-v1",
		"--namespace demo rollout status deployment/echo-v1 --timeout=3m0s",
		fmt.Sprintf("get --raw /api/v1/namespaces/demo/pods/meshprobe-client-echo-x:8080/proxy/samples?since=%d", t0.UnixNano()),
		fmt.Sprintf("get --raw /api/v1/namespaces/demo/pods/meshprobe-client-echo-y:8080/proxy/samples?since=%d", t0.UnixNano()),
		"--namespace demo rollout restart daemonset/meshprobe-client-echo",
		"--namespace demo rollout status daemonset/meshprobe-client-echo --timeout=3m0s",
	}
	if strings.Join(order, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands\n%s\nwant\n%s", strings.Join(order, "\n"), strings.Join(want, "\n"))
	}
	if tr := res.Traffic; tr == nil || tr.Sent != 20 || tr.Failed != 2 || len(tr.Clients) != 2 ||
		tr.LongestSec < 0.19 || tr.LongestSec > 0.21 || tr.Errors["Unavailable"] != 2 {
		t.Errorf("traffic %+v", res.Traffic)
	}
	k.calls, stuck = nil, true
	if _, err := (Move{Kubectl: k, Namespace: "demo", Revision: "new", From: "old", Wait: time.Minute}).Run(t.Context()); err == nil ||
		!strings.Contains(err.Error(), "daemonset meshprobe-client-echo did not roll out within 1m0s") {
		t.Errorf("a stuck rollout: %v", err)
	}
}

// TestSummarizeMove: a watcher failing to its last call counts to that
// call; one with no failure adds nothing to the longest window.
func TestSummarizeMove(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int, err string) probe.Sample {
		return probe.Sample{At: t0.Add(time.Duration(ms) * time.Millisecond), Err: err}
	}
	got := SummarizeMove(map[string][]probe.Sample{
		"b": {at(0, ""), at(10, "x"), at(20, "rpc error: code = DeadlineExceeded desc = y"), at(500, "rpc error: code = DeadlineExceeded desc = y")},
		"a": {at(0, ""), at(1000, "")},
		"c": nil,
	})
	if got.Sent != 6 || got.Failed != 3 || got.LongestSec != 0.49 || got.Seconds != 1 || strings.Join(got.Clients, ",") != "a,b,c" ||
		got.Errors["DeadlineExceeded"] != 2 || got.Errors["other"] != 1 {
		t.Errorf("summary %+v", got)
	}
	if got := SummarizeMove(map[string][]probe.Sample{"a": {at(0, "")}}); got.Failed != 0 || got.Errors != nil || got.LongestSec != 0 {
		t.Errorf("no failure: %+v", got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
