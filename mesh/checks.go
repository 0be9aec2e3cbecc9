package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"sort"
	"time"

	"github.com/meshready/meshready/kube"
	"github.com/meshready/meshready/mesh/probe"
	"github.com/meshready/meshready/report"
)

// CheckSpec is what the mesh checks of one canary test.
type CheckSpec struct {
	Namespace, Service string
	Weights            map[string]int
	// MTLS is the PeerAuthentication mode in force in Namespace.
	MTLS string
	// Calls is how many calls the split check makes, Runs how many
	// convergence runs; TolerancePts is the split's allowed deviation.
	Calls, Runs  int
	TolerancePts float64
	// Sidecars: the probe runs behind Envoy sidecars, not proxyless.
	Sidecars bool
	// Revision is the istiod revision serving the namespace ("" for an
	// install without revisions), whose metrics the convergence check reads.
	Revision string
}

// Checker runs the mesh checks (METHODS.md: canary split, STRICT mTLS,
// convergence) against meshready's probe workloads, with kubectl. A check
// that finds the mesh wrong is a result; one that cannot run is an error.
type Checker struct {
	Kubectl kube.Kubectl
	Spec    CheckSpec
	Log     *slog.Logger
	// Poll is how often settling clients are asked again (250 ms when 0).
	Poll time.Duration
	// Limit bounds one convergence run (30 s, the FAIL band × 2, when 0).
	Limit time.Duration
}

// Run does the checks, one after the other, and returns what they found.
func (c Checker) Run(ctx context.Context) (report.MeshResult, error) {
	res := report.MeshResult{DataPlane: "proxyless gRPC: pilot-agent, no Envoy"}
	if c.Spec.Sidecars {
		res.DataPlane = "Envoy sidecars"
	}
	pods, err := c.waitForProbes(ctx)
	if err != nil {
		return res, err
	}
	if res.Split, err = c.split(ctx, pods.counter); err != nil {
		return res, err
	}
	if res.Plaintext, err = c.plaintext(ctx, pods.plain); err != nil {
		return res, err
	}
	if err := c.convergence(ctx, pods.clients, &res); err != nil {
		return res, err
	}
	res.Unavailable = "per-hop latency and the mTLS cost come from the fortio latency benchmark (benchmarks.meshLatency), which has not reported"
	if !c.Spec.Sidecars {
		res.Unavailable = "no Envoy binary exists offline: proxyless gRPC has no proxy hop, so per-hop latency and the mTLS cost of a proxy are not measurable here"
	}
	return res, nil
}

// probePods are the pods the checks call through.
type probePods struct {
	clients []string // one per node, for convergence
	counter string   // counts the split
	plain   string   // makes the plaintext calls: it has no proxy
}

