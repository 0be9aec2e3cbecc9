package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/ops"
	"github.com/meshready/meshready/remote"
	"github.com/meshready/meshready/report"
)

type benchFlags struct {
	stack, host, identity, knownHosts, fingerprint, region, out, dir string
	diskRuntime, stealIdle, stealLoaded                              time.Duration
	asJSON                                                           bool
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
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON (an error too)")
	return cmd
}

func (a *app) bench(ctx context.Context, f benchFlags) error {
	a.jsonOut = f.asJSON
	if (f.stack == "") == (f.host == "") {
		return badInputf("give exactly one of --stack or --host")
	}
	req := ops.Bench{Stack: f.stack, Region: f.region, Out: f.out, Auth: remote.Auth{AgentSocket: a.getenv("SSH_AUTH_SOCK")},
		Options: benchmarks.Options{Dir: f.dir, DiskRuntime: f.diskRuntime, StealIdle: f.stealIdle, StealLoaded: f.stealLoaded}}
	if f.host != "" {
		if f.region == "" {
			return badInputf("--host needs --region, the label the report carries")
		}
		if (f.knownHosts == "") == (f.fingerprint == "") {
			return badInputf("--host needs exactly one of --known-hosts or --host-key-fingerprint: the host key is checked before the first connect")
		}
		if f.fingerprint != "" && !strings.HasPrefix(f.fingerprint, "SHA256:") {
			return badInputf("--host-key-fingerprint %q: want SHA256:... (ssh-keygen -lf prints it)", f.fingerprint)
		}
		t, err := parseHost(f.host)
		if err != nil {
			return badInput{Err: err}
		}
		t.HostKey, t.KnownHosts = f.fingerprint, f.knownHosts
		req.Host, req.Auth.IdentityFile = t, f.identity
	}
	w, err := a.workspace()
	if err != nil {
		return err
	}
	res, err := w.Bench(ctx, req)
	if err != nil {
		return err
	}
	r := res.Report
	failed := 0
	for _, c := range r.Claims {
		if c.Verdict == benchmarks.Fail {
			failed++
		}
	}
	if f.asJSON {
		// The whole report, as report.json has it, and where it was written.
		if err := json.NewEncoder(a.stdout).Encode(struct {
			Dir string `json:"dir"`
			report.Report
		}{res.Dir, r}); err != nil {
			return err
		}
	} else {
		printClaims(a, res.Dir, r)
	}
	if failed > 0 {
		a.jsonOut = false // the report on stdout says it: one JSON document
		return fmt.Errorf("%d claim(s) FAIL (see %s)", failed, filepath.Join(res.Dir, report.MarkdownFile))
	}
	return nil
}

// printClaims prints one line per claim, for a person.
func printClaims(a *app, dir string, r report.Report) {
	fmt.Fprintf(a.stdout, "report: %s\n", filepath.Join(dir, report.HTMLFile))
	for _, c := range r.Claims {
		node := c.Node
		if node == "" {
			node = r.Region
		}
		what := c.Measured
		if what == "" {
			what = "(" + c.Why + ")"
		}
		fmt.Fprintf(a.stdout, "%-15s %-18s %-22s %s\n", c.Verdict, c.ID, node, what)
	}
	if h := r.History; h != nil {
		fmt.Fprintf(a.stdout, "history: %d runs of %s (see the report's History)\n", len(h.Runs), r.Region)
		for _, w := range h.Worse {
			fmt.Fprintf(a.stdout, "WORSE    %s\n", w)
		}
	}
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
