package report

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/meshready/meshready/benchmarks"
)

// view is a report flattened to display strings. Markdown and HTML both render
// it, so the two formats can never disagree on a number or its rounding.
type view struct {
	Title      string
	Generated  string
	Thresholds string
	Summary    string
	Counts     []verdictCount
	Claims     []claimRow
	Nodes      []nodeView
	Network    [][]string
	Notes      []string
	Etcd       [][]string
	// MeshLatency is the fortio runs, MeshLatencyInfo where they ran.
	MeshLatency     [][]string
	MeshLatencyInfo string
	// Conformance is the conformance run, if one was made: its verdict,
	// summary, and the failed and skipped tests.
	Conformance *conformanceView
	// History is the bench runs over time: a row per node and figure.
	History *historyView
	// Upgrade is the cluster's last Kubernetes upgrade.
	Upgrade *upgradeView
	// MeshUpgrade is the mesh's last Istio upgrade.
	MeshUpgrade *meshUpgradeView
	// PodNetwork is the node and pod network RTT of each pair.
	PodNetwork *podNetworkView
}

type podNetworkView struct {
	Info  string
	Rows  [][]string
	Notes []string
}

// podNetworkHeader heads the pod network table: a pair's RTT over the
// nodes' addresses, then over the pod network, and the difference.
var podNetworkHeader = []string{"From", "To", "node p50 (ms)", "node p99 (ms)", "pods p50 (ms)", "pods p99 (ms)", "overlay p50 (ms)", "pods loss"}

