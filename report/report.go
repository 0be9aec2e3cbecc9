// Package report turns measured benchmark results into verdicts on the guide's
// hardware claims and renders them as JSON, Markdown and self-contained HTML.
// Every function here is pure: callers gather the data, report only judges and
// prints it, so the same inputs always give byte-identical output.
package report

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/config"
)

// Schema names the JSON layout of a Report; Read refuses any other so that a
// binary never silently misreads a file written by a different version.
const Schema = "meshready.report/v1"

// Report is one region's run: what was measured, the limits applied, and a
// verdict per claim. It is the unit written to disk and compared across regions.
type Report struct {
	Schema     string                  `json:"schema"`
	Region     string                  `json:"region"`
	Provider   string                  `json:"provider"`
	Generated  time.Time               `json:"generated"`
	Thresholds config.Thresholds       `json:"thresholds"`
	Nodes      []benchmarks.NodeResult `json:"nodes"`
	Network    []benchmarks.RTT        `json:"network"`
	Claims     []Claim                 `json:"claims"`
	Notes      []string                `json:"notes"`
	// Etcd is the etcd configuration bootstrap derived from these measurements,
	// each flag with why; empty until Kubernetes was bootstrapped.
	Etcd []EtcdFlag `json:"etcd,omitempty"`
	// Mesh is what the mesh checks measured (the mesh rows are judged from it).
	Mesh *MeshResult `json:"mesh,omitempty"`
	// Conformance is the last conformance run against the cluster.
	Conformance *Conformance `json:"conformance,omitempty"`
	// Upgrade is the cluster's last Kubernetes upgrade.
	Upgrade *Upgrade `json:"upgrade,omitempty"`
	// MeshUpgrade is the mesh's last Istio (revision) upgrade.
	MeshUpgrade *MeshUpgrade `json:"meshUpgrade,omitempty"`
	// History is the region's earlier bench runs with this one (bench only).
	History *History `json:"history,omitempty"`
	// PodNetwork is what the pod network costs over the nodes' own network.
	PodNetwork *PodNetwork `json:"podNetwork,omitempty"`
}

// PodNetwork is the round trip between every two nodes over their own
// addresses and over the pod network (flannel's VXLAN overlay), measured
// pair by pair one right after the other, so the difference is what the
// overlay costs.
type PodNetwork struct {
	// Kind is kubernetes.podNetwork: flannel or host-routes.
	Kind string   `json:"kind"`
	RTTs []PodRTT `json:"rtts"`
	// Notes say which pairs could not be measured and why.
	Notes []string `json:"notes,omitempty"`
}

// PodRTT is one pair: Node over the nodes' addresses, Pods to the other
// node's end of the pod network (its flannel.1 VTEP address, which only
// the overlay reaches).
type PodRTT struct {
	From     string             `json:"from"`
	To       string             `json:"to"`
	Node     benchmarks.Latency `json:"node"`
	Pods     benchmarks.Latency `json:"pods"`
	NodeLoss float64            `json:"nodeLossPercent"`
	PodsLoss float64            `json:"podsLossPercent"`
}

// EtcdFlag is one etcd flag meshready chose, and why.
type EtcdFlag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Why   string `json:"why"`
}

// Claim is one row of the verdict table: a claim from the guide, the limit it
// was held to and where that limit comes from, so a reader can dispute the
// source rather than the arithmetic.
type Claim struct {
	ID string `json:"id"`
	// Claim is the guide's words (or etcd's requirement) being checked.
	Claim string `json:"claim"`
	// Node is the node the row is about; "" means the row is region-wide.
	Node      string `json:"node"`
	Threshold string `json:"threshold"`
	// Source is a URL or document name; "project-chosen" where no upstream source publishes the limit.
	Source   string             `json:"source"`
	Measured string             `json:"measured"`
	Verdict  benchmarks.Verdict `json:"verdict"`
	Why      string             `json:"why,omitempty"`
}

