package plugin

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/meshready/meshready/contract"
)

// A first control plane with a private address (a Hetzner server on the
// stack's network): Kubernetes runs on the private one, the kubeconfig and
// the certificate are for the public one. One address (local, static):
// both are it, and nothing public is added.
func TestPlanUsesTheInternalAddress(t *testing.T) {
	in := contract.ClusterInputs{Stack: "hel1", Provider: "hetzner", Version: "1.34.4", ControlPlanes: 1,
		ControlPlane: contract.NodeRef{Name: "hel1-cp-1", Role: "control-plane", Address: "203.0.113.7", InternalAddress: "10.0.1.2"}}
	p, err := clusterSettings(in).plan(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if p.Endpoint != "10.0.1.2:6443" || p.PublicEndpoint != "203.0.113.7:6443" {
		t.Errorf("endpoint %s, public %s", p.Endpoint, p.PublicEndpoint)
	}
	in.ControlPlane.InternalAddress = ""
	if p, err = clusterSettings(in).plan(slog.New(slog.DiscardHandler)); err != nil || p.Endpoint != "203.0.113.7:6443" || p.PublicEndpoint != "" {
		t.Errorf("one address: endpoint %s, public %q, %v", p.Endpoint, p.PublicEndpoint, err)
	}
}

// The address Kubernetes uses is bound into certificates, etcd and every
// kubelet: a change of it is refused before anything runs.
func TestGuardRefusesANewInternalAddress(t *testing.T) {
	old := contract.ClusterInputs{ControlPlane: contract.NodeRef{Name: "hel1-cp-1", Address: "203.0.113.7"}}
	in := old
	in.ControlPlane.InternalAddress = "10.0.1.2"
	if err := (clusters{}).guard(old, in); err == nil || !strings.Contains(err.Error(), "from 203.0.113.7 to 10.0.1.2") {
		t.Errorf("guard = %v", err)
	}
	if err := (clusters{}).guard(in, in); err != nil {
		t.Errorf("unchanged: %v", err)
	}
	unknown := in
	unknown.ControlPlane = contract.NodeRef{} // a preview before the server exists
	if err := (clusters{}).guard(in, unknown); err != nil {
		t.Errorf("unknown in a preview: %v", err)
	}
}
