package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/mesh/probe"
)

// Claim IDs, stable across versions so that gates and comparisons can key on them.
const (
	IDDiskEtcd        = "disk-etcd"
	IDDiskNVMe        = "disk-nvme"
	IDCPUSteal        = "cpu-steal"
	IDMeshConvergence = "mesh-convergence"
	IDEnvoyPerHop     = "envoy-per-hop"
	IDMTLSOverhead    = "mtls-overhead"
	// IDMTLSOverheadProxyless is the mTLS cost between proxyless gRPC pods:
	// measurable where no Envoy exists.
	IDMTLSOverheadProxyless = "mtls-overhead-proxyless"
	IDCanarySplit           = "canary-split"
	IDMTLSStrict            = "mtls-strict"
	IDNetworkRTT            = "network-rtt"
)

// isMeshClaim says whether a row is judged from the mesh measurements.
func isMeshClaim(id string) bool {
	switch id {
	case IDMeshConvergence, IDEnvoyPerHop, IDMTLSOverhead, IDMTLSOverheadProxyless, IDCanarySplit, IDMTLSStrict:
		return true
	}
	return false
}

// ClaimIDs is every claim in report order; Compare uses it to line regions up.
var ClaimIDs = []string{IDDiskEtcd, IDDiskNVMe, IDCPUSteal, IDMeshConvergence, IDEnvoyPerHop, IDMTLSOverhead, IDMTLSOverheadProxyless, IDCanarySplit, IDMTLSStrict, IDNetworkRTT}

// Fixed limits and sources. The guide's bands (2 ms standard VPS, 3 ms per hop,
// 5 s / 15 s convergence) are its own words; see shared/METHODS.md.
const (
	vpsReadFloor   = 2 * time.Millisecond
	perHopLimit    = 3 * time.Millisecond
	convergePass   = 5 * time.Second
	convergeFail   = 15 * time.Second
	mtlsPass       = 100 * time.Microsecond
	mtlsFail       = time.Millisecond
	srcEtcd        = "etcd docs: https://etcd.io/docs/v3.5/op-guide/hardware/ and https://etcd.io/docs/v3.5/faq/ (p99 fdatasync < 10 ms)"
	srcRead        = "project-chosen, mirroring the guide's 0.5 ms"
	srcSteal       = "project-chosen (METHODS.md)"
	srcConvergence = "the guide (2–5 s); FAIL bound project-chosen (METHODS.md)"
	srcPerHop      = "Istio perf docs: 1.20 publishes 0.228 ms p90 / 0.298 ms p99 for both sidecars at 1000 rps " +
		"(https://istio.io/v1.20/docs/ops/deployment/performance-and-scalability/); 1.9–1.15 published 2.65 ms p90 " +
		"(https://istio.io/v1.15/docs/ops/deployment/performance-and-scalability/); 3 ms bound from the guide"
	srcMTLS       = "project-chosen (no upstream source bounds \"negligible\")"
	srcProxyless  = srcMTLS + "; the same load (METHODS.md) between proxyless gRPC pods: gRPC's own TLS with Istio's workload certificates, no proxy on the path"
	srcRTT        = "project-chosen (informational; etcd tuning uses RTT, METHODS.md)"
	srcSplit      = "METHODS.md (canary split: a statistical test); confidence and minimum count project-chosen"
	srcStrict     = "Istio PeerAuthentication: STRICT accepts mTLS only (https://istio.io/latest/docs/reference/config/security/peer_authentication/)"
	noMeshDefault = "no service mesh data plane was measured in this run"
)

