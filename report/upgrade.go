package report

import (
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
