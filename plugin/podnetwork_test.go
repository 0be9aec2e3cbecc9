package plugin

import (
	"testing"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/report"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pplugin "github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
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

// TestUnsetPodNetworkKeepsWhatRuns: a program that names no pod network
// (kubernetes.podNetwork unset) gets flannel for a new cluster and, for a
// running one, what it runs: a cluster made before flannel (no cni, no pod
// subnet in its state) plans no change, though meshready's default is now
// flannel; naming a network switches it. Through the provider's Check and
// Diff, as the engine calls them.
func TestUnsetPodNetworkKeepsWhatRuns(t *testing.T) {
	p := testProvider(nil, nil)
	typ := tokenOf(contract.PodNetwork().Spec())
	r, err := p.resource(typ)
	if err != nil {
		t.Fatal(err)
	}
	nodes := []contract.NodeRef{{Name: "s-cp-1", Address: "10.0.0.2", SSHPort: 22}}
	program := func(cni string) resource.PropertyMap { // as stacks sends them
		in := contract.PodNetworkInputs{Stack: "s", Nodes: nodes, CNI: cni, PodSubnet: "10.244.0.0/16"}
		if cni != config.PodNetworkHostRoutes {
			in.FlanneldPath, in.FlanneldSHA256 = "/cache/flanneld", "ab"
		}
		return encodeInputs(t, in)
	}
	check := func(olds, news resource.PropertyMap) contract.PodNetworkInputs {
		t.Helper()
		got, failures, err := r.Check(olds, news)
		if err != nil || len(failures) > 0 {
			t.Fatalf("check: %v %v", failures, err)
		}
		in, err := decode[contract.PodNetworkInputs](got)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	plan := func(olds, news resource.PropertyMap) pplugin.DiffChanges {
		t.Helper()
		checked, _, err := r.Check(olds, news)
		if err != nil {
			t.Fatal(err)
		}
		d, err := r.Diff(olds, olds, checked)
		if err != nil {
			t.Fatal(err)
		}
		return d.Changes
	}

	if in := check(nil, program("")); in.CNI != config.PodNetworkFlannel || in.FlanneldSHA256 != "ab" {
		t.Errorf("a new cluster, unset: %+v; want flannel with flanneld", in)
	}
	// Made before flannel: what the landed meshready stored.
	legacy := encodeInputs(t, contract.PodNetworkInputs{Stack: "s", Nodes: nodes})
	if in := check(legacy, program("")); in.CNI != "" || in.FlanneldSHA256 != "" || in.FlanneldPath != "" || in.PodSubnet != "" {
		t.Errorf("a cluster made before flannel, unset: %+v; want it as it is", in)
	}
	for _, cni := range []string{"", config.PodNetworkHostRoutes} {
		if c := plan(legacy, program(cni)); c != pplugin.DiffNone {
			t.Errorf("a cluster made before flannel, podNetwork %q: %v; want no change", cni, c)
		}
	}
	if c := plan(legacy, program(config.PodNetworkFlannel)); c != pplugin.DiffSome {
		t.Errorf("a cluster made before flannel, switched to flannel: %v; want an update", c)
	}
	// Made since: what it runs stays, whichever meshready's default.
	for _, runs := range []string{config.PodNetworkFlannel, config.PodNetworkHostRoutes} {
		olds, _, err := r.Check(nil, program(runs))
		if err != nil {
			t.Fatal(err)
		}
		if in := check(olds, program("")); in.CNI != runs {
			t.Errorf("running %s, unset: %q", runs, in.CNI)
		}
		if c := plan(olds, program("")); c != pplugin.DiffNone {
			t.Errorf("running %s, unset: %v; want no change", runs, c)
		}
	}
	flannel, _, _ := r.Check(nil, program(config.PodNetworkFlannel))
	if c := plan(flannel, program(config.PodNetworkHostRoutes)); c != pplugin.DiffSome {
		t.Errorf("flannel switched to host routes: %v; want an update", c)
	}
}

func encodeInputs(t *testing.T, in contract.PodNetworkInputs) resource.PropertyMap {
	t.Helper()
	m, err := encode(in, contract.PodNetwork().SecretInputs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