// proxylessMTLS is the mtls-overhead-proxyless row: p90 with STRICT mTLS
// minus p90 with mTLS disabled, both between proxyless gRPC pods.
func proxylessMTLS(m *MeshResult, why string) Claim {
	c := Claim{ID: IDMTLSOverheadProxyless, Claim: "mTLS overhead negligible (proxyless gRPC, no Envoy)",
		Threshold: fmt.Sprintf("p90 STRICT − DISABLE ≤ %s; WARN ≤ %s; FAIL above", ms(mtlsPass), ms(mtlsFail)), Source: srcProxyless}
	if m == nil || m.Latency == nil {
		c.Verdict, c.Why = benchmarks.NotMeasurable, why
		return c
	}
	lat := m.Latency
	mt, ok1 := lat.Run(benchmarks.VariantProxylessMTLS)
	pl, ok2 := lat.Run(benchmarks.VariantProxylessPlaintext)
	switch {
	case !ok1 || !ok2:
		c.Verdict, c.Why = benchmarks.NotMeasurable, "the proxyless gRPC runs were not made: they need meshready's probe image on the nodes (istio.proxylessChecks, the local stack)"
	case lat.ProxylessMTLSCostP90 == nil:
		c.Verdict, c.Why = benchmarks.NotMeasurable, lat.ProxylessUnavailable
	default:
		cost := *lat.ProxylessMTLSCostP90
		c.Measured = fmt.Sprintf("p90 %s: p90 %s with STRICT mTLS, %s with mTLS disabled (p99 %s and %s; %d qps, %d connections, %s per run, %s→%s, %s)",
			signed(cost), ms(mt.P90), ms(pl.P90), ms(mt.P99), ms(pl.P99), int(mt.RequestedQPS), mt.Connections, mt.Duration.Round(time.Second), lat.Client, lat.Server, mt.Version)
		if lat.SameNode {
			c.Measured += " (one node: no network hop)"
		}
		c.Verdict, c.Why = mtlsBand(cost)
	}
	return c
}

// mtlsBand judges an mTLS cost. A cost below −mtlsPass (mTLS faster than
// plaintext by more than the PASS band) shows that the runs' noise is larger
// than the band: such a run cannot earn a PASS, and says why.
func mtlsBand(cost time.Duration) (benchmarks.Verdict, string) {
	if cost < -mtlsPass {
		return benchmarks.NotMeasurable, fmt.Sprintf("mTLS measured %s faster than plaintext at p90: the runs' noise is larger than the %s band, "+
			"so they cannot show the overhead negligible; a longer benchmarks.meshLatency.duration on a quieter host can", ms(-cost), ms(mtlsPass))
	}
	return band(cost, mtlsPass, mtlsFail), ""
}

// signed is a duration in ms with its sign: +0.04 ms, -0.01 ms.
func signed(d time.Duration) string {
	if d < 0 {
		return ms(d)
	}
	return "+" + ms(d)
}

// diskErrors explains a missing disk measurement from what the benchmark recorded.
func diskErrors(n benchmarks.NodeResult, what string) string {
	if len(n.Disk.Errors) > 0 {
		return strings.Join(n.Disk.Errors, "; ")
	}
	return "no " + what + " result was recorded"
}

// diskEtcd checks etcd's own requirement: WAL fdatasync p99 under the limit.
// A suspiciously fast disk is WARN, never PASS: unflushed writes prove nothing.
func diskEtcd(n benchmarks.NodeResult, th config.Thresholds) Claim {
	lim := th.FdatasyncP99.D()
	c := Claim{ID: IDDiskEtcd, Claim: "the disk is fast enough for etcd's write-ahead log", Node: n.Node,
		Threshold: "fdatasync p99 < " + ms(lim), Source: srcEtcd}
	l := n.Disk.Fdatasync
	if l == nil || l.Samples == 0 {
		c.Verdict, c.Why = benchmarks.NotMeasurable, diskErrors(n, "fdatasync")
		return c
	}
	c.Measured = latencySummary(*l)
	switch {
	case l.P99 >= lim:
		c.Verdict, c.Why = benchmarks.Fail, fmt.Sprintf("p99 %s is at or above %s", ms(l.P99), ms(lim))
		if n.Disk.FlushSuspect != "" {
			c.Why += ", even though flushes may not be honoured (" + n.Disk.FlushSuspect + ")"
		}
	case n.Disk.FlushSuspect != "":
		c.Verdict, c.Why = benchmarks.Warn, "suspiciously fast, flushes may not be honoured: "+n.Disk.FlushSuspect
	default:
		c.Verdict, c.Why = benchmarks.Pass, fmt.Sprintf("p99 %s is below %s", ms(l.P99), ms(lim))
	}
	return c
}

