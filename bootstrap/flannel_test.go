package bootstrap

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/meshready/meshready/internal/golden"
)

// TestParseSubnetEnv: what flanneld v0.28 writes (testdata/flannel/subnet.env,
// from a local node) read into the bridge its node's pods get.
func TestParseSubnetEnv(t *testing.T) {
	raw, err := os.ReadFile("testdata/flannel/subnet.env")
	must(t, err)
	e, err := ParseSubnetEnv(string(raw))
	must(t, err)
	b, err := flannelBridge(e, "10.244.2.0/24", "10.244.0.0/16")
	must(t, err)
	out, err := json.MarshalIndent(struct {
		Env    SubnetEnv
		Bridge Bridge
	}{e, b}, "", "  ")
	must(t, err)
	golden.Check(t, "testdata/flannel/subnet.env.golden", out)

	if _, err := flannelBridge(e, "10.244.3.0/24", "10.244.0.0/16"); err == nil || !strings.Contains(err.Error(), "pod CIDR is 10.244.3.0/24") {
		t.Errorf("another node's subnet: %v", err)
	}
	if _, err := flannelBridge(e, "10.244.2.0/24", "10.245.0.0/16"); err == nil || !strings.Contains(err.Error(), "not the cluster's") {
		t.Errorf("another network: %v", err)
	}
	for in, want := range map[string]string{
		"":                                  "no FLANNEL_NETWORK",
		"FLANNEL_NETWORK=10.244.0.0/16":     "no FLANNEL_SUBNET",
		"FLANNEL_NETWORK=10.244.0.0":        "FLANNEL_NETWORK",
		"garbage":                           "not KEY=value",
		"FLANNEL_MTU=9\nFLANNEL_SUBNET=x":   "9 is no MTU",
		"FLANNEL_IPMASQ=maybe":              "FLANNEL_IPMASQ",
		string(raw) + "FLANNEL_MTU=70000\n": "70000 is no MTU",
	} {
		if _, err := ParseSubnetEnv(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSubnetEnv(%q) = %v, want %q", in, err, want)
		}
	}
}

// TestFlannelScriptInputs: what reaches the script and the unit is a DNS
// label and an IPv4 address, and the network a masked IPv4 prefix.
func TestFlannelScriptInputs(t *testing.T) {
	for _, c := range [][3]string{
		{"w-1; reboot", "10.0.0.2", "10.244.0.0/16"},
		{"w-1\nExecStartPre=/bin/sh", "10.0.0.2", "10.244.0.0/16"},
		{"w-1", "10.0.0.2 --iface=eth0", "10.244.0.0/16"},
		{"w-1", "eth0", "10.244.0.0/16"},
		{"w-1", "fd00::2", "10.244.0.0/16"},
		{"w-1", "10.0.0.2", "10.244.0.1/16"},
		{"w-1", "10.0.0.2", "10.244.0.0/16'; reboot'"},
	} {
		if s, err := FlannelScript(c[0], c[1], c[2], nil); err == nil {
			t.Errorf("FlannelScript%q rendered:\n%s", c, s)
		}
	}
	// The other nodes' pod CIDRs come from the cluster (a kubelet writes
	// its own Node): only canonical IPv4 prefixes reach the script.
	for _, bad := range []string{"10.244.1.0/24; reboot", "10.244.1.0/24\nreboot", "10.244.1.1/24", "fd00::/64", "", "0.0.0.0/0 dev eth0"} {
		if s, err := FlannelScript("w-1", "10.0.0.2", "10.244.0.0/16", []string{"10.244.2.0/24", bad}); err == nil {
			t.Errorf("FlannelScript took pod CIDR %q:\n%s", bad, s)
		}
	}
}

// TestCNIScriptInputs: a node's pod CIDR and the routes' prefixes and
// gateways, read from the cluster, are checked before the script has them.
func TestCNIScriptInputs(t *testing.T) {
	good := Route{CIDR: "10.244.1.0/24", Via: "10.213.0.3"}
	for _, c := range []struct {
		node, podCIDR string
		route         Route
	}{
		{"w-1", "10.244.0.0/24\nreboot", good},
		{"w-1", "10.244.0.0/24 # x", good},
		{"w-1", "10.244.0.0/24", Route{CIDR: "10.244.1.0/24; reboot", Via: "10.213.0.3"}},
		{"w-1", "10.244.0.0/24", Route{CIDR: "10.244.1.0/24", Via: "10.213.0.3; reboot"}},
		{"w-1", "10.244.0.0/24", Route{CIDR: "10.244.1.0/24", Via: "$(reboot)"}},
		{"w-1", "10.244.0.0/24", Route{CIDR: "10.244.1.0/24", Via: "fd00::3"}},
		{"w-1\nreboot", "10.244.0.0/24", good},
	} {
		if s, err := CNIScript(c.node, Bridge{PodCIDR: c.podCIDR}, false, []Route{good, c.route}); err == nil {
			t.Errorf("CNIScript took %+v:\n%s", c, s)
		}
	}
}

