package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/meshready/meshready/kube"
	"github.com/meshready/meshready/mesh/probe"
	"github.com/meshready/meshready/report"
)

// Move brings a namespace's workloads onto an istiod revision: Istio's
// canary upgrade, one namespace at a time. Deployments whose pods run
// without a proxy or with another revision's are restarted first and waited
// for, while meshready's probe watchers in the namespace (one per node, 100
// calls a second through the mesh) keep calling: their samples over that
// window are the traffic the move cost. Then the DaemonSets and
// StatefulSets (the watchers among them) are restarted and waited for.
type Move struct {
	Kubectl   kube.Kubectl
	Namespace string
	// Revision is where the pods go; From where they were ("" on joining:
	// nothing was in the mesh, no traffic is read).
	Revision, From string
	// Wait bounds each rollout of a move between revisions. A namespace
	// joining is not waited for: its workloads are the user's as they were,
	// restarted once (and offline, a pod given an Envoy sidecar never starts).
	Wait time.Duration
}

// MoveResult is what a move restarted and what its watchers saw.
type MoveResult struct {
	// Restarted are kind/name of every workload restarted, in order.
	Restarted []string
	// Traffic is the watchers' calls while the Deployments moved; nil
	// when none ran there (no probe in the namespace, or not a move).
	Traffic *report.MoveTraffic
}

// Run moves the namespace.
func (m Move) Run(ctx context.Context) (MoveResult, error) {
	var res MoveResult
	pods, err := m.Kubectl.Run(ctx, "--namespace", m.Namespace, "get", "pods", "-o", "json")
	if err != nil {
		return res, fmt.Errorf("namespace %s: list pods: %w", m.Namespace, err)
	}
	deployments, others, err := OffRevisionWorkloads(pods, m.Revision)
	if err != nil {
		return res, fmt.Errorf("%s: namespace %s: %w", m.Kubectl.Host(), m.Namespace, err)
	}
	var watchers []string
	var since map[string]time.Time
	if m.From != "" && m.From != m.Revision && len(deployments) > 0 {
		if watchers, err = WatcherPods(pods); err != nil {
			return res, fmt.Errorf("%s: namespace %s: %w", m.Kubectl.Host(), m.Namespace, err)
		}
		// A watcher that cannot tell its clock is left out, not the move stopped.
		since = map[string]time.Time{}
		for _, p := range slices.Clone(watchers) {
			var now struct {
				UnixNano int64 `json:"unixNano"`
			}
			if err := probeGet(ctx, m.Kubectl, m.Namespace, p, "/now", &now); err != nil || now.UnixNano <= 0 {
				watchers = slices.DeleteFunc(watchers, func(w string) bool { return w == p })
				continue
			}
			since[p] = time.Unix(0, now.UnixNano)
		}
	}
	if err := m.restart(ctx, "deployment", deployments, &res); err != nil {
		return res, err
	}
	if len(watchers) > 0 {
		samples := map[string][]probe.Sample{}
		for _, p := range watchers {
			var s []probe.Sample
			if err := probeGet(ctx, m.Kubectl, m.Namespace, p, "/samples?since="+fmt.Sprint(since[p].UnixNano()), &s); err != nil {
				return res, fmt.Errorf("namespace %s: watcher %s: %w", m.Namespace, p, err)
			}
			samples[p] = s
		}
		t := SummarizeMove(samples)
		res.Traffic = &t
	}
	for _, kind := range []string{"daemonset", "statefulset"} {
		var names []string
		for _, o := range others {
			if n, ok := strings.CutPrefix(o, kind+"/"); ok {
				names = append(names, n)
			}
		}
		if err := m.restart(ctx, kind, names, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// restart rolls out kind/names again and waits for each.
func (m Move) restart(ctx context.Context, kind string, names []string, res *MoveResult) error {
	if len(names) == 0 {
		return nil
	}
	// A pod's owner names what a tenant wrote: only a name a workload can
	// have is restarted (and it reaches kubectl as one argument either way).
	names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !dnsSubdomain.MatchString(n) || len(n) > 253 })
	if len(names) == 0 {
		return nil
	}
	args := []string{"--namespace", m.Namespace, "rollout", "restart"}
	for _, n := range names {
		args = append(args, kind+"/"+n)
	}
	if _, err := m.Kubectl.Run(ctx, args...); err != nil {
		return fmt.Errorf("namespace %s: rollout restart: %w", m.Namespace, err)
	}
	for _, n := range names {
		res.Restarted = append(res.Restarted, kind+"/"+n)
	}
	if m.Wait <= 0 || m.From == "" || m.From == m.Revision {
		return nil
	}
	for _, n := range names {
		if _, err := m.Kubectl.Run(ctx, "--namespace", m.Namespace, "rollout", "status", kind+"/"+n, "--timeout="+m.Wait.String()); err != nil {
			return fmt.Errorf("namespace %s: %s %s did not roll out within %s: %w", m.Namespace, kind, n, m.Wait, err)
		}
	}
	return nil
}

// WatcherPods names the Ready pods of meshready's probe watchers (the
// DaemonSets ProbeClient names) in `kubectl get pods -o json`.
func WatcherPods(podsJSON string) ([]string, error) {
	var list struct {
		Items []struct {
			Metadata struct {
				Name              string            `json:"name"`
				Labels            map[string]string `json:"labels"`
				DeletionTimestamp *string           `json:"deletionTimestamp"`
			} `json:"metadata"`
			Status conditions `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(podsJSON), &list); err != nil {
		return nil, fmt.Errorf("pods: %w", err)
	}
	var out []string
	for _, p := range list.Items {
		if strings.HasPrefix(p.Metadata.Labels["app"], ProbeClient("")) && p.Metadata.DeletionTimestamp == nil && p.Status.ready() {
			out = append(out, p.Metadata.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// SummarizeMove counts the watchers' calls: sent, failed, and the longest
// run of failures on any one watcher (from its first failed call to its
// next answer, or its last call).
func SummarizeMove(samples map[string][]probe.Sample) report.MoveTraffic {
	t := report.MoveTraffic{Errors: map[string]int{}}
	for _, name := range slices.Sorted(maps.Keys(samples)) {
		ss := samples[name]
		t.Clients = append(t.Clients, name)
		var failStart time.Time
		for i, s := range ss {
			t.Sent++
			if s.Err == "" {
				if !failStart.IsZero() {
					t.LongestSec = max(t.LongestSec, s.At.Sub(failStart).Seconds())
					failStart = time.Time{}
				}
				continue
			}
			t.Failed++
			t.Errors[grpcCode(s.Err)]++
			if failStart.IsZero() {
				failStart = s.At
			}
			if i == len(ss)-1 {
				t.LongestSec = max(t.LongestSec, s.At.Sub(failStart).Seconds())
			}
		}
		if len(ss) > 0 {
			t.Seconds = max(t.Seconds, ss[len(ss)-1].At.Sub(ss[0].At).Seconds())
		}
	}
	if len(t.Errors) == 0 {
		t.Errors = nil
	}
	return t
}

// grpcCode is the status code a gRPC error message names ("rpc error:
// code = Unavailable desc = ..."), or "other".
func grpcCode(err string) string {
	_, rest, ok := strings.Cut(err, "code = ")
	if !ok {
		return "other"
	}
	code, _, _ := strings.Cut(rest, " ")
	if code == "" {
		return "other"
	}
	return code
}
