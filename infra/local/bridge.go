package local

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
)

// bridgeMark is the bridge's ifalias: the proof, on a later delete, that the
// bridge is this backend's and not one that merely has the same name.
const bridgeMark = "meshready-local"

// ensureBridge makes the host bridge with the subnet's .1 if it is missing. It
// refuses a bridge it did not make, and a subnet that overlaps an address the
// host already has elsewhere: machines must never shadow a real network.
func ensureBridge(ctx context.Context, name string, gateway netip.Addr, subnet netip.Prefix) error {
	links, err := hostAddrs(ctx)
	if err != nil {
		return err
	}
	for _, l := range links {
		for _, a := range l.Addrs {
			if l.Name != name && subnet.Overlaps(a) {
				return fmt.Errorf("subnet %s overlaps %s on %s: choose another subnet", subnet, a, l.Name)
			}
		}
	}
	if l, ok := findLink(links, name); ok {
		if !ownBridge(name) {
			return fmt.Errorf("interface %s exists and was not made by meshready", name)
		}
		want := netip.PrefixFrom(gateway, subnet.Bits())
		for _, a := range l.Addrs {
			if a == want {
				return ip(ctx, "link", "set", name, "up")
			}
		}
		return fmt.Errorf("bridge %s exists without %s: its machines use another subnet", name, want)
	}
	steps := [][]string{
		{"link", "add", name, "type", "bridge"},
		{"link", "set", name, "alias", bridgeMark},
		{"addr", "add", netip.PrefixFrom(gateway, subnet.Bits()).String(), "dev", name},
		{"link", "set", name, "up"},
	}
	for _, s := range steps {
		if err := ip(ctx, s...); err != nil {
			deleteBridge(context.WithoutCancel(ctx), name)
			return err
		}
	}
	// IPv4 only: no router solicitations or MLD from the host side either.
	os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0o644)
	return nil
}

// deleteBridge removes the bridge (and with it its address) if it is ours.
func deleteBridge(ctx context.Context, name string) error {
	if !ownBridge(name) {
		return nil
	}
	return ip(ctx, "link", "del", name)
}

func ownBridge(name string) bool {
	alias, err := os.ReadFile("/sys/class/net/" + name + "/ifalias")
	return err == nil && strings.TrimSpace(string(alias)) == bridgeMark
}

type link struct {
	Name  string
	Addrs []netip.Prefix
}

func findLink(links []link, name string) (link, bool) {
	for _, l := range links {
		if l.Name == name {
			return l, true
		}
	}
	return link{}, false
}

// hostAddrs lists the host's interfaces with their IPv4 addresses.
func hostAddrs(ctx context.Context) ([]link, error) {
	out, err := exec.CommandContext(ctx, "ip", "-j", "-4", "addr", "show").Output()
	if err != nil {
		return nil, fmt.Errorf("ip addr show: %w", err)
	}
	return parseIPAddr(out)
}

// parseIPAddr reads `ip -j addr show`.
func parseIPAddr(out []byte) ([]link, error) {
	var raw []struct {
		IfName   string `json:"ifname"`
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("ip -j addr show: %w", err)
	}
	var links []link
	for _, r := range raw {
		l := link{Name: r.IfName}
		for _, a := range r.AddrInfo {
			if addr, err := netip.ParseAddr(a.Local); err == nil {
				l.Addrs = append(l.Addrs, netip.PrefixFrom(addr, a.PrefixLen))
			}
		}
		links = append(links, l)
	}
	return links, nil
}

func ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
