package report

import (
	"errors"
	"fmt"

	"github.com/meshready/meshready/benchmarks"
)

// GateError lists the claims that stop bootstrap: hardware that fails etcd's
// disk test or steals CPU under load makes an unstable cluster, so meshready
// refuses to build on it unless told otherwise (benchmarks.gate: false).
type GateError struct{ Failed []Claim }

func (e *GateError) Error() string {
	msg := "hardware gate: refusing to bootstrap Kubernetes on these nodes (set meshready:benchmarks.gate to false to go on anyway):"
	for _, c := range e.Failed {
		msg += fmt.Sprintf("\n  %s on %s: %s (threshold %s)", c.ID, c.Node, c.Measured, c.Threshold)
	}
	return msg
}

// Gate returns a *GateError when etcd's disk test or the loaded CPU steal test
// FAILs on any node; WARN and NOT MEASURABLE pass the gate, and say so in the report.
func Gate(r Report) error {
	var failed []Claim
	for _, c := range r.Claims {
		if (c.ID == IDDiskEtcd || c.ID == IDCPUSteal) && c.Verdict == benchmarks.Fail {
			failed = append(failed, c)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &GateError{Failed: failed}
}

// IsGate reports whether err is the hardware gate.
func IsGate(err error) bool {
	var g *GateError
	return errors.As(err, &g)
}
