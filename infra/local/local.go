// Package local is the infra.Backend of the local stack: each server is a
// Debian bookworm machine booted by systemd-nspawn on this host, with its own
// systemd, sshd and a static address on a bridge that this backend owns. It
// is the embedded default, so everything above the Backend seam can run for
// real on one machine, without a cloud account.
//
// Layout under CacheDir/local:
//
//	roots/bookworm-<hash>/        the base root, built once by debootstrap
//	machines/<id>/machine.json    the record: name, address, labels, stack, pid
//	machines/<id>/rootfs/         the machine's own copy of the base root
//	machines/<id>/data/           bind-mounted at /var/lib/etcd
//	machines/<id>/console.log     what systemd-nspawn and the machine print
//	machines.lock                 serialises address allocation and the bridge
//	cgroups-before.json           the host's cgroups before the first machine (see cgroups.go)
package local

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"

	"github.com/meshready/meshready/infra"
)

// Virtualization is what a local server runs on, said plainly so that nobody
// reads benchmarks of a local stack as numbers of a VM.
const Virtualization = "systemd-nspawn container on this host (not KVM)"

// Defaults for Options.
const (
	DefaultBridge = "mr-br0"
	// MachinePrefix makes machine ids (and nspawn machine names) ours at a glance.
	MachinePrefix = "mr-"
)

// DefaultSubnet is the local stack's network; its .1 is the bridge.
var DefaultSubnet = netip.MustParsePrefix("10.213.0.0/24")

// Options configure the backend. Only CacheDir is required.
type Options struct {
	// CacheDir is meshready's cache (e.g. ~/.cache/meshready); roots and
	// machines live under CacheDir/local. It is also the registry of every
	// local machine on this host: all stacks must share it.
	CacheDir string
	// Bridge is the host bridge the machines' veths join (default mr-br0).
	Bridge string
	// Subnet is the machines' network (default 10.213.0.0/24); .1 is the bridge.
	Subnet netip.Prefix
	// Stack is recorded with each machine.
	Stack string
	// Mirror is the Debian mirror for debootstrap (default: the host's apt
	// sources, else http://deb.debian.org/debian).
	Mirror string
	Log    *slog.Logger
}

// Backend makes local machines; it is safe for concurrent use, also across
// processes (all shared state is on disk under file locks).
type Backend struct {
	dir     string // CacheDir/local
	bridge  string
	subnet  netip.Prefix
	gateway netip.Addr
	stack   string
	mirror  string
	log     *slog.Logger
	// inotifyLimit is where the host's inotify limit is read (InotifyLimit).
	inotifyLimit string
}

var _ infra.Backend = (*Backend)(nil)

// New checks the options and fills in defaults; it starts nothing, so it is
// cheap: tools are installed and the base root is built by the first Create.
func New(o Options) (*Backend, error) {
	if o.CacheDir == "" {
		return nil, errors.New("local backend: CacheDir is required")
	}
	if o.Bridge == "" {
		o.Bridge = DefaultBridge
	}
	if len(o.Bridge) > 15 {
		return nil, fmt.Errorf("local backend: bridge name %q is longer than 15 characters", o.Bridge)
	}
	if !o.Subnet.IsValid() {
		o.Subnet = DefaultSubnet
	}
	if err := checkSubnet(o.Subnet); err != nil {
		return nil, fmt.Errorf("local backend: %w", err)
	}
	if o.Mirror == "" {
		o.Mirror = hostMirror()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(filepath.Join(o.CacheDir, "local"))
	if err != nil {
		return nil, fmt.Errorf("local backend: %w", err)
	}
	return &Backend{
		dir:     dir,
		bridge:  o.Bridge,
		subnet:  o.Subnet.Masked(),
		gateway: o.Subnet.Masked().Addr().Next(),
		stack:   o.Stack,
		mirror:  o.Mirror,
		log:     o.Log,

		inotifyLimit: InotifyLimit,
	}, nil
}

// checkSubnet keeps the machines on a private IPv4 network small enough to
// reason about and large enough for a bridge and some machines.
func checkSubnet(p netip.Prefix) error {
	if !p.Addr().Is4() || !p.Addr().IsPrivate() {
		return fmt.Errorf("subnet %s: must be a private IPv4 network", p)
	}
	if p.Bits() < 16 || p.Bits() > 29 {
		return fmt.Errorf("subnet %s: prefix length must be between /16 and /29", p)
	}
	return nil
}

func (b *Backend) machinesDir() string         { return filepath.Join(b.dir, "machines") }
func (b *Backend) machineDir(id string) string { return filepath.Join(b.machinesDir(), id) }
func (b *Backend) rootsDir() string            { return filepath.Join(b.dir, "roots") }
func (b *Backend) lockPath() string            { return filepath.Join(b.dir, "machines.lock") }

// MachineID is the id (and nspawn machine name) of the server named name.
func MachineID(name string) string { return MachinePrefix + name }