// MeshResult is what a service-mesh measurement found (fortio overhead and
// convergence runs, METHODS.md). Nil fields were not measured; Unavailable says why.
type MeshResult struct {
	// DataPlane says what carried the traffic measured, e.g. "proxyless gRPC
	// (pilot-agent, no Envoy)"; it qualifies every mesh row.
	DataPlane string `json:"dataPlane,omitempty"`
	// ConvergenceP99 is the p99 time until every client sees only the new version.
	ConvergenceP99 *time.Duration `json:"convergenceP99,omitempty"`
	// ConvergenceP50 and ConvergenceRuns describe the same runs; Unconverged
	// counts runs that had not converged at the run's time limit.
	ConvergenceP50 *time.Duration `json:"convergenceP50,omitempty"`
	// ConvergenceMax is the slowest run's T_conv; FirstP50, FirstP99 and
	// FirstMax describe T_first, the first answer from the new version
	// (METHODS.md asks for both).
	ConvergenceMax *time.Duration `json:"convergenceMax,omitempty"`
	FirstP50       *time.Duration `json:"firstP50,omitempty"`
	FirstP99       *time.Duration `json:"firstP99,omitempty"`
	FirstMax       *time.Duration `json:"firstMax,omitempty"`
	// T0Lead is the most by which a run's T0, read on each client's own
	// clock just before the route change, came before the change was sent:
	// T_first and T_conv are each one client's clock minus the same clock's
	// T0, so no offset between clocks enters them, and each may be longer
	// than the truth by at most T0Lead.
	T0Lead          *time.Duration `json:"t0Lead,omitempty"`
	ConvergenceRuns int            `json:"convergenceRuns,omitempty"`
	Unconverged     int            `json:"unconverged,omitempty"`
	// Split is the canary split observed against its configured weights.
	Split *SplitResult `json:"split,omitempty"`
	// Plaintext is what a client without mTLS got from the mesh's servers.
	Plaintext *PlaintextResult `json:"plaintext,omitempty"`
	// PerHopP90 is (p90 with sidecars − p90 without) / 2.
	PerHopP90 *time.Duration `json:"perHopP90,omitempty"`
	// MTLSCost is p90 with STRICT mTLS − p90 with mTLS disabled.
	MTLSCost    *time.Duration `json:"mtlsCost,omitempty"`
	Unavailable string         `json:"unavailable,omitempty"`
	// Istiod is istiod's own convergence metric over the convergence runs.
	Istiod *IstiodConvergence `json:"istiod,omitempty"`
	// Latency is the fortio benchmark PerHopP90 and MTLSCost come from.
	Latency *benchmarks.MeshLatency `json:"latency,omitempty"`
}

// IstiodConvergence is what istiod's pilot_proxy_convergence_time histogram
// recorded while the convergence runs pushed routes: bucket bounds only
// ("≤ 0.1 s"), its lowest bucket is 0.1 s and includes istiod's debounce.
type IstiodConvergence struct {
	Pushes uint64 `json:"pushes"`
	P50    string `json:"p50,omitempty"`
	P99    string `json:"p99,omitempty"`
	// Error says why the metric could not be read.
	Error string `json:"error,omitempty"`
}

// SplitResult is a canary's observed traffic split.
type SplitResult struct {
	Service  string         `json:"service"`
	Weights  map[string]int `json:"weights"`
	Observed map[string]int `json:"observed"`
	Calls    int            `json:"calls"`
	Errors   int            `json:"errors"`
	// DeviationPts is the largest |observed share − weight| in percentage points.
	DeviationPts float64 `json:"deviationPts"`
	// TolerancePts is the largest deviation that passes.
	TolerancePts float64 `json:"tolerancePts"`
	FirstError   string  `json:"firstError,omitempty"`
}

// PlaintextResult is a plaintext client's calls to a mesh service.
type PlaintextResult struct {
	Service string `json:"service"`
	// Mode is the PeerAuthentication mode in force there, read from the
	// cluster (STRICT refuses plaintext).
	Mode     string `json:"mode"`
	Calls    int    `json:"calls"`
	Answered int    `json:"answered"`
	Error    string `json:"error,omitempty"`
	// Refusal classifies Error: "tls" (a TLS listener turned the call
	// away), "connect" (no server reached), "" (neither).
	Refusal string `json:"refusal,omitempty"`
	// The positive control: the same client, the same servers, on a port
	// no mTLS policy covers.
	ControlPort     int    `json:"controlPort,omitempty"`
	ControlCalls    int    `json:"controlCalls"`
	ControlAnswered int    `json:"controlAnswered"`
	ControlError    string `json:"controlError,omitempty"`
}

// Option adjusts Evaluate; it keeps Evaluate's signature stable while new
// measurement sources (mesh today, others later) are added.
type Option func(*options)

type options struct {
	mesh *MeshResult
}

