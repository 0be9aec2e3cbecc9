// Command flanneld is flannel's daemon for meshready nodes: flannel's own
// packages (the Kubernetes subnet manager, the VXLAN backend, the iptables
// traffic manager), wired the way flannel's main.go wires them for the flags
// meshready passes.
//
// Why not flannel's own main: it links every backend, and its Tencent VPC
// backend needs github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc,
// which the module proxy does not serve, so it cannot be built here. This
// one links the VXLAN backend only (meshready's default and only flannel
// backend) and takes the subset of flannel's flags meshready uses, with
// flannel's meaning: a node's unit runs either binary the same way.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/flannel-io/flannel/pkg/backend"
	_ "github.com/flannel-io/flannel/pkg/backend/vxlan"
	"github.com/flannel-io/flannel/pkg/ip"
	"github.com/flannel-io/flannel/pkg/ipmatch"
	"github.com/flannel-io/flannel/pkg/subnet"
	"github.com/flannel-io/flannel/pkg/subnet/kube"
	"github.com/flannel-io/flannel/pkg/trafficmngr/iptables"
	"github.com/joho/godotenv"
	"k8s.io/klog/v2"
)

type options struct {
	kubeSubnetMgr  bool
	kubeconfig     string
	iface          string
	netConfPath    string
	subnetFile     string
	ipMasq         bool
	resyncSeconds  int
	annotationPref string
}

func main() {
	var o options
	fs := flag.NewFlagSet("flanneld", flag.ExitOnError)
	fs.BoolVar(&o.kubeSubnetMgr, "kube-subnet-mgr", false, "use the Kubernetes API for subnet assignment (required: the only manager here)")
	fs.StringVar(&o.kubeconfig, "kubeconfig-file", "", "kubeconfig file location")
	fs.StringVar(&o.iface, "iface", "", "interface (IP or name) for inter-host communication")
	fs.StringVar(&o.netConfPath, "net-config-path", "/etc/kube-flannel/net-conf.json", "path to the network configuration file")
	fs.StringVar(&o.subnetFile, "subnet-file", "/run/flannel/subnet.env", "where the subnet, MTU, ... are written")
	fs.BoolVar(&o.ipMasq, "ip-masq", false, "masquerade traffic leaving the flannel network")
	fs.IntVar(&o.resyncSeconds, "iptables-resync", 5, "resync period for iptables rules, in seconds")
	fs.StringVar(&o.annotationPref, "kube-annotation-prefix", "flannel.alpha.coreos.com", "node annotation prefix")
	_ = fs.Parse(os.Args[1:])
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "flanneld:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if !o.kubeSubnetMgr {
		return errors.New("--kube-subnet-mgr is required: this flanneld has no etcd subnet manager")
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	sm, err := kube.NewSubnetManager(ctx, "", o.kubeconfig, o.annotationPref, o.netConfPath, false)
	if err != nil {
		return fmt.Errorf("subnet manager: %w", err)
	}
	config, err := networkConfig(ctx, sm)
	if err != nil {
		return err
	}
	if config.EnableIPv6 || !config.EnableIPv4 {
		return errors.New("net-conf.json: only an IPv4 network is supported")
	}
	if config.BackendType != "vxlan" {
		return fmt.Errorf("net-conf.json: backend %q: only vxlan is built in", config.BackendType)
	}
	// flannel's own check: without br_netfilter, bridged pod traffic skips
	// iptables (and kube-proxy's Service rules).
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
		return fmt.Errorf("br_netfilter: %w", err)
	}
	stack, err := ipmatch.GetIPFamily(true, false)
	if err != nil {
		return err
	}
	public, _ := sm.GetStoredPublicIP(ctx)
	ext, err := ipmatch.LookupExtIface(o.iface, "", "", stack, ipmatch.PublicIPOpts{PublicIP: public})
	if err != nil {
		return fmt.Errorf("interface %q: %w", o.iface, err)
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	be, err := backend.NewManager(ctx, sm, ext).GetBackend(config.BackendType)
	if err != nil {
		return err
	}
	bn, err := be.RegisterNetwork(ctx, &wg, config)
	if err != nil {
		return fmt.Errorf("register network: %w", err)
	}
	tm := &iptables.IPTablesManager{}
	if err := tm.Init(ctx); err != nil {
		return fmt.Errorf("iptables: %w", err)
	}
	if o.ipMasq {
		prevNetwork, prevSubnet := previous(o.subnetFile, "FLANNEL_NETWORK"), previous(o.subnetFile, "FLANNEL_SUBNET")
		if err := tm.SetupAndEnsureMasqRules(ctx, config.Network, prevSubnet, prevNetwork,
			ip.IP6Net{}, ip.IP6Net{}, ip.IP6Net{}, bn.Lease(), o.resyncSeconds, false); err != nil {
			return fmt.Errorf("masquerade rules: %w", err)
		}
	}
	tm.SetupAndEnsureForwardRules(ctx, config.Network, ip.IP6Net{}, o.resyncSeconds)
	if err := sm.HandleSubnetFile(o.subnetFile, config, o.ipMasq, bn.Lease().Subnet, bn.Lease().IPv6Subnet, bn.MTU()); err != nil {
		return fmt.Errorf("subnet file: %w", err)
	}
	klog.Infof("wrote %s: flannel is ready", o.subnetFile)
	wg.Add(1)
	go func() {
		defer wg.Done()
		bn.Run(ctx)
	}()
	if err := sm.CompleteLease(ctx, bn.Lease(), &wg); err != nil && ctx.Err() == nil {
		return fmt.Errorf("lease: %w", err)
	}
	<-ctx.Done()
	return nil
}

// networkConfig is the network's config from the subnet manager, asked
// again every second until there is one (as flannel does).
func networkConfig(ctx context.Context, sm subnet.Manager) (*subnet.Config, error) {
	for {
		config, err := sm.GetNetworkConfig(ctx)
		if err == nil && config != nil {
			return config, nil
		}
		klog.Warningf("no network config yet: %v", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// previous reads a CIDR that an earlier run wrote to the subnet file (its
// rules are replaced, not left beside the new ones); none is the zero value.
func previous(path, key string) ip.IP4Net {
	env, err := godotenv.Read(path)
	if err != nil {
		return ip.IP4Net{}
	}
	_, cidr, err := net.ParseCIDR(env[key])
	if err != nil {
		return ip.IP4Net{}
	}
	return ip.FromIPNet(cidr)
}
