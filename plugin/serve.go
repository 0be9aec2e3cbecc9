package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pprovider "github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/contract"
	"github.com/meshready/meshready/infra"
	"github.com/meshready/meshready/infra/hetzner"
	"github.com/meshready/meshready/infra/local"
	"github.com/meshready/meshready/infra/static"
	"github.com/meshready/meshready/toolchain"
)

// Name is the file name the engine starts the plugin by; the meshready
// binary serves the plugin when started under this name (a symlink).
const Name = "pulumi-resource-meshready"

// Backends returns the backends the plugin serves, by the name a server's
// inputs give.
func Backends(log *slog.Logger) map[string]BackendFactory {
	hetznerShared := sharedBackends{}
	return map[string]BackendFactory{
		string(config.ProviderStatic): func(in contract.ServerInputs) (infra.Backend, error) {
			if in.Static == nil {
				return nil, fmt.Errorf("static server %s has no address", in.Name)
			}
			return static.New(static.Host{Address: in.Static.Address, Port: in.Static.Port, User: in.Static.User}), nil
		},
		string(config.ProviderLocal): func(in contract.ServerInputs) (infra.Backend, error) {
			if in.Local == nil {
				return nil, fmt.Errorf("local server %s has no bridge and subnet", in.Name)
			}
			subnet, err := netip.ParsePrefix(in.Local.Subnet)
			if err != nil {
				return nil, fmt.Errorf("local server %s: subnet: %w", in.Name, err)
			}
			cache, err := toolchain.DefaultDir(os.Getenv)
			if err != nil {
				return nil, err
			}
			return local.New(local.Options{CacheDir: cache, Bridge: in.Local.Bridge, Subnet: subnet, Stack: in.Stack, Log: log})
		},
		string(config.ProviderHetzner): func(in contract.ServerInputs) (infra.Backend, error) {
			if in.Hetzner == nil {
				return nil, fmt.Errorf("hetzner server %s has no API token", in.Name)
			}
			o := hetzner.Options{Token: in.Hetzner.Token, Endpoint: in.Hetzner.Endpoint, Stack: in.Stack,
				Identity: Identity(in.SSHPublicKey), AllowedCIDRs: in.Hetzner.AllowedCIDRs, Owner: in.Owner, Log: log}
			// One Backend for every Server of the stack this process serves:
			// the SSH key is looked up once and the actions and servers of
			// all the creates under way are polled together (Hetzner's
			// request budget is per project).
			return hetznerShared.get(o.Token+"\x00"+o.Endpoint+"\x00"+o.Stack+"\x00"+o.Identity+"\x00"+o.Owner+"\x00"+strings.Join(o.AllowedCIDRs, ","), func() (infra.Backend, error) { return hetzner.New(o) })
		},
	}
}

// sharedBackends keeps one Backend per key for the plugin's life.
type sharedBackends struct {
	mu sync.Mutex
	m  map[string]infra.Backend
}

func (s *sharedBackends) get(key string, make func() (infra.Backend, error)) (infra.Backend, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.m[key]; ok {
		return b, nil
	}
	b, err := make()
	if err != nil {
		return nil, err
	}
	if s.m == nil {
		s.m = map[string]infra.Backend{}
	}
	s.m[key] = b
	return b, nil
}

// Serve runs the plugin until the engine ends it. Logs go to stderr, which the
// engine shows with -v, and a resource's progress to the engine's log for
// it (Progress); the protocol itself runs over gRPC.
func Serve(version string) error {
	progress := NewProgress(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	log := slog.New(progress)
	p := New(version, Deps{
		Backends: Backends(log), Connect: SSHConnector{Wait: 10 * time.Minute, Log: log},
		Dial: SSHDialer(log), Log: log,
	})
	go watchEngine(os.Getppid(), time.Second, func() {
		log.Warn("the Pulumi engine that started this plugin is gone: cancelling and exiting")
		p.Orphaned(30 * time.Second)
		os.Exit(1)
	})
	return pprovider.Main("meshready", func(host *pprovider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		progress.SetEngine(host.Log)
		return plugin.NewProviderServer(p), nil
	})
}

// watchEngine calls gone once the process that started the plugin (the
// engine) has ended, seen as a change of parent. Pulumi starts plugins in
// their own process group, so a signal that kills the engine's group leaves
// them running; without this they would run their steps to the end and stay.
func watchEngine(engine int, every time.Duration, gone func()) {
	for os.Getppid() == engine {
		time.Sleep(every)
	}
	gone()
}

// Identity is a stack's own label value: the first 20 hex digits of the
// SHA-256 of its login key, a key pair made once per stack and kept in its
// state. Two checkouts or backends that use the same stack name have
// different keys, so neither adopts nor deletes the other's servers.
func Identity(sshPublicKey string) string {
	if strings.TrimSpace(sshPublicKey) == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(sshPublicKey)))
	return hex.EncodeToString(sum[:])[:20]
}