// WithMesh supplies the service-mesh measurements; without it the mesh claims
// are NOT MEASURABLE rather than silently passing.
func WithMesh(m MeshResult) Option {
	return func(o *options) { o.mesh = &m }
}

// Evaluate judges every claim against th and returns the whole report. It is
// the single place verdicts are decided, so every renderer shows the same ones.
func Evaluate(region, provider string, nodes []benchmarks.NodeResult, network []benchmarks.RTT, th config.Thresholds, now time.Time, opts ...Option) Report {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if nodes == nil {
		nodes = []benchmarks.NodeResult{}
	}
	if network == nil {
		network = []benchmarks.RTT{}
	}
	th, notes := fillThresholds(th)
	r := Report{
		Schema: Schema, Region: region, Provider: provider, Generated: now.UTC(),
		Thresholds: th, Nodes: nodes, Network: network, Claims: []Claim{}, Notes: notes,
	}
	for _, n := range nodes {
		r.Claims = append(r.Claims, diskEtcd(n, th))
	}
	for _, n := range nodes {
		r.Claims = append(r.Claims, diskNVMe(n, th))
	}
	for _, n := range nodes {
		r.Claims = append(r.Claims, cpuSteal(n, th))
	}
	r.Mesh = o.mesh
	r.Claims = append(r.Claims, meshClaims(o.mesh)...)
	r.Claims = append(r.Claims, networkRTT(nodes, network))
	for _, n := range nodes {
		for _, e := range n.Errors {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: %s", n.Node, e))
		}
		for _, e := range n.Steal.Errors {
			r.Notes = append(r.Notes, fmt.Sprintf("%s: steal: %s", n.Node, e))
		}
	}
	return r
}

// fillThresholds replaces zero limits with the defaults (a zero limit would
// fail everything) and notes every limit that differs from its documented default.
func fillThresholds(th config.Thresholds) (config.Thresholds, []string) {
	def := config.Defaults().Benchmarks.Thresholds
	notes := []string{}
	fill := func(name string, zero bool, set func(), cur, dflt string) {
		if zero {
			set()
			notes = append(notes, fmt.Sprintf("threshold %s was not set; used the default %s", name, dflt))
		} else if cur != dflt {
			notes = append(notes, fmt.Sprintf("threshold %s is %s, not the default %s (METHODS.md)", name, cur, dflt))
		}
	}
	fill("fdatasyncP99", th.FdatasyncP99 <= 0, func() { th.FdatasyncP99 = def.FdatasyncP99 }, ms(th.FdatasyncP99.D()), ms(def.FdatasyncP99.D()))
	fill("readP99", th.ReadP99 <= 0, func() { th.ReadP99 = def.ReadP99 }, ms(th.ReadP99.D()), ms(def.ReadP99.D()))
	fill("stealMeanPercent", th.StealMeanPercent <= 0, func() { th.StealMeanPercent = def.StealMeanPercent },
		pct(th.StealMeanPercent, 2), pct(def.StealMeanPercent, 2))
	fill("stealMaxPercent", th.StealMaxPercent <= 0, func() { th.StealMaxPercent = def.StealMaxPercent },
		pct(th.StealMaxPercent, 2), pct(def.StealMaxPercent, 2))
	return th, notes
}

// thresholdsJSON is config.Thresholds on the wire: camelCase keys and durations
// as text ("10ms"), readable by humans and by Read.
type thresholdsJSON struct {
	FdatasyncP99     textDuration `json:"fdatasyncP99"`
	ReadP99          textDuration `json:"readP99"`
	StealMeanPercent float64      `json:"stealMeanPercent"`
	StealMaxPercent  float64      `json:"stealMaxPercent"`
}

// textDuration reads back what config.Duration writes (config has no unmarshaller).
type textDuration config.Duration

// MarshalJSON writes the duration as Go duration text.
func (d textDuration) MarshalJSON() ([]byte, error) { return json.Marshal(config.Duration(d).String()) }

// UnmarshalJSON reads Go duration text, refusing bare numbers whose unit would be a guess.
func (d *textDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("threshold duration: want text such as \"10ms\": %w", err)
	}
	v, err := config.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("threshold duration: %w", err)
	}
	*d = textDuration(v)
	return nil
}

