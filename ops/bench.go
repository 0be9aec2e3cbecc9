package ops

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/remote"
	"github.com/meshready/meshready/report"
)

// Bench is a benchmark run outside up: of one SSH host, or of a stack's nodes.
type Bench struct {
	// Stack names the stack whose nodes are measured ("" = Host).
	Stack string
	// Host, Auth and Region describe the one host measured without a stack.
	Host   remote.Target
	Auth   remote.Auth
	Region string
	// Out is the report folder ("" = the region's under .meshready/reports).
	Out     string
	Options benchmarks.Options
}

// BenchResult is the run's report and where it was written.
type BenchResult struct {
	Report report.Report
	Dir    string
}

// Bench measures, judges and writes the report.
func (w Workspace) Bench(ctx context.Context, b Bench) (BenchResult, error) {
	if err := config.CheckNodePath(b.Options.Dir); err != nil {
		return BenchResult{}, Inputf("--dir %v", err)
	}
	if b.Stack == "" {
		// The region names the report's folder when --out does not.
		if err := config.CheckStackName(b.Region); err != nil {
			return BenchResult{}, Inputf("--region %v", err)
		}
	}
	th := config.Defaults().Benchmarks.Thresholds
	region, provider := b.Region, "ssh"
	var nodes []remote.Node
	var err error
	if b.Stack == "" {
		var r remote.Runner
		if r, err = remote.Dial(ctx, b.Host, b.Auth, remote.DialOptions{Log: w.Log}); err == nil {
			nodes = []remote.Node{{Name: b.Host.Name, Address: b.Host.Address, Role: "host", Runner: r}}
		}
	} else {
		var cfg *config.Config
		if cfg, err = w.ReadConfig(b.Stack); err != nil {
			return BenchResult{}, err
		}
		region, provider, th = cfg.Region, string(cfg.Provider), cfg.Benchmarks.Thresholds
		nodes, err = w.stackNodes(ctx, b.Stack, cfg, b.Auth)
	}
	if err != nil {
		return BenchResult{}, err
	}
	defer func() {
		for _, n := range nodes {
			n.Runner.Close()
		}
	}()
	res := BenchResult{Dir: b.Out}
	if res.Dir == "" {
		res.Dir = filepath.Join(w.Project.Dir, report.Dir(region))
	}
	o := b.Options
	o.Log = w.Log
	results, rtts, notes := benchmarks.RunAll(ctx, nodes, o)
	res.Report = report.Evaluate(region, provider, results, rtts, th, time.Now().UTC())
	res.Report.Notes = append(res.Report.Notes, notes...)
	// Every run is kept; the report shows the newest HistoryKeep of them.
	if err := report.AppendHistory(res.Dir, res.Report); err != nil {
		return res, err
	}
	runs, err := report.ReadHistory(res.Dir, HistoryKeep)
	if err != nil {
		return res, err
	}
	res.Report.History = report.BuildHistory(runs)
	if res.Report.Conformance, err = report.ReadConformance(res.Dir); err != nil {
		return res, err
	}
	return res, report.Write(res.Dir, res.Report)
}

// HistoryKeep is how many of a region's bench runs its report charts (all
// are kept in the history folder).
const HistoryKeep = 30

// stackNodes connects to a stack's nodes. Static stacks are known from
// their config alone; created nodes (local, hetzner) come from the stack's
// outputs, with the stack's login key.
func (w Workspace) stackNodes(ctx context.Context, stack string, cfg *config.Config, auth remote.Auth) ([]remote.Node, error) {
	auth.IdentityFile = ExpandHome(cfg.SSH.IdentityFile)
	var targets []nodeTarget
	if cfg.Provider == config.ProviderStatic {
		for i, h := range cfg.Nodes.Static {
			role := config.RoleWorker
			if i < cfg.Nodes.ControlPlanes {
				role = config.RoleControlPlane
			}
			targets = append(targets, nodeTarget{role, remote.Target{Name: h.Address, Address: h.Address, Port: h.Port, User: h.User, HostKey: h.HostKey}})
		}
	} else {
		var err error
		if targets, auth.PrivateKey, err = w.nodesFromOutputs(ctx, stack); err != nil {
			return nil, err
		}
	}
	var nodes []remote.Node
	var errs []error
	for _, n := range targets {
		r, err := remote.Dial(ctx, n.target, auth, remote.DialOptions{Log: w.Log})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		nodes = append(nodes, remote.Node{Name: n.target.Name, Role: n.role, Address: n.target.Address, Runner: r})
	}
	if len(errs) > 0 {
		for _, n := range nodes {
			n.Runner.Close()
		}
		return nil, errors.Join(errs...)
	}
	return nodes, nil
}

// nodeTarget is a node to connect to, with its role.
type nodeTarget struct {
	role   string
	target remote.Target
}

// nodesFromOutputs reads the nodes and the login key that up exported.
func (w Workspace) nodesFromOutputs(ctx context.Context, stack string) ([]nodeTarget, []byte, error) {
	outs, err := w.Outputs(ctx, stack)
	if err != nil {
		return nil, nil, Inputf("stack %s has no nodes yet: run meshready up --stack %s first", stack, stack)
	}
	var nodes []struct {
		Name, Role, Address, SSHUser, HostKey string
		SSHPort                               int
	}
	b, _ := json.Marshal(outs["nodes"].Value)
	if err := json.Unmarshal(b, &nodes); err != nil || len(nodes) == 0 {
		return nil, nil, Inputf("stack %s has no nodes in its outputs: run meshready up --stack %s first", stack, stack)
	}
	key, _ := outs["sshPrivateKey"].Value.(string)
	var out []nodeTarget
	for _, n := range nodes {
		out = append(out, nodeTarget{n.Role, remote.Target{Name: n.Name, Address: n.Address, Port: n.SSHPort, User: n.SSHUser, HostKey: n.HostKey}})
	}
	return out, []byte(key), nil
}