// diskNVMe checks the guide's "< 0.5 ms on NVMe (2–10 ms on a standard VPS)"
// with 4k QD1 random reads: WARN between the limit and 2 ms, FAIL from 2 ms.
func diskNVMe(n benchmarks.NodeResult, th config.Thresholds) Claim {
	lim := th.ReadP99.D()
	c := Claim{ID: IDDiskNVMe, Claim: "disk I/O latency < 0.5 ms on KVM/NVMe (2–10 ms on a standard VPS)", Node: n.Node,
		Threshold: fmt.Sprintf("4k QD1 randread p99 < %s; FAIL ≥ %s", ms(lim), ms(vpsReadFloor)), Source: srcRead}
	l := n.Disk.RandRead
	if l == nil || l.Samples == 0 {
		c.Verdict, c.Why = benchmarks.NotMeasurable, diskErrors(n, "random-read")
		return c
	}
	c.Measured = latencySummary(*l)
	switch {
	case l.P99 < lim:
		c.Verdict, c.Why = benchmarks.Pass, fmt.Sprintf("p99 %s is below %s", ms(l.P99), ms(lim))
	case l.P99 < vpsReadFloor:
		c.Verdict, c.Why = benchmarks.Warn, fmt.Sprintf("p99 %s is above the NVMe claim but below the guide's standard-VPS band", ms(l.P99))
	default:
		c.Verdict, c.Why = benchmarks.Fail, fmt.Sprintf("p99 %s is in the guide's standard-VPS band (≥ %s)", ms(l.P99), ms(vpsReadFloor))
	}
	return c
}

// cpuSteal judges loaded-phase steal: an idle guest reads 0 however busy the
// host is, and an unmeasurable 0 must never be reported as PASS.
func cpuSteal(n benchmarks.NodeResult, th config.Thresholds) Claim {
	c := Claim{ID: IDCPUSteal, Claim: "zero CPU steal on dedicated KVM", Node: n.Node,
		Threshold: fmt.Sprintf("loaded mean < %s and every per-CPU 1 s sample ≤ %s; FAIL mean > %s",
			pct(th.StealMeanPercent, 1), pct(th.StealMaxPercent, 1), pct(th.StealMaxPercent, 1)),
		Source: srcSteal}
	s := n.Steal
	if !s.Measurable {
		c.Verdict, c.Why = benchmarks.NotMeasurable, s.Evidence
		if c.Why == "" {
			c.Why = "steal reporting by the hypervisor could not be established"
		}
		return c
	}
	ld := s.Loaded.Stats
	if ld.Samples == 0 {
		c.Verdict, c.Why = benchmarks.NotMeasurable, "no loaded-phase samples were taken"
		if len(s.Errors) > 0 {
			c.Why += ": " + strings.Join(s.Errors, "; ")
		}
		return c
	}
	c.Measured = fmt.Sprintf("mean %s, p95 %s, max %s over %d per-CPU samples (idle mean %s)",
		pct(ld.MeanPercent, 2), pct(ld.P95Percent, 1), pct(ld.MaxPercent, 1), ld.Samples, pct(s.Idle.Stats.MeanPercent, 2))
	switch {
	case ld.MeanPercent < th.StealMeanPercent && ld.MaxPercent <= th.StealMaxPercent:
		c.Verdict, c.Why = benchmarks.Pass, "loaded steal within limits; steal reporting: "+s.Evidence
	case ld.MeanPercent > th.StealMaxPercent:
		c.Verdict, c.Why = benchmarks.Fail, fmt.Sprintf("loaded mean %s is above %s", pct(ld.MeanPercent, 2), pct(th.StealMaxPercent, 1))
	case ld.MeanPercent >= th.StealMeanPercent:
		c.Verdict, c.Why = benchmarks.Warn, fmt.Sprintf("loaded mean %s is not below %s", pct(ld.MeanPercent, 2), pct(th.StealMeanPercent, 1))
	default:
		c.Verdict, c.Why = benchmarks.Warn, fmt.Sprintf("a per-CPU sample reached %s, above %s", pct(ld.MaxPercent, 1), pct(th.StealMaxPercent, 1))
	}
	return c
}