// wireReport is Report with its thresholds in wire form; field order is the JSON order.
type wireReport struct {
	Schema      string                  `json:"schema"`
	Region      string                  `json:"region"`
	Provider    string                  `json:"provider"`
	Generated   time.Time               `json:"generated"`
	Thresholds  thresholdsJSON          `json:"thresholds"`
	Nodes       []benchmarks.NodeResult `json:"nodes"`
	Network     []benchmarks.RTT        `json:"network"`
	Claims      []Claim                 `json:"claims"`
	Notes       []string                `json:"notes"`
	Etcd        []EtcdFlag              `json:"etcd,omitempty"`
	Mesh        *MeshResult             `json:"mesh,omitempty"`
	Conformance *Conformance            `json:"conformance,omitempty"`
	Upgrade     *Upgrade                `json:"upgrade,omitempty"`
	MeshUpgrade *MeshUpgrade            `json:"meshUpgrade,omitempty"`
	History     *History                `json:"history,omitempty"`
	PodNetwork  *PodNetwork             `json:"podNetwork,omitempty"`
}

// MarshalJSON writes thresholds as text durations, matching the stack file's spelling.
func (r Report) MarshalJSON() ([]byte, error) {
	t := r.Thresholds
	return json.Marshal(wireReport{
		Schema: r.Schema, Region: r.Region, Provider: r.Provider, Generated: r.Generated,
		Thresholds: thresholdsJSON{textDuration(t.FdatasyncP99), textDuration(t.ReadP99), t.StealMeanPercent, t.StealMaxPercent},
		Nodes:      r.Nodes, Network: r.Network, Claims: r.Claims, Notes: r.Notes, Etcd: r.Etcd, Mesh: r.Mesh,
		Conformance: r.Conformance, Upgrade: r.Upgrade, MeshUpgrade: r.MeshUpgrade, History: r.History,
		PodNetwork: r.PodNetwork,
	})
}

// UnmarshalJSON reads what MarshalJSON writes, so Read round-trips a report exactly.
func (r *Report) UnmarshalJSON(b []byte) error {
	var w wireReport
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Report{
		Schema: w.Schema, Region: w.Region, Provider: w.Provider, Generated: w.Generated,
		Thresholds: config.Thresholds{
			FdatasyncP99: config.Duration(w.Thresholds.FdatasyncP99), ReadP99: config.Duration(w.Thresholds.ReadP99),
			StealMeanPercent: w.Thresholds.StealMeanPercent, StealMaxPercent: w.Thresholds.StealMaxPercent,
		},
		Nodes: w.Nodes, Network: w.Network, Claims: w.Claims, Notes: w.Notes, Etcd: w.Etcd, Mesh: w.Mesh,
		Conformance: w.Conformance, Upgrade: w.Upgrade, MeshUpgrade: w.MeshUpgrade, History: w.History,
		PodNetwork: w.PodNetwork,
	}
	return nil
}

// WithMeshResult returns r with the mesh measurements m and its mesh rows
// judged again from them; every other row is kept.
func WithMeshResult(r Report, m MeshResult) Report {
	// The latency benchmark reports on its own (WithMeshLatency): keep
	// what it found when the checks report again without it.
	if r.Mesh != nil && r.Mesh.Latency != nil && m.Latency == nil {
		m.Latency, m.PerHopP90, m.MTLSCost = r.Mesh.Latency, r.Mesh.PerHopP90, r.Mesh.MTLSCost
	}
	r.Mesh = &m
	var claims []Claim
	at := -1
	for _, c := range r.Claims {
		if isMeshClaim(c.ID) {
			if at < 0 {
				at = len(claims)
			}
			continue
		}
		claims = append(claims, c)
	}
	if at < 0 {
		at = len(claims)
		for i, c := range claims {
			if c.ID == IDNetworkRTT {
				at = i
				break
			}
		}
	}
	mesh := meshClaims(&m)
	r.Claims = append(append(append([]Claim{}, claims[:at]...), mesh...), claims[at:]...)
	return r
}

// WithMeshLatency returns r with the latency benchmark's result (judged
// first, benchmarks.MeshLatency.Judge) and its mesh rows judged again; what
// the proxyless checks found stays.
func WithMeshLatency(r Report, lat benchmarks.MeshLatency) Report {
	lat = lat.Judge()
	m := MeshResult{}
	if r.Mesh != nil {
		m = *r.Mesh
	}
	m.Latency, m.PerHopP90, m.MTLSCost = &lat, lat.PerHopP90, lat.MTLSCostP90
	return WithMeshResult(r, m)
}