func (c Checker) subsets() []string {
	out := make([]string, 0, len(c.Spec.Weights))
	for s := range c.Spec.Weights {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// waitForProbes waits for the probe workloads' rollouts and finds their pods.
func (c Checker) waitForProbes(ctx context.Context) (probePods, error) {
	s := c.Spec
	c.Log.Info("waiting for the probe workloads", "namespace", s.Namespace, "service", s.Service)
	var pods probePods
	rollouts := []string{"daemonset/" + ProbeClient(s.Service), "deployment/" + ProbeCounter(s.Service)}
	for _, sub := range c.subsets() {
		rollouts = append(rollouts, "deployment/"+s.Service+"-"+sub)
	}
	if s.Sidecars {
		rollouts = append(rollouts, "deployment/"+ProbePlain(s.Service))
	}
	for _, r := range rollouts {
		if _, err := c.Kubectl.Run(ctx, "--namespace", s.Namespace, "rollout", "status", r, "--timeout=300s"); err != nil {
			return pods, err
		}
	}
	var err error
	if pods.clients, err = c.ready(ctx, ProbeClient(s.Service)); err != nil {
		return pods, err
	}
	counters, err := c.ready(ctx, ProbeCounter(s.Service))
	if err != nil {
		return pods, err
	}
	// The plaintext client must have no proxy: proxyless pods do not
	// encrypt plain dials, but a sidecar would upgrade them to mTLS.
	pods.counter, pods.plain = counters[0], counters[0]
	if s.Sidecars {
		plain, err := c.ready(ctx, ProbePlain(s.Service))
		if err != nil {
			return pods, err
		}
		pods.plain = plain[0]
	}
	return pods, nil
}

// ready lists the Ready pods of app in the checked namespace.
func (c Checker) ready(ctx context.Context, app string) ([]string, error) {
	return readyPods(ctx, c.Kubectl, c.Spec.Namespace, app)
}

// client asks a probe client pod's HTTP API (see probeGet).
func (c Checker) client(ctx context.Context, pod, path string, v any) error {
	return probeGet(ctx, c.Kubectl, c.Spec.Namespace, pod, path, v)
}

// readyPods lists the Ready pods of app in namespace; none is an error.
func readyPods(ctx context.Context, k kube.Kubectl, namespace, app string) ([]string, error) {
	out, err := k.Run(ctx, "--namespace", namespace, "get", "pods", "-l", "app="+app, "-o", "json")
	if err != nil {
		return nil, err
	}
	pods, err := ReadyPods(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Host(), err)
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("%s: no ready %s pod in %s", k.Host(), app, namespace)
	}
	return pods, nil
}

// warmUp asks a probe client pod for 100 calls, every `every`, until all
// of them succeed (its xDS routes and, with STRICT, its certificates arrive
// after the pod is ready) or 2 minutes have passed (ok false); last is the
// last tally.
func warmUp(ctx context.Context, k kube.Kubectl, namespace, pod string, every time.Duration) (last probe.Split, ok bool, err error) {
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if err := probeGet(ctx, k, namespace, pod, "/count?n=100", &last); err != nil {
			return last, false, err
		}
		if last.Errors == 0 {
			return last, true, nil
		}
		if time.Now().After(deadline) {
			return last, false, nil
		}
		if err := sleep(ctx, every); err != nil {
			return last, false, err
		}
	}
}

// probeGet asks a probe client pod's HTTP API through the API server's pod
// proxy (a long-running request there: no API server timeout cuts a load)
// and decodes its JSON answer into v.
func probeGet(ctx context.Context, k kube.Kubectl, namespace, pod, path string, v any) error {
	out, err := k.Run(ctx, "get", "--raw", fmt.Sprintf("/api/v1/namespaces/%s/pods/%s:%d/proxy%s", namespace, pod, ProbeHTTPPort, path))
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("%s: probe client %s%s: %w", k.Host(), pod, path, err)
	}
	return nil
}

// split warms up until calls succeed (the client's xDS routes arrive after
// the pod is ready), then counts where Calls calls went.
func (c Checker) split(ctx context.Context, counter string) (*report.SplitResult, error) {
	s := c.Spec
	// Not warmed up in time: the split below counts the failures.
	sp, _, err := warmUp(ctx, c.Kubectl, s.Namespace, counter, time.Second)
	if err != nil {
		return nil, err
	}
	if err := c.client(ctx, counter, fmt.Sprintf("/count?n=%d", s.Calls), &sp); err != nil {
		return nil, err
	}
	r := &report.SplitResult{Service: s.Namespace + "/" + s.Service, Weights: s.Weights, Observed: sp.Versions,
		Calls: sp.Calls, Errors: sp.Errors, FirstError: sp.FirstError,
		DeviationPts: probe.Deviation(sp, s.Weights), TolerancePts: s.TolerancePts}
	c.Log.Info("canary split", "observed", sp.Versions, "calls", sp.Calls, "errors", sp.Errors, "deviation_pts", r.DeviationPts)
	return r, nil
}

