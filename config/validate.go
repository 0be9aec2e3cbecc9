package config

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// MinKubernetesMinor is the oldest Kubernetes 1.x meshready bootstraps (the
// project's floor; kubeadm 1.21 reads the v1beta2 config API, 1.22+ v1beta3).
const MinKubernetesMinor = 21

// HetznerLocations are the Hetzner Cloud locations a hetzner stack's region may name.
var hetznerLocations = []string{"fsn1", "nbg1", "hel1", "ash", "hil", "sin"}

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	regionName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$`)
	semver3    = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
)

// Validate checks a decoded Config and returns every problem with its key.
func Validate(c *Config) Problems {
	v := &validator{}
	v.top(c)
	v.nodes(c)
	v.kubernetes(c)
	v.etcd(&c.Etcd)
	v.istio(&c.Istio)
	v.proxyless(c)
	v.canary(c)
	v.addons(c.Addons)
	v.benchmarks(&c.Benchmarks)
	v.meshLatency(c)
	v.etcdInputs(c)
	return v.probs
}

// etcdInputs: with more than one control plane, auto etcd timing is derived
// from the peer RTT the benchmarks measure; without them it cannot be, and
// that is known before any node exists.
func (v *validator) etcdInputs(c *Config) {
	if c.Kubernetes.Enabled && c.Nodes.ControlPlanes > 1 && !c.Benchmarks.Enabled && c.Etcd.HeartbeatInterval.IsAuto() {
		v.add("etcd.heartbeatInterval", "auto needs the peer RTT the benchmarks measure, and benchmarks.enabled is false: enable them, or set etcd.heartbeatInterval and etcd.electionTimeout for %d control planes", c.Nodes.ControlPlanes)
	}
}

type validator struct{ probs Problems }

func (v *validator) add(key, format string, args ...any) {
	v.probs = append(v.probs, Problem{Namespace + ":" + key, fmt.Sprintf(format, args...)})
}

func (v *validator) top(c *Config) {
	switch {
	case c.Region == "":
		v.add("region", "required: a short name for the stack's region, e.g. hel1")
	case !regionName.MatchString(c.Region):
		v.add("region", "%q must be lower-case letters, digits and dashes", c.Region)
	}
	switch c.Provider {
	case ProviderLocal, ProviderStatic:
	case ProviderHetzner:
		if c.Region != "" && !slices.Contains(hetznerLocations, c.Region) {
			v.add("region", "%q is not a Hetzner location (want one of %s)", c.Region, strings.Join(hetznerLocations, ", "))
		}
		if c.Hetzner.Token == "" {
			v.probs = append(v.probs, Problem{"hetzner:token", "required for provider hetzner: pulumi config set --secret hetzner:token <token> (or HCLOUD_TOKEN)"})
		}
	default:
		v.add("provider", "%q is not one of local, static, hetzner", c.Provider)
	}
}

func (v *validator) nodes(c *Config) {
	n := c.Nodes
	// They go into the firewall's rules as they are.
	for i, cidr := range n.AllowedCIDRs {
		if p, err := netip.ParsePrefix(cidr); err != nil || p.Masked() != p {
			v.add(fmt.Sprintf("nodes.allowedCIDRs[%d]", i), "%q is not a network prefix such as 203.0.113.0/24", cidr)
		}
	}
	if len(n.AllowedCIDRs) > 0 && c.Provider != ProviderHetzner {
		v.add("nodes.allowedCIDRs", "only the hetzner provider makes a firewall; on %s, restrict access on the hosts' network", c.Provider)
	}
	if n.ControlPlanes != 1 && n.ControlPlanes != 3 && n.ControlPlanes != 5 {
		v.add("nodes.controlPlanes", "must be 1, 3 or 5 (etcd needs an odd number of members), got %d", n.ControlPlanes)
	}
	if n.Workers < 0 || n.Workers > 100 {
		v.add("nodes.workers", "must be between 0 and 100, got %d", n.Workers)
	}
	if k := c.EtcdSnapshots.Keep; k < 0 || k > 100 {
		v.add("etcdSnapshots.keep", "must be between 0 and 100, got %d", k)
	}
	if d := n.DrainTimeout.D(); d < 10*time.Second || d > time.Hour {
		v.add("nodes.drainTimeout", "%s is outside 10s..1h", n.DrainTimeout)
	}
	if c.Provider != ProviderStatic && len(n.Static) > 0 {
		v.add("nodes.static", "only for provider static (this stack's provider is %s)", c.Provider)
	}
	switch c.Provider {
	case ProviderStatic:
		v.static(n)
	case ProviderLocal:
		if n.ServerType != "" && n.ServerType != "nspawn" {
			v.add("nodes.serverType", "%q: the local provider has one server type, nspawn", n.ServerType)
		}
		if n.Image != "" && n.Image != "bookworm" {
			v.add("nodes.image", "%q: the local provider builds Debian bookworm roots only", n.Image)
		}
		v.local(c)
	case ProviderHetzner:
		if n.ServerType == "" {
			v.add("nodes.serverType", "required for provider hetzner, e.g. ccx13 (dedicated vCPU)")
		}
		if n.Image == "" {
			v.add("nodes.image", "required for provider hetzner, e.g. debian-12")
		}
	}
}

func (v *validator) static(n Nodes) {
	want := n.ControlPlanes + n.Workers
	if len(n.Static) != want {
		v.add("nodes.static", "lists %d servers, want %d (controlPlanes + workers; control planes first)", len(n.Static), want)
	}
	seen := map[string]bool{}
	for i, h := range n.Static {
		key := fmt.Sprintf("nodes.static[%d]", i)
		switch {
		case h.Address == "":
			v.add(key+".address", "required")
		case net.ParseIP(h.Address) == nil && !isHostname(h.Address):
			v.add(key+".address", "%q is neither an IP address nor a host name", h.Address)
		case seen[h.Address]:
			v.add(key+".address", "%q is listed twice", h.Address)
		}
		seen[h.Address] = true
		if h.Port < 0 || h.Port > 65535 {
			v.add(key+".port", "%d is not a TCP port", h.Port)
		}
		if !strings.HasPrefix(h.HostKey, "SHA256:") && !strings.HasPrefix(h.HostKey, "ssh-") && !strings.HasPrefix(h.HostKey, "ecdsa-") {
			v.add(key+".hostKey", "required: the server's host key fingerprint (SHA256:...) or public key, so the first connect is verified")
		}
	}
}

func isHostname(s string) bool {
	for _, l := range strings.Split(s, ".") {
		if !dnsLabel.MatchString(strings.ToLower(l)) {
			return false
		}
	}
	return true
}

func (v *validator) local(c *Config) {
	p, err := netip.ParsePrefix(c.Local.Subnet)
	switch {
	case err != nil || !p.Addr().Is4():
		v.add("local.subnet", "%q is not an IPv4 prefix such as 10.213.0.0/24", c.Local.Subnet)
	case !p.Addr().IsPrivate():
		v.add("local.subnet", "%q must be a private range: the project owns it on this host", c.Local.Subnet)
	case p.Bits() < 16 || p.Bits() > 28:
		v.add("local.subnet", "%q: want a prefix length between /16 and /28", c.Local.Subnet)
	case p.Masked() != p:
		v.add("local.subnet", "%q has host bits set (did you mean %s?)", c.Local.Subnet, p.Masked())
	case 1<<(32-p.Bits())-3 < c.Nodes.ControlPlanes+c.Nodes.Workers:
		v.add("local.subnet", "%q has too few addresses for %d nodes", c.Local.Subnet, c.Nodes.ControlPlanes+c.Nodes.Workers)
	}
	if len(c.Local.Bridge) == 0 || len(c.Local.Bridge) > 15 || !dnsLabel.MatchString(c.Local.Bridge) {
		v.add("local.bridge", "%q must be a Linux interface name: 1-15 lower-case letters, digits and dashes", c.Local.Bridge)
	}
}

func (v *validator) kubernetes(c *Config) {
	k := c.Kubernetes
	major, minor, _, err := k.Version.Parse()
	switch {
	case err != nil:
		v.add("kubernetes.version", "%v", err)
	case major != 1 || minor < MinKubernetesMinor:
		v.add("kubernetes.version", "%s is below the minimum 1.%d", k.Version, MinKubernetesMinor)
	}
	if k.KubeconfigFile != "" {
		if err := CheckProjectFile(k.KubeconfigFile); err != nil {
			v.add("kubernetes.kubeconfigFile", "%v", err)
		}
	}
	switch k.PodNetwork {
	case "", PodNetworkFlannel, PodNetworkHostRoutes:
	default:
		v.add("kubernetes.podNetwork", "%q is not %s or %s", k.PodNetwork, PodNetworkFlannel, PodNetworkHostRoutes)
	}
	nets := map[string]string{"kubernetes.podSubnet": k.PodSubnet, "kubernetes.serviceSubnet": k.ServiceSubnet}
	switch c.Provider {
	case ProviderLocal:
		nets["local.subnet"] = c.Local.Subnet
	case ProviderHetzner:
		// The stack's private network: the nodes' own addresses, which a
		// pod or service prefix over them would take their routes from.
		nets["the Hetzner private network"] = HetznerNetwork
	}
	parsed := map[string]netip.Prefix{}
	for key, s := range nets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if key != "local.subnet" { // reported by local()
				v.add(key, "%q is not a CIDR prefix", s)
			}
			continue
		}
		parsed[key] = p
	}
	keys := make([]string, 0, len(parsed))
	for k := range parsed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, a := range keys {
		for _, b := range keys[i+1:] {
			if parsed[a].Overlaps(parsed[b]) {
				if strings.HasPrefix(a, "the ") {
					a, b = b, a
				}
				name := Namespace + ":" + b
				if strings.HasPrefix(b, "the ") {
					name = b
				}
				v.add(a, "%s overlaps %s (%s)", parsed[a], name, parsed[b])
			}
		}
	}
	// A static server's address inside the pod or service network would be
	// routed to pods, not to the server.
	if c.Provider == ProviderStatic {
		for i, h := range c.Nodes.Static {
			addr, err := netip.ParseAddr(h.Address)
			if err != nil {
				continue // a host name, or reported by nodes()
			}
			for _, key := range []string{"kubernetes.podSubnet", "kubernetes.serviceSubnet"} {
				if p, ok := parsed[key]; ok && p.Contains(addr.Unmap()) {
					v.add(key, "%s holds nodes.static[%d]'s address %s: pick a prefix the servers are not in", p, i, h.Address)
				}
			}
		}
	}
}

// HetznerNetwork is the private network a Hetzner stack makes for its
// nodes (infra/hetzner.NetworkRange).
const HetznerNetwork = "10.0.0.0/16"

func (v *validator) etcd(e *Etcd) {
	hb, et := e.HeartbeatInterval, e.ElectionTimeout
	if hb.Set && (hb.Value.D() < 10*time.Millisecond || hb.Value.D() > 5*time.Second) {
		v.add("etcd.heartbeatInterval", "%s is outside 10ms..5s", hb.Value)
	}
	if et.Set && (et.Value.D() < 100*time.Millisecond || et.Value.D() > 50*time.Second) {
		v.add("etcd.electionTimeout", "%s is outside 100ms..50s (etcd's upper bound is 50s)", et.Value)
	}
	if hb.Set && et.Set && et.Value.D() < 10*hb.Value.D() {
		v.add("etcd.electionTimeout", "%s is less than 10 x heartbeatInterval (%s)", et.Value, hb.Value)
	}
	if e.SnapshotCount.Set && e.SnapshotCount.Value <= 0 {
		v.add("etcd.snapshotCount", "must be positive, got %d", e.SnapshotCount.Value)
	}
	if q := e.QuotaBackendBytes; q.Set && (q.Value <= 0 || q.Value > 8<<30) {
		v.add("etcd.quotaBackendBytes", "%d is outside 1..8 GiB (etcd's suggested maximum)", q.Value)
	}
	if m := e.AutoCompactionMode; m.Set && m.Value != "periodic" && m.Value != "revision" {
		v.add("etcd.autoCompactionMode", "%q is not periodic or revision", m.Value)
	}
}

// istioDevBuild is how Istio names a development build: 1.31-alpha.<commit>
// (the local stack installs one; see bundle.IstioVersion).
var istioDevBuild = regexp.MustCompile(`^\d+\.\d+-alpha\.[0-9a-f]{12,40}$`)

func (v *validator) benchmarks(b *Benchmarks) {
	if b.Gate && !b.Enabled {
		v.add("benchmarks.gate", "the hardware gate needs benchmarks.enabled: true")
	}
	for key, d := range map[string]Duration{
		"benchmarks.diskRuntime": b.DiskRuntime,
		"benchmarks.stealIdle":   b.StealIdle,
		"benchmarks.stealLoaded": b.StealLoaded,
	} {
		if d.D() < 5*time.Second || d.D() > 10*time.Minute {
			v.add(key, "%s is outside 5s..10m", d)
		}
	}
	if err := CheckNodePath(b.Dir); err != nil {
		v.add("benchmarks.dir", "%v", err)
	}
	t := b.Thresholds
	if t.FdatasyncP99 <= 0 {
		v.add("benchmarks.thresholds.fdatasyncP99", "must be positive")
	}
	if t.ReadP99 <= 0 {
		v.add("benchmarks.thresholds.readP99", "must be positive")
	}
	if t.StealMeanPercent <= 0 || t.StealMeanPercent > 100 {
		v.add("benchmarks.thresholds.stealMeanPercent", "%g is outside (0, 100]", t.StealMeanPercent)
	}
	if t.StealMaxPercent < t.StealMeanPercent || t.StealMaxPercent > 100 {
		v.add("benchmarks.thresholds.stealMaxPercent", "%g must lie between stealMeanPercent and 100", t.StealMaxPercent)
	}
}

// meshLatency checks the fortio benchmark's knobs where it will run (the
// mesh and the benchmarks on); elsewhere it is off whatever it says.
func (v *validator) meshLatency(c *Config) {
	m := c.Benchmarks.MeshLatency
	if !m.Enabled || !c.Benchmarks.Enabled || !c.Istio.Enabled || !c.Kubernetes.Enabled {
		return
	}
	if d := m.Duration.D(); d < 5*time.Second || d > 30*time.Minute {
		v.add("benchmarks.meshLatency.duration", "%s is outside 5s..30m", m.Duration)
	}
	if m.QPS < 1 || m.QPS > 100000 {
		v.add("benchmarks.meshLatency.qps", "%d is outside 1..100000", m.QPS)
	}
	if m.Connections < 1 || m.Connections > 1024 {
		v.add("benchmarks.meshLatency.connections", "%d is outside 1..1024", m.Connections)
	}
	if m.PayloadBytes < 0 || m.PayloadBytes > 1<<20 {
		v.add("benchmarks.meshLatency.payloadBytes", "%d is outside 0..1048576", m.PayloadBytes)
	}
	if m.Image == "" && c.Provider != ProviderLocal {
		v.add("benchmarks.meshLatency.image", "required: the fortio image the nodes pull, e.g. fortio/fortio:1.67.1")
	}
}