// meshClaims gives the three region-wide mesh rows; absent data is NOT
// MEASURABLE with the reason, never a default PASS.
func meshClaims(m *MeshResult) []Claim {
	why := noMeshDefault
	if m != nil && m.Unavailable != "" {
		why = m.Unavailable
	}
	var conv, hop, mtls *time.Duration
	on := ""
	if m != nil {
		conv, hop, mtls = m.ConvergenceP99, m.PerHopP90, m.MTLSCost
		if m.DataPlane != "" {
			on = " (" + m.DataPlane + ")"
		}
	}
	c1 := Claim{ID: IDMeshConvergence, Claim: "mesh converge time 2–5 s (15–30 s)",
		Threshold: fmt.Sprintf("p99 convergence ≤ %s; FAIL > %s", secs(convergePass), secs(convergeFail)), Source: srcConvergence}
	switch {
	case conv == nil:
		c1.Verdict, c1.Why = benchmarks.NotMeasurable, why
	default:
		c1.Measured = "p99 " + secs(*conv)
		if m.ConvergenceP50 != nil {
			c1.Measured += ", p50 " + secs(*m.ConvergenceP50)
		}
		if m.ConvergenceMax != nil {
			c1.Measured += ", max " + secs(*m.ConvergenceMax)
		}
		if m.FirstP50 != nil && m.FirstP99 != nil && m.FirstMax != nil {
			c1.Measured += fmt.Sprintf(" (first answer from the new version: p50 %s, p99 %s, max %s)", secs(*m.FirstP50), secs(*m.FirstP99), secs(*m.FirstMax))
		}
		if m.ConvergenceRuns > 0 {
			c1.Measured += fmt.Sprintf(" over %d runs", m.ConvergenceRuns)
		}
		if m.T0Lead != nil {
			c1.Measured += fmt.Sprintf(", each timed on the client's own clock from T0 read on it (at most %s before the change)", secs(*m.T0Lead))
		}
		c1.Measured += on
		if is := m.Istiod; is != nil && is.Error == "" && is.Pushes > 0 {
			c1.Measured += fmt.Sprintf("; istiod's pilot_proxy_convergence_time over %d pushes: p50 %s, p99 %s", is.Pushes, is.P50, is.P99)
		}
		c1.Verdict = band(*conv, convergePass, convergeFail)
		if m.Unconverged > 0 {
			c1.Verdict, c1.Why = benchmarks.Fail, fmt.Sprintf("%d of %d runs had not converged at the run's limit", m.Unconverged, m.ConvergenceRuns)
		}
	}
	latWhy, base, runs := why, "", ""
	if m != nil && m.Latency != nil {
		lat := m.Latency
		if lat.Unavailable != "" {
			latWhy = lat.Unavailable
		}
		if b, ok := lat.Run(benchmarks.VariantBaseline); ok {
			runs = fmt.Sprintf("%d qps, %d connections, %s per run, %s→%s", int(b.RequestedQPS), b.Connections, b.Duration.Round(time.Second), lat.Client, lat.Server)
			if lat.SameNode {
				runs += " (one node: no network hop)"
			}
			if lat.DataPlane != "" {
				runs += ", " + lat.DataPlane
			}
			if b.Problem() == "" {
				base = fmt.Sprintf("baseline without a mesh p50 %s, p90 %s, p99 %s", ms(b.P50), ms(b.P90), ms(b.P99))
			}
		}
	}
	c2 := Claim{ID: IDEnvoyPerHop, Claim: "an Envoy proxy adds 2–3 ms per hop",
		Threshold: "p90 added per hop ≤ " + ms(perHopLimit) + "; FAIL above", Source: srcPerHop}
	if hop == nil {
		c2.Verdict, c2.Why = benchmarks.NotMeasurable, latWhy
		if base != "" {
			c2.Measured = base + " (" + runs + ")"
		}
	} else {
		c2.Measured = "p90 " + ms(*hop) + " per hop"
		if *hop < 0 {
			c2.Measured = "p90 " + ms(*hop) + " per hop (below the baseline: within noise)"
		}
		if m.Latency != nil {
			if mt, ok := m.Latency.Run(benchmarks.VariantMTLS); ok && m.Latency.PerHopP99 != nil {
				c2.Measured += fmt.Sprintf(" (p99 %s); p90 %s with sidecars and mTLS, %s (%s)", ms(*m.Latency.PerHopP99), ms(mt.P90), base, runs)
			}
		}
		c2.Verdict = band(*hop, perHopLimit, perHopLimit)
	}
	c3 := Claim{ID: IDMTLSOverhead, Claim: "mTLS overhead negligible on fast CPUs",
		Threshold: fmt.Sprintf("p90 STRICT − DISABLE ≤ %s; WARN ≤ %s; FAIL above", ms(mtlsPass), ms(mtlsFail)), Source: srcMTLS}
	if mtls == nil {
		c3.Verdict, c3.Why = benchmarks.NotMeasurable, latWhy
	} else {
		c3.Measured = "p90 +" + ms(*mtls)
		if m.Latency != nil {
			mt, ok1 := m.Latency.Run(benchmarks.VariantMTLS)
			pl, ok2 := m.Latency.Run(benchmarks.VariantPlaintext)
			if ok1 && ok2 {
				c3.Measured += fmt.Sprintf(": p90 %s with STRICT, %s with mTLS disabled (%s)", ms(mt.P90), ms(pl.P90), runs)
			}
		}
		c3.Verdict, c3.Why = mtlsBand(*mtls)
	}
	c3p := proxylessMTLS(m, latWhy)
	c4 := Claim{ID: IDCanarySplit, Claim: "canary traffic follows the VirtualService weights",
		Threshold: fmt.Sprintf("each subset's count within a two-sided binomial test at %g %% confidence (Bonferroni over subsets), n·w·(1−w) ≥ %g",
			splitConfidence*100, splitMinVariance),
		Source: srcSplit}
	if m == nil || m.Split == nil {
		c4.Verdict, c4.Why = benchmarks.NotMeasurable, why
	} else {
		sp := m.Split
		var detail string
		c4.Verdict, detail = splitTest(sp)
		c4.Measured = fmt.Sprintf("%s: %s of %d calls for weights %s, worst %.1f points off; %s%s",
			sp.Service, counts(sp.Observed), sp.Calls, counts(sp.Weights), sp.DeviationPts, detail, on)
		switch {
		case c4.Verdict == benchmarks.NotMeasurable:
			c4.Why = detail
		case c4.Verdict == benchmarks.Fail && sp.Errors > 0:
			c4.Why = fmt.Sprintf("%d calls failed: %s", sp.Errors, sp.FirstError)
		}
	}
	c5 := Claim{ID: IDMTLSStrict, Claim: "STRICT mTLS refuses plaintext clients",
		Threshold: "under STRICT, no plaintext call is answered, while the same client is answered where no mTLS is required", Source: srcStrict}
	switch pt := plaintextOf(m); {
	case pt == nil:
		c5.Verdict, c5.Why = benchmarks.NotMeasurable, why
	case pt.Mode != "STRICT":
		c5.Verdict, c5.Why = benchmarks.NotMeasurable, fmt.Sprintf("%s runs %s (read from the cluster), not STRICT", pt.Service, pt.Mode)
		c5.Measured = fmt.Sprintf("%d of %d plaintext calls answered", pt.Answered, pt.Calls)
	case pt.Answered > 0:
		c5.Measured = fmt.Sprintf("%s: %d of %d plaintext calls answered%s", pt.Service, pt.Answered, pt.Calls, on)
		c5.Verdict = benchmarks.Fail
	case pt.ControlAnswered == 0:
		// Without the positive control, a refusal could be a DNS failure or
		// a server not yet serving: it would prove nothing about STRICT.
		c5.Verdict = benchmarks.NotMeasurable
		c5.Why = fmt.Sprintf("the positive control failed: the same plaintext client got no answer on port %d, where no mTLS is required (%s)", pt.ControlPort, pt.ControlError)
	case pt.Refusal != probe.RefusedByTLS:
		c5.Verdict = benchmarks.NotMeasurable
		c5.Why = fmt.Sprintf("the plaintext calls failed without reaching a TLS listener (%s), so they do not show STRICT at work", pt.Error)
	default:
		c5.Verdict = benchmarks.Pass
		c5.Measured = fmt.Sprintf("%s: 0 of %d plaintext calls answered, each turned away by the server's TLS listener; the same client was answered %d of %d times on port %d, outside the policy%s",
			pt.Service, pt.Calls, pt.ControlAnswered, pt.ControlCalls, pt.ControlPort, on)
		c5.Why = "refused: " + pt.Error
	}
	return []Claim{c1, c2, c3, c3p, c4, c5}
}