// FuzzParseSubnetEnv: whatever a node prints, the parser neither panics
// nor hands back a subnet.env that lacks what the bridge needs.
func FuzzParseSubnetEnv(f *testing.F) {
	raw, err := os.ReadFile("testdata/flannel/subnet.env")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(raw))
	f.Add("FLANNEL_MTU=1450\n")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseSubnetEnv(s)
		if err != nil {
			return
		}
		if !e.Network.IsValid() || !e.Subnet.IsValid() || e.MTU < 576 {
			t.Errorf("ParseSubnetEnv(%q) = %+v without error", s, e)
		}
	})
}

// TestFlannelToken: the token read from the control plane is a JWT and
// nothing else (it is uploaded to every node and read by flanneld).
func TestFlannelToken(t *testing.T) {
	if tok, err := FlannelToken("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\n"); err != nil || tok != "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln" {
		t.Errorf("FlannelToken: %q %v", tok, err)
	}
	for _, bad := range []string{"", "abc", "a.b.c; reboot", "a.b\n.c", "a.b.c.d", strings.Repeat("a", 9000) + ".b.c"} {
		if _, err := FlannelToken(bad); err == nil {
			t.Errorf("FlannelToken(%.40q) accepted", bad)
		}
	}
}

// testFlanneldSHA is the hash of testFlanneld, the flanneld the tests upload.
const testFlanneld = "flanneld binary"

var testFlanneldSHA = func() string { s := sha256.Sum256([]byte(testFlanneld)); return hex.EncodeToString(s[:]) }()

// TestFlannelNetwork: the pod network as flannel makes it, in order: the
// service account's token read once on the control plane; flanneld sent
// to the node that lacks it only, the token to every node (0600); then
// flannel on each node, and its bridge with flannel's MTU, unmasqueraded.
// A flanneld that changed since the program hashed it is refused.
func TestFlannelNetwork(t *testing.T) {
	nodes := testNodes(testNode("s-cp-1", "10.244.0.0/24", true, "10.213.0.2"), testNode("s-worker-1", "10.244.1.0/24", true, "10.213.0.3"))
	var mu sync.Mutex
	var log, seen []string
	mk := func(name, role, addr string) Node {
		return Node{Name: name, Role: role, Address: addr, Runner: fakeRunner{name, &mu, &log, nil, nodes, &seen}}
	}
	cp, w := mk("s-cp-1", "control-plane", "10.213.0.2"), mk("s-worker-1", "worker", "10.213.0.3")
	bin := filepath.Join(t.TempDir(), "flanneld")
	must(t, os.WriteFile(bin, []byte(testFlanneld), 0o755))
	p := Plan{Log: slog.New(slog.DiscardHandler), Pods: PodNetwork{Kind: "flannel", Subnet: "10.244.0.0/16", FlanneldPath: bin, FlanneldSHA256: testFlanneldSHA}}
	must(t, Network(t.Context(), p, cp, []Node{cp, w}))

	var uploads []string
	var cni = map[string]string{}
	for _, c := range seen {
		if strings.HasPrefix(c, "upload ") {
			head, data, _ := strings.Cut(c, "\n")
			uploads = append(uploads, head)
			if strings.Contains(head, "token") && data != "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln" {
				t.Errorf("%s: %q", head, data)
			}
		}
		if strings.Contains(c, "# meshready pod network on ") {
			cni[c[strings.Index(c, "on ")+3:strings.Index(c, ":")]] = c
		}
	}
	slices.Sort(uploads)
	want := []string{"upload /etc/meshready/flannel/token.new 600", "upload /etc/meshready/flannel/token.new 600", "upload /usr/local/bin/flanneld 755"}
	if !slices.Equal(uploads, want) {
		t.Errorf("uploads %q, want %q", uploads, want)
	}
	for node, c := range cni {
		if !strings.Contains(c, `"mtu": 1450`) || !strings.Contains(c, `"ipMasq": false`) || strings.Contains(c, "ip route replace") {
			t.Errorf("%s: bridge under flannel:\n%s", node, c)
		}
	}
	if len(cni) != 2 {
		t.Errorf("bridges on %v", slices.Collect(maps.Keys(cni)))
	}
	tokens := 0
	for _, l := range log {
		if strings.HasPrefix(l, "s-cp-1: # meshready flannels access") {
			tokens++
		}
	}
	if tokens != 1 {
		t.Errorf("the token was read %d times:\n%s", tokens, strings.Join(log, "\n"))
	}

	// The binary changed after the program hashed it: nothing is uploaded.
	must(t, os.WriteFile(bin, []byte("another flanneld"), 0o755))
	seen = nil
	err := Network(t.Context(), p, cp, []Node{cp, w})
	if err == nil || !strings.Contains(err.Error(), "not "+testFlanneldSHA) {
		t.Errorf("a changed flanneld: %v", err)
	}
	for _, c := range seen {
		if strings.HasPrefix(c, "upload /usr/local/bin/flanneld") {
			t.Error("a flanneld other than the one hashed was uploaded")
		}
	}
}

