package mesh

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshready/meshready/mesh/probe"
	"github.com/meshready/meshready/report"
)

// fakeMesh answers the checker's kubectl calls as a mesh would: pods Ready,
// calls split by share, plaintext calls refused or answered, and clients
// that see a route change delay after it was applied.
type fakeMesh struct {
	share       map[string]int           // answers per 100 calls, by subset
	answered    int                      // plaintext calls answered (of 5)
	delay       time.Duration            // from applying a route to clients seeing it
	stuck       bool                     // clients never see a route: every call fails
	metrics     string                   // istiod's /metrics
	skew        map[string]time.Duration // a pod's clock minus the true time
	mtls        string                   // the demo namespace's PeerAuthentication mode ("": none)
	controlDown bool                     // the control port does not answer
	mu          sync.Mutex
	routedTo    string
	routedAt    time.Time
	previous    string
	plainPods   []string // pods asked for plaintext calls
}

func (m *fakeMesh) kubectl() *fakeKubectl {
	return &fakeKubectl{
		respond: func(args []string) (string, error) {
			cmd := strings.Join(args, " ")
			switch {
			case strings.Contains(cmd, " get pods -l app="):
				app := strings.TrimPrefix(args[5], "app=")
				return fmt.Sprintf(`{"items":[{"metadata":{"name":"%s-a"},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
					{"metadata":{"name":"%s-b"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}`, app, app), nil
			case strings.HasSuffix(cmd, "istiod:15014/proxy/metrics"):
				return m.metrics, nil
			case strings.Contains(cmd, "get peerauthentications.security.istio.io"):
				if args[1] != "demo" || m.mtls == "" {
					return `{"items":[]}`, nil
				}
				return `{"items":[{"metadata":{"name":"workload"},"spec":{"selector":{"matchLabels":{"app":"x"}},"mtls":{"mode":"DISABLE"}}},` +
					`{"metadata":{"name":"default"},"spec":{"mtls":{"mode":"` + m.mtls + `"}}}]}`, nil
			case args[0] == "get" && args[1] == "--raw":
				return m.probe(args[2])
			}
			return "", nil
		},
		onApply: func(b []byte) error {
			var vs struct {
				Spec struct {
					HTTP []struct {
						Route []struct {
							Destination struct{ Subset string } `json:"destination"`
						} `json:"route"`
					} `json:"http"`
				} `json:"spec"`
			}
			if err := json.Unmarshal(b, &vs); err != nil {
				return err
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			m.previous, m.routedTo, m.routedAt = m.routedTo, vs.Spec.HTTP[0].Route[0].Destination.Subset, time.Now()
			return nil
		},
	}
}

// probe answers a probe client's HTTP API.
func (m *fakeMesh) probe(raw string) (string, error) {
	u, err := url.Parse(raw[strings.Index(raw, "/proxy")+len("/proxy"):])
	if err != nil {
		return "", err
	}
	pod, _, _ := strings.Cut(strings.Split(raw, "/")[6], ":")
	var v any
	switch u.Path {
	case "/count":
		n, _ := strconv.Atoi(u.Query().Get("n"))
		s := probe.Split{Calls: n, Versions: map[string]int{}}
		for sub, share := range m.share {
			s.Versions[sub] = n * share / 100
		}
		v = s
	case "/plaintext":
		m.mu.Lock()
		m.plainPods = append(m.plainPods, pod)
		m.mu.Unlock()
		if strings.HasSuffix(u.Query().Get("addr"), fmt.Sprintf(":%d", ControlPort)) {
			v = probe.Split{Calls: 5, Versions: map[string]int{"v1": 5}}
			if m.controlDown {
				v = probe.Split{Calls: 5, Errors: 5, Versions: map[string]int{}, FirstError: "connect: connection refused"}
			}
			break
		}
		v = probe.Split{Calls: 5, Errors: 5 - m.answered, Versions: map[string]int{"v1": m.answered}, FirstError: "connection reset by peer"}
	case "/now":
		v = map[string]int64{"unixNano": time.Now().Add(m.skew[pod]).UnixNano()}
	case "/samples":
		ns, _ := strconv.ParseInt(u.Query().Get("since"), 10, 64)
		since := time.Unix(0, ns).Add(-m.skew[pod]) // the pod's clock, made true
		m.mu.Lock()
		seen := m.routedAt.Add(m.delay)
		var out []probe.Sample
		for at := since; !at.After(since.Add(m.delay + 1500*time.Millisecond)); at = at.Add(10 * time.Millisecond) {
			version := m.routedTo
			if at.Before(seen) {
				version = m.previous
			}
			stamp := at.Add(m.skew[pod]) // samples carry the pod's clock
			if m.stuck {
				out = append(out, probe.Sample{At: stamp, Err: "no healthy upstream"})
				continue
			}
			out = append(out, probe.Sample{At: stamp, Version: version})
		}
		m.mu.Unlock()
		v = out
	default:
		return "", fmt.Errorf("no such probe API %s", u.Path)
	}
	b, err := json.Marshal(v)
	return string(b), err
}

func TestChecker(t *testing.T) {
	metrics, err := os.ReadFile("testdata/istiod-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	spec := CheckSpec{Namespace: "demo", Service: "echo", Weights: map[string]int{"v1": 90, "v2": 10},
		MTLS: "STRICT", Calls: 2000, Runs: 3, TolerancePts: 3}
	check := func(m *fakeMesh, s CheckSpec) (*fakeKubectl, error, func() report.MeshResult) {
		k := m.kubectl()
		c := Checker{Kubectl: k, Spec: s, Log: slog.New(slog.DiscardHandler), Poll: time.Millisecond, Limit: 300 * time.Millisecond}
		res, err := c.Run(t.Context())
		return k, err, func() report.MeshResult { return res }
	}

	t.Run("proxyless", func(t *testing.T) {
		m := &fakeMesh{share: map[string]int{"v1": 90, "v2": 10}, delay: 200 * time.Millisecond, metrics: string(metrics), mtls: "STRICT"}
		k := m.kubectl()
		c := Checker{Kubectl: k, Spec: spec, Log: slog.New(slog.DiscardHandler), Poll: time.Millisecond, Limit: 3 * time.Second}
		res, err := c.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if res.DataPlane != "proxyless gRPC: pilot-agent, no Envoy" || res.Split.Observed["v1"] != 1800 || res.Split.DeviationPts != 0 || res.Split.Calls != 2000 {
			t.Errorf("split %+v (%s)", res.Split, res.DataPlane)
		}
		if p := res.Plaintext; p.Mode != "STRICT" || p.Calls != 5 || p.Answered != 0 || p.Error != "connection reset by peer" ||
			p.Refusal != probe.RefusedByTLS || p.ControlPort != ControlPort || p.ControlAnswered != 5 {
			t.Errorf("plaintext %+v", p)
		}
		// Proxyless: the split counter also makes the plaintext calls (it
		// has no proxy), on the control port first.
		if len(m.plainPods) != 2 || m.plainPods[0] != "meshprobe-split-echo-a" || m.plainPods[1] != "meshprobe-split-echo-a" {
			t.Errorf("plaintext calls from %v", m.plainPods)
		}
		if res.ConvergenceRuns != 3 || res.Unconverged != 0 || res.ConvergenceP50 == nil ||
			*res.ConvergenceP50 < 190*time.Millisecond || *res.ConvergenceP99 > 400*time.Millisecond {
			t.Errorf("convergence: %d runs, %d unconverged, p50 %v p99 %v", res.ConvergenceRuns, res.Unconverged, res.ConvergenceP50, res.ConvergenceP99)
		}
		// T_first is reported too: the first answer from the new subset.
		if res.FirstP50 == nil || *res.FirstP50 < 190*time.Millisecond || *res.FirstP50 > *res.ConvergenceP50 ||
			res.FirstMax == nil || res.ConvergenceMax == nil || *res.ConvergenceMax < *res.ConvergenceP99 {
			t.Errorf("T_first p50 %v max %v, T_conv p50 %v max %v", res.FirstP50, res.FirstMax, res.ConvergenceP50, res.ConvergenceMax)
		}
		if res.Istiod == nil || res.Istiod.Error != "" {
			t.Errorf("istiod metric %+v", res.Istiod)
		}
		// Each run routes to the first subset, then to the last; the route is cleaned up.
		var routes []string
		for _, b := range k.applied {
			routes = append(routes, string(b))
		}
		if len(routes) != 6 || !strings.Contains(routes[0], `"subset":"v1"`) || !strings.Contains(routes[1], `"subset":"v2"`) {
			t.Errorf("routes applied: %v", routes)
		}
		cmds := k.commands()
		if last := cmds[len(cmds)-1]; last != "get --raw /api/v1/namespaces/istio-system/services/istiod:15014/proxy/metrics" {
			t.Errorf("last command %q", last)
		}
		if !slices.Contains(cmds, "--namespace demo delete virtualservice meshprobe-echo --ignore-not-found") {
			t.Errorf("the convergence route was not deleted: %v", cmds)
		}
	})

	// Clients whose clocks are seconds off this host's (and each other's):
	// each is timed on its own clock, so the figures are the same.
	t.Run("clocks that disagree", func(t *testing.T) {
		m := &fakeMesh{share: map[string]int{"v1": 90, "v2": 10}, delay: 200 * time.Millisecond, metrics: string(metrics),
			skew: map[string]time.Duration{"meshprobe-client-echo-a": 7 * time.Second, "meshprobe-client-echo-b": -4 * time.Second}}
		k := m.kubectl()
		c := Checker{Kubectl: k, Spec: spec, Log: slog.New(slog.DiscardHandler), Poll: time.Millisecond, Limit: 3 * time.Second}
		res, err := c.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if res.ConvergenceRuns != 3 || res.Unconverged != 0 || *res.ConvergenceP50 < 190*time.Millisecond || *res.ConvergenceMax > 500*time.Millisecond ||
			*res.FirstP50 < 190*time.Millisecond || res.T0Lead == nil || *res.T0Lead > 100*time.Millisecond {
			t.Errorf("convergence with skewed clocks: %d runs, %d unconverged, p50 %v max %v, first p50 %v, T0 lead %v",
				res.ConvergenceRuns, res.Unconverged, res.ConvergenceP50, res.ConvergenceMax, res.FirstP50, res.T0Lead)
		}
	})

	t.Run("sidecars", func(t *testing.T) {
		m := &fakeMesh{share: map[string]int{"v1": 50, "v2": 50}, answered: 5, delay: 50 * time.Millisecond, metrics: string(metrics)}
		s := spec
		s.Sidecars, s.MTLS, s.Weights = true, "STRICT", map[string]int{"v1": 90, "v2": 10}
		m.mtls = "PERMISSIVE" // the cluster says otherwise than the config: the cluster wins
		k, err, res := check(m, s)
		if err != nil {
			t.Fatal(err)
		}
		if r := res(); r.DataPlane != "Envoy sidecars" || r.Split.DeviationPts != 40 || r.Plaintext.Answered != 5 || r.Plaintext.Mode != "PERMISSIVE" {
			t.Errorf("sidecar result %+v, split %+v, plaintext %+v", r, r.Split, r.Plaintext)
		}
		// Behind sidecars, the plaintext calls come from the pod without one.
		if len(m.plainPods) != 2 || m.plainPods[0] != "meshprobe-plain-echo-a" {
			t.Errorf("plaintext calls from %v", m.plainPods)
		}
		if !slices.Contains(k.commands(), "--namespace demo rollout status deployment/meshprobe-plain-echo --timeout=300s") {
			t.Error("the plaintext client's rollout was not waited for")
		}
	})

	t.Run("clients never converge", func(t *testing.T) {
		m := &fakeMesh{share: map[string]int{"v1": 90, "v2": 10}, stuck: true, metrics: string(metrics)}
		_, err, _ := check(m, spec)
		if err == nil || !strings.Contains(err.Error(), "did not settle on v1") {
			t.Errorf("want a run that cannot settle to fail the checks, got %v", err)
		}
	})
}

// TestEffectiveMTLS: the namespace's policy without a selector wins, then
// the mesh-wide one, then Istio's default; UNSET inherits.
func TestEffectiveMTLS(t *testing.T) {
	list := func(items ...string) []byte { return []byte(`{"items":[` + strings.Join(items, ",") + `]}`) }
	pa := func(mode string, selector bool) string {
		sel := ""
		if selector {
			sel = `"selector":{"matchLabels":{"app":"a"}},`
		}
		return `{"spec":{` + sel + `"mtls":{"mode":"` + mode + `"}}}`
	}
	for name, c := range map[string]struct {
		ns, root []byte
		want     string
	}{
		"namespace":               {list(pa("DISABLE", true), pa("STRICT", false)), list(pa("PERMISSIVE", false)), "STRICT"},
		"mesh-wide":               {list(pa("UNSET", false)), list(pa("STRICT", false)), "STRICT"},
		"only a workload's":       {list(pa("STRICT", true)), list(), "PERMISSIVE"},
		"none":                    {list(), list(), "PERMISSIVE"},
		"namespace over the mesh": {list(pa("PERMISSIVE", false)), list(pa("STRICT", false)), "PERMISSIVE"},
	} {
		if got, err := EffectiveMTLS(c.ns, c.root); err != nil || got != c.want {
			t.Errorf("%s: %q %v, want %q", name, got, err, c.want)
		}
	}
	if _, err := EffectiveMTLS([]byte("<html>"), nil); err == nil {
		t.Error("not JSON was read")
	}
}
