package local

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/meshready/meshready/infra"
	"github.com/meshready/meshready/internal/golden"
)

func TestMachineFiles(t *testing.T) {
	files := machineFiles("local-cp-0",
		netip.MustParseAddr("10.213.0.2"), netip.MustParsePrefix("10.213.0.0/24"), netip.MustParseAddr("10.213.0.1"),
		infra.HostKeyPair{PrivatePEM: "-----BEGIN OPENSSH PRIVATE KEY-----\n(host key)\n-----END OPENSSH PRIVATE KEY-----", Public: "ssh-ed25519 AAAAhost"},
		"ssh-ed25519 AAAAclient meshready", "0123456789abcdef0123456789abcdef")
	var b strings.Builder
	for _, f := range files {
		fmt.Fprintf(&b, "==> %s (%04o)\n%s\n", f.Path, f.Mode, f.Content)
	}
	golden.Check(t, "testdata/machine-files.golden", []byte(b.String()))
}

func TestNetworkFileSortsFirst(t *testing.T) {
	// networkd applies the first file (in lexical order) that matches host0;
	// its own 80-container-host0.network asks for DHCP.
	name := networkFileName[strings.LastIndex(networkFileName, "/")+1:]
	if name >= "80-container-host0.network" {
		t.Fatalf("%s does not sort before 80-container-host0.network", name)
	}
}

func TestNspawnCommand(t *testing.T) {
	args := nspawnArgs("mr-local-cp-0", "local-cp-0",
		"/cache/local/machines/mr-local-cp-0/rootfs", "/cache/local/machines/mr-local-cp-0/data", "mr-br0", "/cache/bundle")
	got := strings.Join(nspawnEnv(), "\n") + "\nsystemd-nspawn\n  " + strings.Join(args, "\n  ") + "\n"
	golden.Check(t, "testdata/nspawn-command.golden", []byte(got))
}
