package plugin

import (
	"testing"

	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/report"
)

// TestPodNetworkKeepsWhatItMeasured: an update for etcd's flags alone keeps
// the pod network's figures; new nodes, addresses, a new flanneld or a
// switch of pod network measure again.
func TestPodNetworkKeepsWhatItMeasured(t *testing.T) {
	nodes := []contract.NodeRef{{Name: "s-cp-1", Address: "10.0.0.2"}, {Name: "s-worker-1", Address: "10.0.0.3"}}
	in := contract.PodNetworkInputs{Stack: "s", Nodes: nodes, CNI: "flannel", FlanneldSHA256: "ab", EtcdFlags: map[string]string{"snapshot-count": "5000"}}
	old := contract.PodNetworkOutputs{PodNetworkInputs: in, Measured: &report.PodNetwork{Kind: "flannel"}}
	old.EtcdFlags = map[string]string{"snapshot-count": "10000"}
	if !sameNetwork(old, in) {
		t.Error("etcd's flags alone: measured again")
	}
	for what, change := range map[string]func(*contract.PodNetworkInputs){
		"a node more": func(i *contract.PodNetworkInputs) { i.Nodes = append(i.Nodes, contract.NodeRef{Name: "s-worker-2"}) },
		"a new address": func(i *contract.PodNetworkInputs) {
			i.Nodes = []contract.NodeRef{nodes[0], {Name: "s-worker-1", Address: "10.0.0.9"}}
		},
		"a private address": func(i *contract.PodNetworkInputs) {
			i.Nodes = []contract.NodeRef{nodes[0], {Name: "s-worker-1", Address: "10.0.0.3", InternalAddress: "10.1.0.3"}}
		},
		"a new flanneld": func(i *contract.PodNetworkInputs) { i.FlanneldSHA256 = "cd" },
		"host routes":    func(i *contract.PodNetworkInputs) { i.CNI = "host-routes" },
	} {
		changed := in
		changed.Nodes = append([]contract.NodeRef(nil), in.Nodes...)
		change(&changed)
		if sameNetwork(old, changed) {
			t.Errorf("%s: the old figures kept", what)
		}
	}
	old.Measured = nil
	if sameNetwork(old, in) {
		t.Error("nothing measured before: nothing to keep")
	}
}
