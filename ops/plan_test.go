package ops

import (
	"errors"
	"strings"
	"testing"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/internal/golden"
)

func ref(name, role, instance string) map[string]any {
	return map[string]any{"name": name, "role": role, "address": "10.0.0.1", "instance": instance}
}

// TestWordsOfAPlan: the steps of an up that adds a worker, replaces one,
// removes two control planes and a worker, and retunes etcd, in words.
func TestWordsOfAPlan(t *testing.T) {
	member := func(op, name, role string, diffs ...string) Step {
		in := map[string]any{"node": ref(name, role, "a"), "controlPlane": ref("s-cp-1", "control-plane", "x"), "snapshotsKeep": 5.0}
		s := Step{Op: op, Type: contract.Member().Token, Name: name, Diffs: diffs}
		switch op {
		case "create":
			s.New = in
		case "delete":
			s.Old = in
		default:
			s.Old, s.New = in, in
		}
		return s
	}
	nodes := func(refs ...map[string]any) []any {
		var out []any
		for _, r := range refs {
			out = append(out, r)
		}
		return out
	}
	steps := []Step{
		{Op: "same", Type: contract.Server().Token, Name: "s-cp-1"},
		{Op: "create", Type: contract.Server().Token, Name: "s-worker-3"},
		{Op: "replace", Type: contract.Server().Token, Name: "s-worker-1"},
		{Op: "update", Type: contract.Suite().Token, Name: "benchmarks", Diffs: []string{"nodes"},
			Old: map[string]any{"nodes": nodes(ref("s-cp-1", "control-plane", "x"), ref("s-cp-2", "control-plane", "y"), ref("s-worker-1", "worker", "a"), ref("s-worker-2", "worker", "b"))},
			New: map[string]any{"nodes": nodes(ref("s-cp-1", "control-plane", "x"), ref("s-worker-1", "worker", "c"), ref("s-worker-3", "worker", "d"))}},
		{Op: "update", Type: contract.Cluster().Token, Name: "kubernetes", Diffs: []string{"version", "etcd"},
			Old: map[string]any{"version": "v1.34.4"},
			New: map[string]any{"controlPlane": ref("s-cp-1", "control-plane", "x"), "version": "v1.35.4"}},
		member("create", "s-worker-3", "worker"),
		member("replace", "s-worker-1", "worker", "node"),
		member("update", "s-cp-2", "control-plane", "etcdFlags"),
		member("delete", "s-worker-2", "worker"),
		member("delete", "s-cp-3", "control-plane"),
		{Op: "update", Type: contract.PodNetwork().Token, Name: "pod-network", Diffs: []string{"nodes"}},
		{Op: "update", Type: contract.Injection().Token, Name: "demo", Diffs: []string{"revision"},
			Old: map[string]any{"revision": "1-31-alpha-b01690e6db7d"}, New: map[string]any{"revision": "1-31-alpha-eed52ebb66ad"}},
		{Op: "update", Type: contract.Injection().Token, Name: "shop", Diffs: []string{"revision"}, Old: map[string]any{}, New: map[string]any{}},
	}
	golden.Check(t, "testdata/plan-words.txt", []byte(strings.Join(Words(steps), "\n")+"\n"))

	// A preview of a stack from before: node inputs unknown until up.
	unknown := Words([]Step{
		{Op: "update", Type: contract.Suite().Token, Name: "benchmarks", Diffs: []string{"nodes"}, Old: map[string]any{"nodes": nodes(ref("s-cp-1", "control-plane", ""))}, New: map[string]any{}},
		{Op: "update", Type: contract.Cluster().Token, Name: "kubernetes", Diffs: []string{"controlPlanes"}, New: map[string]any{}},
		{Op: "create", Type: contract.Member().Token, Name: "s-worker-1", New: map[string]any{"snapshotsKeep": 5.0}},
	})
	golden.Check(t, "testdata/plan-words-unknown.txt", []byte(strings.Join(unknown, "\n")+"\n"))

	if w := Words([]Step{{Op: "same", Type: contract.Member().Token, Name: "s-worker-1"}}); len(w) != 0 {
		t.Errorf("a plan that changes nothing said %v", w)
	}
}

// TestIstioWindow: a Kubernetes version outside the window of the Istio a
// stack runs, or of its canary, is bad input before anything changes.
func TestIstioWindow(t *testing.T) {
	cfg := func(k8s, istio, canary string) *config.Config {
		c := config.Defaults()
		c.Kubernetes.Version, c.Istio.Enabled, c.Istio.Version = config.Version(k8s), true, istio
		c.Istio.Canary.Version = canary
		return &c
	}
	for _, tc := range []struct {
		c    *config.Config
		want string
	}{
		{cfg("1.34.4", "1.28.0", ""), ""},
		{cfg("1.35.4", "1.28.0", ""), "outside the Kubernetes versions Istio 1.28.0 supports (1.30-1.34)"},
		{cfg("1.35.4", "1.29.0", "1.28.0"), "outside the Kubernetes versions Istio 1.28.0 supports"},
		{cfg("1.35.4", "1.29.0", ""), ""},
	} {
		err := IstioWindow(tc.c)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, new(BadInput))) {
			t.Errorf("kubernetes %s, istio %s, canary %s: %v, want %q", tc.c.Kubernetes.Version, tc.c.Istio.Version, tc.c.Istio.Canary.Version, err, tc.want)
		}
	}
}
