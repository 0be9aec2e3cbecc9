package hetzner

import (
	"slices"
	"strings"
	"testing"
)

// stackOf reads the fake's one object of each kind (failing on more).
func stackOf(t *testing.T, f *fakeAPI) map[string]*fakeObject {
	t.Helper()
	out := map[string]*fakeObject{}
	for path := range fakeKinds {
		objs := f.objectList(path)
		switch len(objs) {
		case 0:
		case 1:
			out[path] = objs[0]
		default:
			t.Fatalf("%d %s: %+v", len(objs), path, objs)
		}
	}
	return out
}

// The stack's network, firewall and placement group: made once, with the
// stack's labels; every server joins the network and has the firewall,
// control planes alone are spread; the firewall lets in SSH and 6443 from
// the allowed CIDRs only; all of it goes with the last server.
func TestStackResourcesLifecycle(t *testing.T) {
	f := newFakeAPI(t)
	opts := testOptions(f, &syncBuffer{})
	opts.AllowedCIDRs = []string{"203.0.113.0/24", "2001:db8::/32"}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range threeNodes {
		s, err := b.Create(testCtx(t), testSpec(n.name, n.role))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(s.PrivateIPv4, "10.0.1.") {
			t.Errorf("%s's private address %q is not in the stack's subnet", n.name, s.PrivateIPv4)
		}
		ids = append(ids, s.ID)
	}
	st := stackOf(t, f)
	net, fw, pg := st["networks"], st["firewalls"], st["placement_groups"]
	if net == nil || fw == nil || pg == nil {
		t.Fatalf("stack objects %+v", st)
	}
	for _, o := range []*fakeObject{net, fw, pg} {
		if !hasLabels(o.Labels, map[string]string{"meshready": "true", "meshready-stack": "test"}) {
			t.Errorf("%s without the stack's labels: %v", o.Name, o.Labels)
		}
	}
	if net.IPRange != NetworkRange || len(net.Subnets) != 1 || net.Subnets[0].IPRange != SubnetRange || net.Subnets[0].NetworkZone != "eu-central" {
		t.Errorf("network %+v", net)
	}
	if pg.Type != "spread" {
		t.Errorf("placement group %+v", pg)
	}
	var open []string
	for _, r := range fw.Rules {
		open = append(open, r.Protocol+"/"+r.Port+" from "+strings.Join(r.SourceIPs, ","))
	}
	if strings.Join(open, "; ") != "tcp/22 from 203.0.113.0/24,2001:db8::/32; tcp/6443 from 203.0.113.0/24,2001:db8::/32; icmp/ from 0.0.0.0/0,::/0" {
		t.Errorf("firewall lets in: %v", open)
	}
	for _, s := range f.serverList() {
		spread := s.Placement == pg.ID
		if !slices.Equal(s.Networks, []int64{net.ID}) || !slices.Equal(s.Firewalls, []int64{fw.ID}) || spread != (s.Labels["meshready-role"] == "control-plane") {
			t.Errorf("%s: networks %v firewalls %v placement %d", s.Name, s.Networks, s.Firewalls, s.Placement)
		}
	}
	// The stack's objects stay while a server is left, and go with the last.
	for i, id := range ids {
		if err := b.Delete(testCtx(t), id); err != nil {
			t.Fatal(err)
		}
		if left := len(stackOf(t, f)); (i < len(ids)-1) != (left == 3) {
			t.Errorf("after deleting %d of %d servers, %d stack objects left", i+1, len(ids), left)
		}
	}
}

// A resumed create adopts what an earlier run made (found by the stack's
// labels, not made twice), and sets an adopted firewall's rules to the
// allowed CIDRs of now; DeleteAll removes them all; another stack's
// network of the same name is never adopted.
func TestStackResourcesAdoptedAndDeleted(t *testing.T) {
	f := newFakeAPI(t)
	b, _ := newTestBackend(t, f)
	ours := map[string]string{"meshready": "true", "meshready-stack": "test"}
	net := f.addObject("networks", "meshready-test", ours)
	fw := f.addObject("firewalls", "meshready-test", ours)
	if _, err := b.Create(testCtx(t), testSpec("fsn1-cp-1", "control-plane")); err != nil {
		t.Fatal(err)
	}
	st := stackOf(t, f)
	if st["networks"].ID != net || st["firewalls"].ID != fw || st["placement_groups"] == nil {
		t.Errorf("stack objects %+v, want network %d and firewall %d adopted", st, net, fw)
	}
	if got := f.count("POST /firewalls/{id}/actions/set_rules"); got != 1 || len(st["firewalls"].Rules) != 3 {
		t.Errorf("the adopted firewall's rules were set %d times: %+v", got, st["firewalls"].Rules)
	}
	if err := b.DeleteAll(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if left := stackOf(t, f); len(left) != 0 || len(f.serverList()) != 0 {
		t.Errorf("left after DeleteAll: %+v, %d servers", left, len(f.serverList()))
	}

	f2 := newFakeAPI(t)
	b2, _ := newTestBackend(t, f2)
	f2.addObject("networks", "meshready-test", map[string]string{"meshready": "true", "meshready-stack": "prod"})
	_, err := b2.Create(testCtx(t), testSpec("fsn1-cp-1", "control-plane"))
	if err == nil || !strings.Contains(err.Error(), "network meshready-test: the name is taken by one meshready does not own") {
		t.Errorf("another stack's network: %v", err)
	}
	if len(f2.serverList()) != 0 {
		t.Error("a server was made without the stack's network")
	}
}

// Faults on every call of the stack's objects: lost answers, 5xx, 429s and
// a timeout; still exactly one of each, all attached.
func TestStackResourcesThroughFaults(t *testing.T) {
	f := newFakeAPI(t)
	b, _ := newTestBackend(t, f)
	f.inject("POST /networks", lost())
	f.inject("GET /networks", fail(503, "service_error"))
	f.inject("POST /firewalls", rateLimited(), failAfter(500, "server_error"))
	f.inject("GET /placement_groups", slow())
	f.inject("POST /placement_groups", rateLimited(), lost())
	for _, n := range threeNodes {
		if _, err := b.Create(testCtx(t), testSpec(n.name, n.role)); err != nil {
			t.Fatal(err)
		}
	}
	if st := stackOf(t, f); len(st) != 3 {
		t.Errorf("stack objects %+v", st)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for route, q := range f.faults {
		if len(q) > 0 {
			t.Errorf("%d faults for %s were never met", len(q), route)
		}
	}
}

// Values that reach the firewall's rules are checked before any request.
func TestAllowedCIDRsChecked(t *testing.T) {
	f := newFakeAPI(t)
	for _, bad := range []string{"0.0.0.0", "10.0.0.1/8", "any", "203.0.113.0/24;rm -rf /"} {
		o := testOptions(f, &syncBuffer{})
		o.AllowedCIDRs = []string{bad}
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), "is not a network prefix") {
			t.Errorf("allowed CIDR %q: %v", bad, err)
		}
	}
	if f.total() != 0 {
		t.Errorf("%d requests made", f.total())
	}
}
