package benchmarks

import (
	"strings"
	"time"
)

// The mesh latency variants (METHODS.md, Istio's perf method): the same
// fortio client and server without a mesh, with sidecars and STRICT mTLS,
// and with sidecars and mTLS disabled.
const (
	VariantBaseline  = "baseline"
	VariantMTLS      = "mtls"
	VariantPlaintext = "plaintext"
	// The same load between proxyless gRPC pods (no Envoy: gRPC does the
	// xDS and the mTLS), with STRICT mTLS and with mTLS disabled.
	VariantProxylessMTLS      = "proxyless-mtls"
	VariantProxylessPlaintext = "proxyless-plaintext"
)

// MeshLatency is a region's mesh overhead benchmark: fortio runs between two
// fixed nodes, and what they say about the proxy and mTLS.
type MeshLatency struct {
	// Client and Server are the nodes fortio's client and server ran on.
	Client string `json:"client"`
	Server string `json:"server"`
	// SameNode says client and server shared the one schedulable node: the
	// figures then hold no network hop.
	SameNode bool `json:"sameNode,omitempty"`
	// DataPlane says what carried the sidecar variants ("Envoy sidecars"),
	// or is empty when only the baseline ran.
	DataPlane string    `json:"dataPlane,omitempty"`
	Runs      []LoadRun `json:"runs"`
	// PerHopP90 and PerHopP99 are (pXX(mtls) − pXX(baseline)) / 2: two
	// proxies sit on the path, one per hop.
	PerHopP90 *time.Duration `json:"perHopP90,omitempty"`
	PerHopP99 *time.Duration `json:"perHopP99,omitempty"`
	// MTLSCostP90 is p90(mtls) − p90(plaintext): what encryption adds.
	MTLSCostP90 *time.Duration `json:"mtlsCostP90,omitempty"`
	// ProxylessMTLSCostP90 is p90(proxyless-mtls) − p90(proxyless-plaintext):
	// what mTLS adds with no proxy on the path.
	ProxylessMTLSCostP90 *time.Duration `json:"proxylessMTLSCostP90,omitempty"`
	// ProxylessUnavailable says why ProxylessMTLSCostP90 is missing where
	// its runs were made but cannot be trusted (Judge fills it).
	ProxylessUnavailable string `json:"proxylessUnavailable,omitempty"`
	// NotRun says why variants were not run (no Envoy); Judge adds it to Unavailable.
	NotRun string `json:"notRun,omitempty"`
	// Unavailable says why a figure above is missing (Judge fills it).
	Unavailable string `json:"unavailable,omitempty"`
}

// Run returns the run of a variant, if there is one.
func (m MeshLatency) Run(variant string) (LoadRun, bool) {
	for _, r := range m.Runs {
		if r.Variant == variant {
			return r, true
		}
	}
	return LoadRun{}, false
}

// Judge fills the overhead figures from the runs; a figure whose runs are
// missing or untrustworthy (LoadRun.Problem) stays nil, and Unavailable
// says why (NotRun first). Judging again gives the same result.
func (m MeshLatency) Judge() MeshLatency {
	m.PerHopP90, m.PerHopP99, m.MTLSCostP90, m.ProxylessMTLSCostP90 = nil, nil, nil, nil
	m.ProxylessUnavailable = ""
	var why []string
	if m.NotRun != "" {
		why = append(why, m.NotRun)
	}
	usable := func(v string) (LoadRun, bool) {
		r, ok := m.Run(v)
		if !ok {
			return r, false
		}
		if p := r.Problem(); p != "" {
			why = append(why, p)
			return r, false
		}
		return r, true
	}
	base, okBase := usable(VariantBaseline)
	mtls, okMTLS := usable(VariantMTLS)
	plain, okPlain := usable(VariantPlaintext)
	if okBase && okMTLS {
		h90, h99 := (mtls.P90-base.P90)/2, (mtls.P99-base.P99)/2
		m.PerHopP90, m.PerHopP99 = &h90, &h99
	}
	if okMTLS && okPlain {
		c := mtls.P90 - plain.P90
		m.MTLSCostP90 = &c
	}
	m.Unavailable = strings.Join(why, "; ")
	// The proxyless runs, judged apart: their problems are not the
	// sidecar figures' (and their absence says nothing).
	var pwhy []string
	proxyless := func(v string) (LoadRun, bool) {
		r, ok := m.Run(v)
		if ok {
			if p := r.Problem(); p != "" {
				pwhy = append(pwhy, p)
				return r, false
			}
		}
		return r, ok
	}
	pm, okPM := proxyless(VariantProxylessMTLS)
	pp, okPP := proxyless(VariantProxylessPlaintext)
	if okPM && okPP {
		c := pm.P90 - pp.P90
		m.ProxylessMTLSCostP90 = &c
	}
	m.ProxylessUnavailable = strings.Join(pwhy, "; ")
	return m
}