// plaintextOf is m's plaintext result, nil when there is none.
func plaintextOf(m *MeshResult) *PlaintextResult {
	if m == nil {
		return nil
	}
	return m.Plaintext
}

// counts prints a map of subset to number sorted by subset: v1=90 v2=10.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// band is PASS up to pass, WARN up to fail, FAIL above (inclusive upper bounds).
func band(v, pass, fail time.Duration) benchmarks.Verdict {
	switch {
	case v <= pass:
		return benchmarks.Pass
	case v <= fail:
		return benchmarks.Warn
	}
	return benchmarks.Fail
}

// networkRTT lists node-to-node RTTs; it is informational and only warns on loss.
func networkRTT(nodes []benchmarks.NodeResult, network []benchmarks.RTT) Claim {
	c := Claim{ID: IDNetworkRTT, Claim: "node-to-node round trip time (informational)",
		Threshold: "p50/p99 listed; WARN on any packet loss", Source: srcRTT}
	switch {
	case len(nodes) < 2:
		c.Verdict, c.Why = benchmarks.NotMeasurable, fmt.Sprintf("%d node(s): no node-to-node path to measure", len(nodes))
		return c
	case len(network) == 0:
		c.Verdict, c.Why = benchmarks.NotMeasurable, "no RTT was measured between the nodes"
		return c
	}
	var parts, lossy []string
	for _, r := range network {
		p := fmt.Sprintf("%s→%s %s/%s", r.From, r.To, msNum(r.Latency.P50), ms(r.Latency.P99))
		if r.Loss != 0 {
			p += " (loss " + pct(r.Loss, 1) + ")"
			lossy = append(lossy, fmt.Sprintf("%s→%s %s", r.From, r.To, pct(r.Loss, 1)))
		}
		parts = append(parts, p)
	}
	c.Measured = "p50/p99: " + strings.Join(parts, "; ")
	if len(lossy) > 0 {
		c.Verdict, c.Why = benchmarks.Warn, "packet loss: "+strings.Join(lossy, ", ")
	} else {
		c.Verdict, c.Why = benchmarks.Pass, fmt.Sprintf("%d paths, no loss", len(network))
	}
	return c
}
