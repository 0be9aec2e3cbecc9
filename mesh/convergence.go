package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/meshready/meshready/mesh/probe"
	"github.com/meshready/meshready/report"
)

// convergence moves a probe-owned route from the first subset to the last,
// Runs times; T_conv is when every client last began a whole second of
// answers from the new subset, T_first the first such answer. Each client
// is timed on its own clock: T0 is read on it (GET /now) just before the
// route changes, and its samples carry the same clock, so no offset
// between the clients' clocks and this host's enters the figures; the
// report says by how much T0 came before the change (T0Lead). Beside
// them, istiod's own pilot_proxy_convergence_time over the runs' pushes.
func (c Checker) convergence(ctx context.Context, clients []string, res *report.MeshResult) error {
	s := c.Spec
	subsets := c.subsets()
	from, to := subsets[0], subsets[len(subsets)-1]
	limit := c.Limit
	if limit == 0 {
		limit = 30 * time.Second
	}
	pushesBefore, metricsErr := c.istiodConvergence(ctx)
	var convs, firsts []time.Duration
	var lead time.Duration
	for i := 0; i < s.Runs; i++ {
		starts, _, err := c.nows(ctx, clients)
		if err != nil {
			return err
		}
		if err := c.route(ctx, from); err != nil {
			return err
		}
		if _, _, ok, err := c.settle(ctx, clients, starts, from, limit); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%s: convergence run %d: clients did not settle on %s within %s", c.Kubectl.Host(), i+1, from, limit)
		}
		t0s, read, err := c.nows(ctx, clients)
		if err != nil {
			return err
		}
		lead = max(lead, time.Since(read))
		if err := c.route(ctx, to); err != nil {
			return err
		}
		first, last, ok, err := c.settle(ctx, clients, t0s, to, limit)
		if err != nil {
			return err
		}
		res.ConvergenceRuns++
		if first >= 0 {
			firsts = append(firsts, first)
		}
		if !ok {
			res.Unconverged++
			convs = append(convs, limit)
			continue
		}
		convs = append(convs, last)
	}
	if res.ConvergenceRuns > 0 {
		res.T0Lead = &lead
	}
	if _, err := c.Kubectl.Run(ctx, "--namespace", s.Namespace, "delete", "virtualservice", ConvergenceService(s.Service), "--ignore-not-found"); err != nil {
		return err
	}
	res.Istiod = &report.IstiodConvergence{}
	pushes, err := c.istiodConvergence(ctx)
	if metricsErr == nil {
		metricsErr = err
	}
	if metricsErr == nil {
		pushes, metricsErr = pushes.Since(pushesBefore)
	}
	if metricsErr != nil {
		res.Istiod.Error = metricsErr.Error()
		c.Log.Info("istiod's convergence metric not read", "err", metricsErr)
	} else {
		res.Istiod.Pushes = pushes.Count
		res.Istiod.P50, res.Istiod.P99 = bound(pushes, 0.5), bound(pushes, 0.99)
		c.Log.Info("istiod convergence metric", "pushes", pushes.Count, "p50", res.Istiod.P50, "p99", res.Istiod.P99)
	}
	if len(firsts) > 0 {
		res.FirstP50, res.FirstP99, res.FirstMax = quantiles(firsts)
	}
	if len(convs) > 0 {
		var p50, p99 *time.Duration
		p50, p99, res.ConvergenceMax = quantiles(convs)
		res.ConvergenceP99, res.ConvergenceP50 = p99, p50
		c.Log.Info("convergence", "runs", len(convs), "p50", p50.Round(time.Millisecond).String(), "p99", p99.Round(time.Millisecond).String())
	}
	return nil
}

// nows reads each client's clock (GET /now), and returns when on this
// host the first read began.
func (c Checker) nows(ctx context.Context, pods []string) (map[string]time.Time, time.Time, error) {
	began := time.Now()
	out := map[string]time.Time{}
	for _, p := range pods {
		var now struct {
			UnixNano int64 `json:"unixNano"`
		}
		if err := c.client(ctx, p, "/now", &now); err != nil {
			return nil, began, err
		}
		if now.UnixNano <= 0 {
			return nil, began, fmt.Errorf("%s: probe client %s: no clock reading", c.Kubectl.Host(), p)
		}
		out[p] = time.Unix(0, now.UnixNano)
	}
	return out, began, nil
}

// route points the convergence Service at subset to (server-side apply).
func (c Checker) route(ctx context.Context, to string) error {
	b, err := json.Marshal(ConvergenceRoute(c.Spec.Service, c.Spec.Namespace, to))
	if err != nil {
		return err
	}
	return c.Kubectl.Apply(ctx, b, "--server-side", "--field-manager", "meshready-checks")
}

// samples reads every client's samples since its own T0.
func (c Checker) samples(ctx context.Context, pods []string, since map[string]time.Time) (map[string][]probe.Sample, error) {
	out := map[string][]probe.Sample{}
	for _, p := range pods {
		var s []probe.Sample
		if err := c.client(ctx, p, "/samples?since="+fmt.Sprint(since[p].UnixNano()), &s); err != nil {
			return nil, err
		}
		out[p] = s
	}
	return out, nil
}

// settle waits until every client gets only subset to over a whole second
// after its own since (its clock), and returns, each on its client's
// clock from its since, the earliest first answer from to (-1: none yet)
// and the latest time a client settled (ok false at the limit).
func (c Checker) settle(ctx context.Context, pods []string, since map[string]time.Time, to string, limit time.Duration) (first, last time.Duration, ok bool, err error) {
	poll := c.Poll
	if poll == 0 {
		poll = 250 * time.Millisecond
	}
	deadline := time.Now().Add(limit)
	for {
		all, err := c.samples(ctx, pods, since)
		if err != nil {
			return -1, 0, false, err
		}
		first, last, ok = -1, 0, true
		for _, p := range pods {
			f, conv, done := probe.Converged(all[p], since[p], to, time.Second)
			if d := f.Sub(since[p]); !f.IsZero() && (first < 0 || d < first) {
				first = d
			}
			if !done {
				ok = false
				break
			}
			last = max(last, conv.Sub(since[p]))
		}
		if ok || time.Now().After(deadline) {
			return first, last, ok, nil
		}
		if err := sleep(ctx, poll); err != nil {
			return first, last, false, err
		}
	}
}

// istiodConvergence reads istiod's pilot_proxy_convergence_time through
// the API server's service proxy (istiod's monitoring port).
func (c Checker) istiodConvergence(ctx context.Context) (Histogram, error) {
	svc := "istiod"
	if c.Spec.Revision != "" {
		svc += "-" + c.Spec.Revision
	}
	out, err := c.Kubectl.Run(ctx, "get", "--raw", "/api/v1/namespaces/"+SystemNamespace+"/services/"+svc+":15014/proxy/metrics")
	if err != nil {
		return Histogram{}, err
	}
	return ParseHistogram(out, ConvergenceMetric)
}

// quantiles are p50, p99 and the max of ds (not empty).
func quantiles(ds []time.Duration) (p50, p99, max *time.Duration) {
	a, _ := probe.Percentile(ds, 50)
	b, _ := probe.Percentile(ds, 99)
	c := slices.Max(ds)
	return &a, &b, &c
}