// plaintext calls the service from a client with no xDS and no TLS: first
// on ControlPort, where nothing asks for mTLS (the positive control: the
// same client must be answered there, or a refusal below proves nothing),
// then on the mesh port. The mode in force is read from the cluster's
// PeerAuthentications, not from config, and a refusal is classified.
func (c Checker) plaintext(ctx context.Context, pod string) (*report.PlaintextResult, error) {
	s := c.Spec
	host := fmt.Sprintf("%s.%s.svc.cluster.local", s.Service, s.Namespace)
	mode, err := c.mtlsMode(ctx)
	if err != nil {
		return nil, err
	}
	var control, plain probe.Split
	if err := c.client(ctx, pod, "/plaintext?n=5&addr="+url.QueryEscape(fmt.Sprintf("%s:%d", host, ControlPort)), &control); err != nil {
		return nil, err
	}
	if err := c.client(ctx, pod, "/plaintext?n=5&addr="+url.QueryEscape(fmt.Sprintf("%s:%d", host, ProbePort)), &plain); err != nil {
		return nil, err
	}
	r := &report.PlaintextResult{Service: s.Namespace + "/" + s.Service, Mode: mode,
		Calls: plain.Calls, Answered: plain.Calls - plain.Errors, Error: plain.FirstError,
		Refusal:      probe.ClassifyRefusal(plain.FirstError),
		ControlPort:  ControlPort,
		ControlCalls: control.Calls, ControlAnswered: control.Calls - control.Errors, ControlError: control.FirstError}
	c.Log.InfoContext(ctx, "plaintext calls", "mode", mode, "answered", r.Answered, "of", plain.Calls, "refusal", r.Refusal,
		"control_answered", r.ControlAnswered, "of", control.Calls)
	if r.Mode == "STRICT" && r.Answered > 0 {
		c.Log.WarnContext(ctx, "STRICT mTLS answered plaintext calls", "service", r.Service, "answered", r.Answered)
	}
	return r, nil
}

// mtlsMode is the PeerAuthentication mode in force for the service's
// namespace, as the cluster has it (EffectiveMTLS).
func (c Checker) mtlsMode(ctx context.Context) (string, error) {
	ns, err := c.Kubectl.Run(ctx, "--namespace", c.Spec.Namespace, "get", "peerauthentications.security.istio.io", "-o", "json")
	if err != nil {
		return "", err
	}
	root, err := c.Kubectl.Run(ctx, "--namespace", "istio-system", "get", "peerauthentications.security.istio.io", "-o", "json")
	if err != nil {
		return "", err
	}
	mode, err := EffectiveMTLS([]byte(ns), []byte(root))
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.Kubectl.Host(), err)
	}
	return mode, nil
}

// EffectiveMTLS is the mTLS mode a namespace's workloads get from
// `kubectl get peerauthentications -o json` of the namespace and of the
// root namespace (istio-system): the namespace's policy without a
// selector, else the mesh-wide one, else Istio's default, PERMISSIVE
// (UNSET inherits).
func EffectiveMTLS(namespace, root []byte) (string, error) {
	mode := func(b []byte) (string, error) {
		var l struct {
			Items []struct {
				Spec struct {
					Selector *struct{} `json:"selector"`
					MTLS     struct {
						Mode string `json:"mode"`
					} `json:"mtls"`
				} `json:"spec"`
			} `json:"items"`
		}
		if err := json.Unmarshal(b, &l); err != nil {
			return "", fmt.Errorf("peerauthentications: not the JSON of a list")
		}
		for _, it := range l.Items {
			if m := it.Spec.MTLS.Mode; it.Spec.Selector == nil && m != "" && m != "UNSET" {
				return m, nil
			}
		}
		return "", nil
	}
	for _, b := range [][]byte{namespace, root} {
		m, err := mode(b)
		if err != nil || m != "" {
			return m, err
		}
	}
	return "PERMISSIVE", nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// bound says where quantile q of h lies, as a histogram can: "≤ 0.1 s".
func bound(h Histogram, q float64) string {
	b, ok := h.UpperBound(q)
	switch {
	case !ok:
		return ""
	case math.IsInf(b, 1):
		if len(h.Bounds) > 1 {
			return fmt.Sprintf("> %g s", h.Bounds[len(h.Bounds)-2])
		}
		return "unbounded"
	}
	return fmt.Sprintf("≤ %g s", b)
}
