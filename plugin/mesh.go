package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/kube"
	"github.com/meshready/meshready/mesh"
)

// preflights serve contract.Preflight: the images imported on every node
// (local stacks), then mesh.Preflight; again in place on a change.
type preflights struct {
	noop[contract.PreflightInputs, contract.PreflightOutputs]
	nodes nodeDialer
	log   *slog.Logger
}

func (preflights) id(contract.PreflightInputs) string { return "preflight" }

func (p preflights) run(ctx context.Context, in contract.PreflightInputs) (contract.PreflightOutputs, error) {
	out := contract.PreflightOutputs{PreflightInputs: in}
	nodes, closeAll, err := p.nodes.all(ctx, in.Nodes, in.Access)
	if err != nil {
		return out, fmt.Errorf("mesh preflight: %w", err)
	}
	defer closeAll()
	if len(in.Images) > 0 {
		images := make([]bootstrap.BundleImage, len(in.Images))
		for i, im := range in.Images {
			images[i] = bootstrap.BundleImage{Ref: im.Ref, Tarball: im.Tarball}
		}
		for _, n := range nodes {
			p.log.InfoContext(ctx, "importing mesh images", "host", n.Name, "images", len(images))
			if err := bootstrap.ImportImages(ctx, n, images); err != nil {
				return out, fmt.Errorf("mesh preflight: %w", err)
			}
		}
	}
	cp, err := firstControlPlane(nodes)
	if err != nil {
		return out, fmt.Errorf("mesh preflight: %w", err)
	}
	out.KubernetesVersion, err = mesh.Preflight(ctx, kube.OnNode{Runner: cp.Runner}, in.IstioVersion)
	return out, err
}

// injections serve contract.Injection: mesh.RestartOffRevision when the
// namespace joins and when its revision changes.
type injections struct {
	noop[contract.InjectionInputs, contract.InjectionOutputs]
	nodes nodeDialer
	log   *slog.Logger
}

// rolloutWait bounds each restarted Deployment's rollout.
const rolloutWait = 5 * time.Minute

func (j injections) create(ctx context.Context, in contract.InjectionInputs) (string, contract.InjectionOutputs, error) {
	out, err := j.restart(ctx, in, "")
	return in.Namespace, out, err
}

// update moves the namespace to its new revision (an Istio upgrade).
func (j injections) update(ctx context.Context, _ string, old contract.InjectionOutputs, in contract.InjectionInputs) (contract.InjectionOutputs, error) {
	return j.restart(ctx, in, old.Revision)
}

func (j injections) restart(ctx context.Context, in contract.InjectionInputs, from string) (contract.InjectionOutputs, error) {
	out := contract.InjectionOutputs{InjectionInputs: in, From: from}
	cp, done, err := j.nodes.controlPlane(ctx, in.Nodes, in.Access)
	if err != nil {
		return out, fmt.Errorf("namespace %s: %w", in.Namespace, err)
	}
	defer done()
	j.log.InfoContext(ctx, "moving the namespace's workloads to the revision", "namespace", in.Namespace, "from", from, "revision", in.Revision, "host", cp.Name)
	start := time.Now()
	res, err := mesh.Move{Kubectl: kube.OnNode{Runner: cp.Runner}, Namespace: in.Namespace, Revision: in.Revision, From: from, Wait: rolloutWait}.Run(ctx)
	out.Restarted, out.Traffic = res.Restarted, res.Traffic
	out.Seconds = time.Since(start).Round(100 * time.Millisecond).Seconds()
	if err != nil {
		return out, err
	}
	if len(out.Restarted) > 0 {
		j.log.InfoContext(ctx, "restarted workloads onto the revision", "namespace", in.Namespace, "revision", in.Revision,
			"workloads", out.Restarted, "took", time.Duration(out.Seconds*float64(time.Second)).String())
	}
	if t := out.Traffic; t != nil {
		j.log.InfoContext(ctx, "probe watchers during the move", "namespace", in.Namespace, "sent", t.Sent, "failed", t.Failed, "longestFailingSec", t.LongestSec)
	}
	return out, nil
}

// delete takes the namespace out of the mesh (mesh.LeaveMesh), never
// deleting it. Best effort: a cluster that cannot be reached (being
// destroyed) must not block the destroy.
func (j injections) delete(ctx context.Context, _ string, in contract.InjectionInputs, _ contract.InjectionOutputs) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cp, done, err := j.nodes.controlPlane(ctx, in.Nodes, in.Access)
	if err == nil {
		defer done()
		err = mesh.LeaveMesh(ctx, kube.OnNode{Runner: cp.Runner}, in.Namespace)
	}
	if err != nil {
		j.log.WarnContext(ctx, "could not take the namespace out of the mesh", "namespace", in.Namespace, "err", err)
	}
	return nil
}

