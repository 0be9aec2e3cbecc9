package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/spf13/cobra"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/engine"
	"github.com/meshready/meshready/remote"
	"github.com/meshready/meshready/report"
)

type benchFlags struct {
	stack, host, identity, knownHosts, fingerprint, region, out, dir string
	diskRuntime, stealIdle, stealLoaded                              time.Duration
}

func (a *app) benchCmd() *cobra.Command {
	var f benchFlags
	def := config.Defaults().Benchmarks
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark disk, CPU steal and network of a stack's nodes, or of any SSH host, and write a report",
		Long: `Runs etcd's fio fdatasync test, a 4k QD1 random-read test, a CPU steal test (idle, then
loaded on every vCPU) and the RTT between nodes, in parallel on every node, and writes
report.json, report.md and report.html to --out. Each claim gets PASS, WARN, FAIL or NOT
MEASURABLE with its threshold and source. Exit 1 when a claim FAILs.

  meshready bench --stack oslo
  meshready bench --host root@203.0.113.7 --identity ~/.ssh/id_ed25519 \
      --host-key-fingerprint SHA256:... --region fsn1-trial --out reports/fsn1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.bench(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.stack, "stack", "s", "", "benchmark this stack's nodes")
	fl.StringVar(&f.host, "host", "", "benchmark one SSH host: [user@]addr[:port]")
	fl.StringVar(&f.identity, "identity", "", "private key file (default: the SSH agent)")
	fl.StringVar(&f.knownHosts, "known-hosts", "", "known_hosts file that pins the host's key")
	fl.StringVar(&f.fingerprint, "host-key-fingerprint", "", "the host key's SHA256:... fingerprint (ssh-keyscan HOST | ssh-keygen -lf -)")
	fl.StringVar(&f.region, "region", "", "region label for the report (with --host)")
	fl.StringVar(&f.out, "out", "", "report folder (default .meshready/reports/<region>)")
	fl.StringVar(&f.dir, "dir", "/var/lib", "folder on the node whose disk is tested (where etcd's data will live)")
	fl.DurationVar(&f.diskRuntime, "disk-runtime", def.DiskRuntime.D(), "random-read test length")
	fl.DurationVar(&f.stealIdle, "steal-idle", def.StealIdle.D(), "idle steal sampling")
	fl.DurationVar(&f.stealLoaded, "steal-loaded", def.StealLoaded.D(), "loaded steal sampling")
	return cmd
}

func (a *app) bench(ctx context.Context, f benchFlags) error {
	if (f.stack == "") == (f.host == "") {
		return badInputf("give exactly one of --stack or --host")
	}
	th := config.Defaults().Benchmarks.Thresholds
	var targets []benchmarks.Node
	var region, provider string
	var err error
	if f.host != "" {
		if f.region == "" {
			return badInputf("--host needs --region, the label the report carries")
		}
		region, provider = f.region, "ssh"
		targets, err = a.hostTarget(ctx, f)
	} else {
		var cfg *config.Config
		cfg, targets, err = a.stackTargets(ctx, f)
		if cfg != nil {
			region, provider, th = cfg.Region, string(cfg.Provider), cfg.Benchmarks.Thresholds
		}
	}
	if err != nil {
		return err
	}
	defer func() {
		for _, t := range targets {
			t.Runner.Close()
		}
	}()
	out := f.out
	if out == "" {
		out = filepath.Join(a.projectDir, ".meshready", "reports", region)
	}
	o := benchmarks.Options{Dir: f.dir, DiskRuntime: f.diskRuntime, StealIdle: f.stealIdle, StealLoaded: f.stealLoaded, Log: a.log}
	results, rtts, notes := benchmarks.RunAll(ctx, targets, o)
	r := report.Evaluate(region, provider, results, rtts, th, time.Now().UTC())
	r.Notes = append(r.Notes, notes...)
	if err := report.Write(out, r); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "report: %s\n", filepath.Join(out, "report.html"))
	failed := 0
	for _, c := range r.Claims {
		node := c.Node
		if node == "" {
			node = region
		}
		what := c.Measured
		if what == "" {
			what = "(" + c.Why + ")"
		}
		fmt.Fprintf(a.stdout, "%-15s %-18s %-22s %s\n", c.Verdict, c.ID, node, what)
		if c.Verdict == benchmarks.Fail {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d claim(s) FAIL (see %s)", failed, filepath.Join(out, "report.md"))
	}
	return nil
}

// hostTarget connects to the one --host.
func (a *app) hostTarget(ctx context.Context, f benchFlags) ([]benchmarks.Node, error) {
	if (f.knownHosts == "") == (f.fingerprint == "") {
		return nil, badInputf("--host needs exactly one of --known-hosts or --host-key-fingerprint: the host key is checked before the first connect")
	}
	if f.fingerprint != "" && !strings.HasPrefix(f.fingerprint, "SHA256:") {
		return nil, badInputf("--host-key-fingerprint %q: want SHA256:... (ssh-keygen -lf prints it)", f.fingerprint)
	}
	t, err := parseHost(f.host)
	if err != nil {
		return nil, badInput{err}
	}
	t.HostKey, t.KnownHosts = f.fingerprint, f.knownHosts
	r, err := remote.Dial(ctx, t, remote.Auth{IdentityFile: f.identity, AgentSocket: a.getenv("SSH_AUTH_SOCK")}, remote.DialOptions{Log: a.log})
	if err != nil {
		return nil, err
	}
	return []benchmarks.Node{{Name: t.Name, Address: t.Address, Role: "host", Runner: r}}, nil
}

// parseHost reads [user@]addr[:port] (IPv6 in brackets).
func parseHost(s string) (remote.Target, error) {
	t := remote.Target{User: "root", Port: 22}
	if u, rest, ok := strings.Cut(s, "@"); ok {
		t.User, s = u, rest
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host = strings.Trim(s, "[]")
	} else {
		p, perr := strconv.Atoi(port)
		if perr != nil || p < 1 || p > 65535 {
			return t, fmt.Errorf("--host %q: bad port", s)
		}
		t.Port = p
	}
	if host == "" || t.User == "" {
		return t, fmt.Errorf("--host %q: want [user@]addr[:port]", s)
	}
	t.Address, t.Name = host, host
	return t, nil
}

// stackTargets connects to a stack's nodes. Static stacks are known from their
// config alone; created nodes (local, hetzner) come from the stack's outputs.
func (a *app) stackTargets(ctx context.Context, f benchFlags) (*config.Config, []benchmarks.Node, error) {
	p, err := a.project()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := a.readConfig(p, f.stack)
	if err != nil {
		return nil, nil, err
	}
	auth := remote.Auth{IdentityFile: expandHome(cfg.SSH.IdentityFile), AgentSocket: a.getenv("SSH_AUTH_SOCK")}
	var targets []benchTarget
	if cfg.Provider == config.ProviderStatic {
		for i, h := range cfg.Nodes.Static {
			role := "worker"
			if i < cfg.Nodes.ControlPlanes {
				role = "control-plane"
			}
			targets = append(targets, benchTarget{role, remote.Target{Name: h.Address, Address: h.Address, Port: h.Port, User: h.User, HostKey: h.HostKey}})
		}
	} else {
		// Created nodes are known from the stack's outputs: addresses, pinned
		// host keys, and the stack's login key (a secret output).
		targets, auth.PrivateKey, err = a.nodesFromOutputs(ctx, p, f.stack)
		if err != nil {
			return cfg, nil, err
		}
	}
	var nodes []benchmarks.Node
	var errs []error
	for _, bt := range targets {
		r, err := remote.Dial(ctx, bt.target, auth, remote.DialOptions{Log: a.log})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		nodes = append(nodes, benchmarks.Node{Name: bt.target.Name, Address: bt.target.Address, Role: bt.role, Runner: r})
	}
	if len(errs) > 0 {
		for _, n := range nodes {
			n.Runner.Close()
		}
		return cfg, nil, errors.Join(errs...)
	}
	return cfg, nodes, nil
}

type benchTarget struct {
	role   string
	target remote.Target
}

// nodesFromOutputs reads the nodes and the login key that up exported.
func (a *app) nodesFromOutputs(ctx context.Context, p *engine.Project, stack string) ([]benchTarget, []byte, error) {
	st, err := p.Select(ctx, stack)
	if auto.IsSelectStack404Error(err) {
		return nil, nil, badInputf("stack %s has no nodes yet: run meshready up --stack %s first", stack, stack)
	}
	if err != nil {
		return nil, nil, err
	}
	outs, err := st.Outputs(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("outputs of %s: %w", stack, err)
	}
	var nodes []struct {
		Name, Role, Address, SSHUser, HostKey string
		SSHPort                               int
	}
	b, _ := json.Marshal(outs["nodes"].Value)
	if err := json.Unmarshal(b, &nodes); err != nil || len(nodes) == 0 {
		return nil, nil, badInputf("stack %s has no nodes in its outputs: run meshready up --stack %s first", stack, stack)
	}
	key, _ := outs["sshPrivateKey"].Value.(string)
	var out []benchTarget
	for _, n := range nodes {
		out = append(out, benchTarget{n.Role, remote.Target{Name: n.Name, Address: n.Address, Port: n.SSHPort, User: n.SSHUser, HostKey: n.HostKey}})
	}
	return out, []byte(key), nil
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}