// TestStaleRoutesGoAndNothingElse runs the part of flannel's script that
// removes a host-routes pod network's routes, as root in a network
// namespace of its own (unshare -n: it ends with the command): the route
// to another node's pods through a gateway goes; flannel's own to the
// same prefix, a route to an address no node's pods have, and the node's
// own network stay, though the pod network (10.0.0.0/8 here) holds them.
func TestStaleRoutesGoAndNothingElse(t *testing.T) {
	frag, err := render("stale-routes.tmpl", struct{ Stale []string }{[]string{"10.244.1.0/24", "10.244.2.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := inNetNamespace(t, `ip link add flannel.1 type veth peer name flannelp && ip link set flannelp up && ip link set flannel.1 up
ip route add 10.244.1.0/24 via 10.0.0.3
ip route add 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink
ip route add 10.4.0.0/16 via 10.0.0.1
`, frag+"ip -4 route show\n")
	if err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if strings.Contains(got, "10.244.1.0/24") {
		t.Errorf("the host-routes route to another node's pods stayed:\n%s", got)
	}
	for _, want := range []string{"10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink", "10.4.0.0/16 via 10.0.0.1 dev eth0", "10.0.0.0/24 dev eth0"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q went:\n%s", want, got)
		}
	}
	if empty, err := render("stale-routes.tmpl", struct{ Stale []string }{}); err != nil || strings.TrimSpace(empty) != "" {
		t.Errorf("without other nodes: %q, %v", empty, err)
	}
}

// TestHostRoutesNeedGatewaysOnLink runs the check the host-routes script
// makes before it changes anything, as root in a network namespace of its
// own: a node on this node's link passes; a node reached through a gateway
// (another segment, a cloud's public address) stops it with what to do.
func TestHostRoutesNeedGatewaysOnLink(t *testing.T) {
	check := func(routes ...Route) (string, error) {
		frag, err := render("onlink.tmpl", struct{ Routes []Route }{routes})
		if err != nil {
			t.Fatal(err)
		}
		return inNetNamespace(t, "ip route add default via 10.0.0.1\n", frag+"echo checked\n")
	}
	out, err := check(Route{CIDR: "10.244.1.0/24", Via: "10.0.0.3"}, Route{CIDR: "10.244.2.0/24", Via: "10.0.0.4"})
	if err != nil || strings.TrimSpace(out) != "checked" {
		t.Errorf("nodes on the link: %v\n%s", err, out)
	}
	out, err = check(Route{CIDR: "10.244.1.0/24", Via: "10.0.0.3"}, Route{CIDR: "10.244.2.0/24", Via: "203.0.113.9"})
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || strings.Contains(out, "checked") ||
		!strings.Contains(out, "203.0.113.9") || !strings.Contains(out, "podNetwork to flannel") {
		t.Errorf("a node through a gateway: %v\n%s", err, out)
	}
}

// inNetNamespace runs script as root in a network namespace of its own
// (unshare -n: it ends with the command), where eth0 holds 10.0.0.2/24 and
// setup ran first; it skips the test where no namespace can be made.
func inNetNamespace(t *testing.T, setup, script string) (string, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	base := `set -e
ip link set lo up
ip link add eth0 type veth peer name eth0p && ip link set eth0p up && ip link set eth0 up
ip addr add 10.0.0.2/24 dev eth0
`
	if out, err := exec.Command("unshare", "-n", "sh", "-c", base).CombinedOutput(); err != nil {
		t.Skipf("no network namespace here: %v: %s", err, out)
	}
	out, err := exec.Command("unshare", "-n", "sh", "-c", base+setup+script).CombinedOutput()
	return string(out), err
}
