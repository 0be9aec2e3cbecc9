package local

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/meshready/meshready/infra"
)

// machineFile is a file written into a machine's copy of the base root.
type machineFile struct {
	Path    string
	Content string
	Mode    uint32
}

// networkFileName sorts before networkd's own 80-container-host0.network
// (which asks for DHCP) so that ours is the one applied to host0.
const networkFileName = "/etc/systemd/network/10-meshready-host0.network"

// machineFiles are the files that make a copy of the base root one machine.
// Pure, so tests pin them with golden files.
func machineFiles(name string, addr netip.Addr, subnet netip.Prefix, gateway netip.Addr,
	hostKey infra.HostKeyPair, authorizedKey, machineID string) []machineFile {
	return []machineFile{
		{networkFileName, networkFile(netip.PrefixFrom(addr, subnet.Bits()), gateway), 0o644},
		{"/etc/ssh/sshd_config.d/10-meshready.conf", sshdDropIn(), 0o644},
		{"/etc/ssh/ssh_host_ed25519_key", ensureNewline(hostKey.PrivatePEM), 0o600},
		{"/etc/ssh/ssh_host_ed25519_key.pub", ensureNewline(hostKey.Public), 0o644},
		{"/root/.ssh/authorized_keys", ensureNewline(authorizedKey), 0o600},
		{"/etc/hostname", name + "\n", 0o644},
		{"/etc/hosts", hostsFile(name, addr), 0o644},
		{"/etc/resolv.conf", resolvConf(gateway), 0o644},
		{"/etc/machine-id", machineID + "\n", 0o444},
	}
}

// networkFile gives host0 its static address and the default route via the
// bridge: kubelet later takes the node IP from the default route's interface.
// No IPv6, no link-local addresses, no DHCP: the machine speaks only on its
// subnet.
func networkFile(addr netip.Prefix, gateway netip.Addr) string {
	return fmt.Sprintf(`# Written by meshready: the address this machine was given on its bridge.
[Match]
Name=host0

[Network]
Address=%s
Gateway=%s
DHCP=no
LinkLocalAddressing=no
IPv6AcceptRA=no
`, addr, gateway)
}

// sshdDropIn makes the host key meshready made and pinned the only one sshd
// offers, so the first connection is already verified. Debian's sshd_config
// includes sshd_config.d first, so these values win.
func sshdDropIn() string {
	return `# Written by meshready: the pinned host key is the only one; keys only.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
`
}

// hostsFile resolves the machine's own name to its address (kubeadm warns
// when the hostname does not resolve).
func hostsFile(name string, addr netip.Addr) string {
	return fmt.Sprintf(`127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
%s	%s
`, addr, name)
}

// resolvConf points DNS at the bridge address: machines reach nothing beyond
// their bridge, and whatever answers names for them later will listen there.
func resolvConf(gateway netip.Addr) string {
	return fmt.Sprintf("# Written by meshready: only the host side of the bridge.\nnameserver %s\n", gateway)
}

// nspawnArgs is the systemd-nspawn command line of a machine (the flags the
// issue found to boot systemd here). Its cgroups are its own subtree, in a
// cgroup namespace nspawn makes (see cgroups.go), not the host's tree.
//
// bundle is the host folder of the air-gapped Kubernetes bundle (binaries and
// image tarballs), shared read-only with every machine: a bind is instant,
// where uploading hundreds of MB over SSH to each machine is not.
func nspawnArgs(id, name, rootfs, data, bridge, bundle string) []string {
	return []string{
		"--directory=" + rootfs,
		"--machine=" + id,
		"--hostname=" + name,
		"--boot",
		// No systemd as PID 1 on the host, no machined: nothing to register
		// with, and no scope unit to create.
		"--register=no",
		"--keep-unit",
		"--network-veth",
		"--network-bridge=" + bridge,
		// kubelet, containerd and runc need nearly every capability (pods
		// get their own namespaces, mounts and cgroups), but none of them
		// loads kernel modules, does raw I/O or sets the clock: a
		// privileged pod must not get those on the host (see README, Security).
		"--capability=all",
		"--drop-capability=" + strings.Join(droppedCaps(), ","),
		"--bind=" + data + ":/var/lib/etcd",
		"--bind-ro=" + bundle + ":" + BundleMount,
		"--system-call-filter=@system-service @mount @privileged add_key keyctl bpf",
		// Without a scope unit (--register=no) nspawn ignores this; kept so
		// the line matches the and works once registration does.
		"--property=DeviceAllow=char-* rwm",
		// The console is a log file: output only, nothing read.
		"--console=read-only",
		// /etc/resolv.conf is the machine's own (see resolvConf).
		"--resolv-conf=off",
	}
}

// droppedCaps are the capabilities no machine gets, and so no pod in it.
func droppedCaps() []string {
	return []string{"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_TIME"}
}

// BundleMount is where a machine sees the Kubernetes bundle.
const BundleMount = "/opt/meshready/bundle"

// nspawnEnv is systemd-nspawn's whole environment: no image lock files in
// /run (SYSTEMD_NSPAWN_LOCK=0), and a dumb terminal so that the console log
// has no colour codes.
func nspawnEnv() []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SYSTEMD_NSPAWN_LOCK=0",
		"TERM=dumb",
	}
}

func ensureNewline(s string) string {
	if s == "" || s[len(s)-1] != '\n' {
		return s + "\n"
	}
	return s
}