// webhooks serve contract.Webhooks: mesh.ValidationWait; again when the
// revision changes.
type webhooks struct {
	noop[contract.WebhooksInputs, contract.WebhooksOutputs]
	nodes nodeDialer
	log   *slog.Logger
}

// validationWait bounds the wait for a new istiod's webhook.
const validationWait = 3 * time.Minute

func (webhooks) id(in contract.WebhooksInputs) string { return "validation-" + in.Revision }

func (w webhooks) run(ctx context.Context, in contract.WebhooksInputs) (contract.WebhooksOutputs, error) {
	out := contract.WebhooksOutputs{WebhooksInputs: in}
	cp, done, err := w.nodes.controlPlane(ctx, in.Nodes, in.Access)
	if err != nil {
		return out, fmt.Errorf("istio webhooks: %w", err)
	}
	defer done()
	w.log.InfoContext(ctx, "waiting for Istio's validation webhook to answer", "revision", in.Revision, "host", cp.Name)
	took, err := mesh.ValidationWait{Kubectl: kube.OnNode{Runner: cp.Runner}, Revision: in.Revision, Timeout: validationWait}.Run(ctx)
	out.Seconds = took.Round(100 * time.Millisecond).Seconds()
	if err != nil {
		return out, err
	}
	w.log.InfoContext(ctx, "Istio's validation webhook answers", "revision", in.Revision, "took", took.Round(100*time.Millisecond).String())
	return out, nil
}

// checks serve contract.Checks: a mesh.Checker per canary; again in place
// on a change.
type checks struct {
	noop[contract.ChecksInputs, contract.ChecksOutputs]
	nodes nodeDialer
	log   *slog.Logger
}

func (checks) id(in contract.ChecksInputs) string { return in.Namespace + "-" + in.Service }

func (c checks) run(ctx context.Context, in contract.ChecksInputs) (contract.ChecksOutputs, error) {
	out := contract.ChecksOutputs{ChecksInputs: in}
	cp, done, err := c.nodes.controlPlane(ctx, in.Nodes, in.Access)
	if err != nil {
		return out, fmt.Errorf("mesh checks: %w", err)
	}
	defer done()
	chk := mesh.Checker{Kubectl: kube.OnNode{Runner: cp.Runner}, Log: c.log, Spec: mesh.CheckSpec{
		Namespace: in.Namespace, Service: in.Service, Weights: in.Weights, MTLS: in.MTLS,
		Calls: in.Calls, Runs: in.Runs, TolerancePts: in.TolerancePts, Sidecars: in.Sidecars, Revision: in.Revision,
	}}
	if out.Results, err = chk.Run(ctx); err != nil {
		return out, fmt.Errorf("mesh checks of %s/%s: %w", in.Namespace, in.Service, err)
	}
	return out, nil
}

// latencies serve contract.Latency: mesh.Latency; again in place on a
// change; on delete, what a killed run left is removed.
type latencies struct {
	noop[contract.LatencyInputs, contract.LatencyOutputs]
	nodes nodeDialer
	log   *slog.Logger
}

func (latencies) id(contract.LatencyInputs) string { return "latency" }

func (l latencies) run(ctx context.Context, in contract.LatencyInputs) (contract.LatencyOutputs, error) {
	out := contract.LatencyOutputs{LatencyInputs: in}
	d, err := time.ParseDuration(in.Duration)
	if err != nil {
		return out, fmt.Errorf("mesh latency: duration %q: %w", in.Duration, err)
	}
	cp, done, err := l.nodes.controlPlane(ctx, in.Nodes, in.Access)
	if err != nil {
		return out, fmt.Errorf("mesh latency: %w", err)
	}
	defer done()
	m := mesh.Latency{Kubectl: kube.OnNode{Runner: cp.Runner}, Log: l.log, Spec: mesh.LatencySpec{
		Sidecars: in.Sidecars, NoSidecars: in.NoSidecars, Image: in.Image, PullPolicy: in.PullPolicy,
		Proxyless: in.Proxyless, ProbeImage: in.ProbeImage, ProbePullPolicy: "Never",
		Load: mesh.LoadOptions{QPS: in.QPS, Connections: in.Connections, Duration: d, PayloadBytes: in.PayloadBytes},
	}}
	if out.Results, err = m.Measure(ctx); err != nil {
		return out, fmt.Errorf("mesh latency: %w", err)
	}
	return out, nil
}

// delete is best effort: a cluster that cannot be reached (being
// destroyed, its nodes gone) must not block the destroy.
func (l latencies) delete(ctx context.Context, _ string, in contract.LatencyInputs, _ contract.LatencyOutputs) error {
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cp, done, err := l.nodes.controlPlane(ctx, in.Nodes, in.Access)
	if err == nil {
		defer done()
		err = mesh.Latency{Kubectl: kube.OnNode{Runner: cp.Runner}}.Cleanup(ctx)
	}
	if err != nil {
		l.log.WarnContext(ctx, "could not check the cluster for latency namespaces left behind", "err", err)
	}
	return nil
}