func buildPodNetwork(p *PodNetwork) *podNetworkView {
	v := &podNetworkView{Notes: p.Notes}
	switch p.Kind {
	case "flannel":
		v.Info = "flannel (VXLAN): each pair over the nodes' addresses, then to the other node's flannel.1 (VTEP) address, which only the overlay reaches; overlay = pods p50 - node p50"
	default:
		v.Info = p.Kind + ": pods reach other nodes' pods over host routes, without encapsulation"
	}
	for _, t := range p.RTTs {
		row := []string{t.From, t.To, dash(""), dash(""), dash(""), dash(""), dash(""), pct(t.PodsLoss, 1)}
		if t.Node.Samples > 0 {
			row[2], row[3] = msNum(t.Node.P50), msNum(t.Node.P99)
		}
		if t.Pods.Samples > 0 {
			row[4], row[5] = msNum(t.Pods.P50), msNum(t.Pods.P99)
		}
		if t.Node.Samples > 0 && t.Pods.Samples > 0 {
			row[6] = msNum(t.Pods.P50 - t.Node.P50)
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

type meshUpgradeView struct {
	Verdict, Class, Summary string
	Namespaces              [][]string
}

// meshUpgradeHeader heads the per-namespace table of an Istio upgrade.
var meshUpgradeHeader = []string{"Namespace", "Restarted", "Took (s)", "Calls during the move", "Failed", "Longest failing (s)"}

func buildMeshUpgrade(u *MeshUpgrade) *meshUpgradeView {
	met, why := u.Target()
	v := &meshUpgradeView{Verdict: "PASS", Class: "pass"}
	if !met {
		v.Verdict, v.Class = "FAIL", "fail"
		if strings.HasPrefix(why, "not measured") {
			v.Verdict, v.Class = "NOT MEASURED", "warn"
		}
	}
	total := 0.0
	for _, n := range u.Namespaces {
		total += n.Seconds
		row := []string{n.Namespace, strings.Join(n.Restarted, ", "), fmt.Sprintf("%.1f", n.Seconds), "—", "—", "—"}
		if t := n.Traffic; t != nil {
			row[3] = fmt.Sprintf("%d from %d watchers over %s", t.Sent, len(t.Clients), secondsText(t.Seconds))
			row[4] = strconv.Itoa(t.Failed)
			for _, k := range slices.Sorted(maps.Keys(t.Errors)) {
				row[4] += fmt.Sprintf(" (%d × %s)", t.Errors[k], k)
			}
			row[5] = fmt.Sprintf("%.2f", t.LongestSec)
		}
		v.Namespaces = append(v.Namespaces, row)
	}
	v.Summary = fmt.Sprintf("istiod revision %s → %s, %d namespaces moved one at a time in %s (the mesh checks ran after each; the old revision was removed); "+
		"target: 0 failed calls from meshready's probe watchers (100 a second from every node, proxyless gRPC through the mesh) while the workloads moved — %s",
		u.From, u.To, len(u.Namespaces), secondsText(total), why)
	return v
}

type upgradeView struct {
	Verdict, Class, Summary, Traffic string
	Nodes                            [][]string
	Windows                          [][]string
}

// upgradeHeader heads the per-node table of an upgrade.
var upgradeHeader = []string{"Node", "Role", "kubeadm upgrade (s)", "drain (s)", "kubelet to Ready (s)"}

// windowHeader heads the failure windows of an upgrade's load.
var windowHeader = []string{"From (s)", "To (s)", "Failed requests"}

func buildUpgrade(u *Upgrade) *upgradeView {
	met, why := u.Target()
	v := &upgradeView{Verdict: "PASS", Class: "pass"}
	if !met {
		v.Verdict, v.Class = "FAIL", "fail"
		if u.Traffic == nil {
			v.Verdict, v.Class = "NOT MEASURED", "warn"
		}
	}
	v.Summary = fmt.Sprintf("Kubernetes %s → %s, started %s, took %s; target: 0 failed requests to a workload of 2 replicas with a PodDisruptionBudget — %s",
		u.From, u.To, u.Started.UTC().Format("2006-01-02 15:04:05 UTC"), secondsText(u.Seconds), why)
	if u.Error != "" {
		v.Summary += ". The rollout stopped: " + u.Error
	}
	if t := u.Traffic; t != nil {
		v.Traffic = fmt.Sprintf("%d requests a second from each of %d nodes (%s) to %s for %s: %d sent, %d failed, longest window with failures %s, p99 %.1f ms, max %.1f ms",
			t.QPS, len(t.Clients), strings.Join(t.Clients, ", "), t.Target, secondsText(t.Seconds), t.Sent, t.Failed, secondsText(t.LongestSec), t.P99Ms, t.MaxMs)
		for _, k := range slices.Sorted(maps.Keys(t.Errors)) {
			v.Traffic += fmt.Sprintf("; %d × %s", t.Errors[k], k)
		}
		for _, w := range t.Windows {
			v.Windows = append(v.Windows, []string{fmt.Sprintf("%.2f", w.FromSec), fmt.Sprintf("%.2f", w.ToSec), strconv.Itoa(w.Failed)})
		}
	}
	for _, n := range u.Nodes {
		if n.Skipped {
			v.Nodes = append(v.Nodes, []string{n.Node, n.Role, "on " + u.To + " already", "—", "—"})
			continue
		}
		v.Nodes = append(v.Nodes, []string{n.Node, n.Role, fmt.Sprintf("%.1f", n.UpgradeSeconds), fmt.Sprintf("%.1f", n.DrainSeconds), fmt.Sprintf("%.1f", n.ReadySeconds)})
	}
	return v
}

func secondsText(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.2f s", s)
	}
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

type historyView struct {
	Info  string
	Rows  [][]string
	Worse []string
}

type conformanceView struct {
	Verdict, Class, Summary string
	Failed, Skipped         [][]string
}

// meshLatencyHeader heads the mesh latency table.
var meshLatencyHeader = []string{"Variant", "p50 (ms)", "p90 (ms)", "p99 (ms)", "p99.9 (ms)", "max (ms)", "calls", "OK", "qps"}

// etcdHeader heads the etcd tuning table.
var etcdHeader = []string{"Flag", "Value", "Why"}

type verdictCount struct {
	N              int
	Verdict, Class string
}

type claimRow struct {
	ID, Claim, Node, Threshold, Source, Measured, Verdict, Why, Class string
}

type fact struct{ Name, Value string }

type nodeView struct {
	Name, Heading, Run string
	Facts              []fact
	Disk               [][]string
	FlushSuspect       string
	DiskErrors         []string
	StealInfo          string
	StealMeasurable    bool
	StealWhy           string
	Steal              [][]string
	Work               string
}

// Column headers shared by both renderers.
var (
	latencyHeader = []string{"Test", "p50 (ms)", "p99 (ms)", "max (ms)", "N"}
	stealHeader   = []string{"Phase", "mean", "p95", "max", "per-CPU samples"}
	networkHeader = []string{"From", "To", "p50 (ms)", "p99 (ms)", "max (ms)", "N", "loss"}
)

func buildView(r Report) view {
	v := view{
		Title:     fmt.Sprintf("meshready hardware report: %s (%s)", dash(r.Region), dash(r.Provider)),
		Generated: r.Generated.UTC().Format("2006-01-02 15:04 UTC"),
		Thresholds: fmt.Sprintf("fdatasync p99 < %s · randread p99 < %s · loaded steal mean < %s, per-CPU max ≤ %s",
			ms(r.Thresholds.FdatasyncP99.D()), ms(r.Thresholds.ReadP99.D()),
			pct(r.Thresholds.StealMeanPercent, 1), pct(r.Thresholds.StealMaxPercent, 1)),
		Notes: r.Notes,
		Etcd:  etcdRows(r.Etcd),
	}
	count := map[benchmarks.Verdict]int{}
	for _, c := range r.Claims {
		count[c.Verdict]++
		node := c.Node
		if node == "" {
			node = "(region)"
		}
		v.Claims = append(v.Claims, claimRow{ID: c.ID, Claim: c.Claim, Node: node, Threshold: c.Threshold,
			Source: c.Source, Measured: dash(c.Measured), Verdict: string(c.Verdict), Why: c.Why, Class: verdictClass(c.Verdict)})
	}
	var parts []string
	for _, k := range []benchmarks.Verdict{benchmarks.Pass, benchmarks.Warn, benchmarks.Fail, benchmarks.NotMeasurable} {
		parts = append(parts, fmt.Sprintf("%d %s", count[k], k))
		v.Counts = append(v.Counts, verdictCount{count[k], string(k), verdictClass(k)})
	}
	v.Summary = strings.Join(parts, " · ")
	for _, n := range r.Nodes {
		v.Nodes = append(v.Nodes, buildNode(n))
	}
	for _, t := range r.Network {
		v.Network = append(v.Network, []string{t.From, t.To, msNum(t.Latency.P50), msNum(t.Latency.P99),
			msNum(t.Latency.Max), strconv.FormatInt(t.Latency.Samples, 10), pct(t.Loss, 1)})
	}
	if r.PodNetwork != nil {
		v.PodNetwork = buildPodNetwork(r.PodNetwork)
	}
	if r.Mesh != nil && r.Mesh.Latency != nil {
		lat := r.Mesh.Latency
		v.MeshLatencyInfo = fmt.Sprintf("fortio client on %s, server on %s", dash(lat.Client), dash(lat.Server))
		if lat.DataPlane != "" {
			v.MeshLatencyInfo += "; " + lat.DataPlane
		}
		if lat.Unavailable != "" {
			v.MeshLatencyInfo += "; " + lat.Unavailable
		}
		for _, r := range lat.Runs {
			v.MeshLatency = append(v.MeshLatency, []string{r.Variant, msNum(r.P50), msNum(r.P90), msNum(r.P99), msNum(r.P999), msNum(r.Max),
				strconv.FormatInt(r.Calls, 10), strconv.FormatInt(r.OK, 10), fmt.Sprintf("%.0f of %.0f", r.ActualQPS, r.RequestedQPS)})
		}
	}
	if h := r.History; h != nil && len(h.Runs) > 0 {
		v.History = &historyView{
			Info: fmt.Sprintf("%d benchmark runs of this region, %s to %s (UTC); a figure is WORSE when the last run's is over %.1f× the median of the earlier ones, or a verdict dropped since the run before",
				len(h.Runs), h.Runs[0].Format("2006-01-02 15:04"), h.Runs[len(h.Runs)-1].Format("2006-01-02 15:04"), WorseFactor),
			Rows: historyRows(h), Worse: h.Worse,
		}
	}
	if r.MeshUpgrade != nil {
		v.MeshUpgrade = buildMeshUpgrade(r.MeshUpgrade)
	}
	if r.Upgrade != nil {
		v.Upgrade = buildUpgrade(r.Upgrade)
	}
	if c := r.Conformance; c != nil {
		class := map[string]string{"PASS": "pass", "FAIL": "fail"}[c.Verdict()]
		if class == "" {
			class = "warn"
		}
		v.Conformance = &conformanceView{Verdict: c.Verdict(), Class: class, Summary: c.Summary(),
			Failed: conformanceRows(c.Failed), Skipped: conformanceRows(c.Skipped)}
	}
	return v
}

func latencyRow(name string, l *benchmarks.Latency) []string {
	if l == nil || l.Samples == 0 {
		return []string{name, "—", "—", "—", "not measured"}
	}
	return []string{name, msNum(l.P50), msNum(l.P99), msNum(l.Max), strconv.FormatInt(l.Samples, 10)}
}

func buildNode(n benchmarks.NodeResult) nodeView {
	d, s := n.Disk.Device, n.Steal
	nv := nodeView{
		Name:    n.Node,
		Heading: fmt.Sprintf("%s (%s, %s)", dash(n.Node), dash(n.Role), dash(n.Address)),
		Run:     fmt.Sprintf("started %s, took %s", n.Started.UTC().Format("2006-01-02 15:04:05 UTC"), n.Duration),
		Facts: []fact{{"directory", dash(d.Dir)}, {"mount source", dash(d.Source)}, {"filesystem", dash(d.FSType)},
			{"device", dash(d.Device)}, {"model", dash(d.Model)}, {"rotational", yesNo(d.Rotational)},
			{"write cache", dash(d.WriteCache)}},
		Disk: [][]string{latencyRow("fdatasync (etcd WAL, 2300 B)", n.Disk.Fdatasync),
			latencyRow("randread 4k QD1 O_DIRECT", n.Disk.RandRead)},
		FlushSuspect:    n.Disk.FlushSuspect,
		DiskErrors:      n.Disk.Errors,
		StealInfo:       fmt.Sprintf("virt %s, %d vCPUs; steal reporting: %s", dash(s.Virt), s.CPUs, dash(s.Evidence)),
		StealMeasurable: s.Measurable,
	}
	if !s.Measurable {
		nv.StealWhy = "NOT MEASURABLE: " + dash(s.Evidence) + " (0 would be meaningless, so no figures are shown)"
	} else {
		for _, p := range []struct {
			name string
			ph   benchmarks.StealPhase
		}{{"idle", s.Idle}, {"loaded", s.Loaded}} {
			st := p.ph.Stats
			nv.Steal = append(nv.Steal, []string{p.name, pct(st.MeanPercent, 2), pct(st.P95Percent, 1),
				pct(st.MaxPercent, 1), strconv.Itoa(st.Samples)})
		}
	}
	if len(s.WorkPerSecond) == 0 {
		nv.Work = "not recorded"
	} else {
		cpus := make([]int, 0, len(s.WorkPerSecond))
		for c := range s.WorkPerSecond {
			cpus = append(cpus, c)
		}
		sort.Ints(cpus)
		var w []string
		for _, c := range cpus {
			w = append(w, fmt.Sprintf("cpu%d %s/s", c, rate(s.WorkPerSecond[c])))
		}
		nv.Work = strings.Join(w, ", ") + "; spread (CV) " + pct(s.WorkSpreadPercent, 1)
	}
	return nv
}

func etcdRows(flags []EtcdFlag) [][]string {
	var rows [][]string
	for _, f := range flags {
		rows = append(rows, []string{"--" + f.Name, f.Value, f.Why})
	}
	return rows
}
