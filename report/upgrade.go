package report

import (
	"fmt"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/traffic"
)

// Upgrade is the last Kubernetes upgrade of the region's cluster: the
// rollout node by node, and what it did to a steady load sent through the
// cluster while it ran.
type Upgrade struct {
	bootstrap.UpgradeResult
	// Traffic is the load's result; nil when it could not run (TrafficNote says why).
	Traffic     *traffic.Result `json:"traffic,omitempty"`
	TrafficNote string          `json:"trafficNote,omitempty"`
	// Error is why the rollout stopped ("" = it finished).
	Error string `json:"error,omitempty"`
}

// Target is the promise the load is held to: no failed request for a
// workload of two replicas with a PodDisruptionBudget.
func (u Upgrade) Target() (met bool, why string) {
	switch {
	case u.Traffic == nil:
		return false, "not measured: " + u.TrafficNote
	case u.Error != "":
		return false, "the upgrade did not finish: " + u.Error
	case u.Traffic.Sent == 0:
		return false, "no request was sent"
	case u.Traffic.Failed > 0:
		return false, "requests failed"
	}
	return true, "0 failed requests"
}

// MeshUpgrade is the last Istio upgrade of the region's mesh: a new istiod
// revision installed beside the old, the injected namespaces moved to it
// one at a time (their workloads restarted, the mesh checks run after
// each), the old revision removed.
type MeshUpgrade struct {
	// From and To are the istiod revisions.
	From string `json:"from"`
	To   string `json:"to"`
	// Namespaces are the moves, in order.
	Namespaces []NamespaceMove `json:"namespaces"`
}

// NamespaceMove is one namespace's move.
type NamespaceMove struct {
	Namespace string `json:"namespace"`
	// Restarted are the workloads restarted (kind/name).
	Restarted []string `json:"restarted"`
	Seconds   float64  `json:"seconds"`
	// Traffic is what meshready's probe watchers saw meanwhile (nil: no
	// probe runs in the namespace).
	Traffic *MoveTraffic `json:"traffic,omitempty"`
}

// MoveTraffic is the calls meshready's probe watchers (a DaemonSet, one
// per node, 100 calls a second each, proxyless gRPC through the mesh) made
// while a namespace's Deployments moved to the new revision.
type MoveTraffic struct {
	Clients    []string       `json:"clients"`
	Sent       int            `json:"sent"`
	Failed     int            `json:"failed"`
	Seconds    float64        `json:"seconds"`
	LongestSec float64        `json:"longestSec"`
	Errors     map[string]int `json:"errors,omitempty"`
}

// Target is the promise: no failed call while the namespaces moved.
func (u MeshUpgrade) Target() (met bool, why string) {
	sent, failed := 0, 0
	for _, n := range u.Namespaces {
		if n.Traffic != nil {
			sent += n.Traffic.Sent
			failed += n.Traffic.Failed
		}
	}
	switch {
	case sent == 0:
		return false, "not measured: no probe watcher ran in a moved namespace (istio.proxylessChecks or sidecarChecks with a canary there)"
	case failed > 0:
		return false, fmt.Sprintf("%d of %d calls failed", failed, sent)
	}
	return true, fmt.Sprintf("0 of %d calls failed", sent)
}
