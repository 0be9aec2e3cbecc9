package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/spf13/cobra"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/engine"
	"github.com/meshready/meshready/envs"
	"github.com/meshready/meshready/internal/fsutil"
	"github.com/meshready/meshready/report"
	"github.com/meshready/meshready/stacks"
)

// envCmd is `meshready env`: throw-away stacks for CI (see package envs).
// Progress goes to stderr; stdout carries the result (JSON with --json).
func (a *app) envCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Throw-away environments for CI: create, destroy, list, gc",
		Long: `An env is a stack of its own, made from a region stack's config, tagged with its creator,
base, creation time and expiry. Its stack file lives in .meshready/envs, never in stacks/.
Exit codes: 0 ok, 1 failed, 2 bad input. No prompts: env commands never ask.`,
	}
	cmd.AddCommand(a.envCreateCmd(), a.envDestroyCmd(), a.envListCmd(), a.envGCCmd())
	return cmd
}

type envCreateFlags struct {
	name, from, ttl, out string
	sets                 []string
	bench, asJSON        bool
}

func (a *app) envCreateCmd() *cobra.Command {
	var f envCreateFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create (or converge) an env from a region stack, bring it up, write its kubeconfig and outputs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.envCreate(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "the env's name (lowercase letters, digits, dashes; e.g. pr-123)")
	fl.StringVar(&f.from, "from", "", "the region stack whose config the env starts from (stacks/Pulumi.<from>.yaml)")
	fl.StringVar(&f.ttl, "ttl", "4h", "how long the env may live before env gc destroys it (45m, 4h, 2d)")
	fl.StringArrayVar(&f.sets, "set", nil, "override a config value: key=value, e.g. nodes.workers=1 (repeatable)")
	fl.StringVar(&f.out, "out", "", "folder for kubeconfig (0600), outputs.json and, with --bench, the report (default .meshready/envs/<name>)")
	fl.BoolVar(&f.bench, "bench", false, "run the benchmarks and write the region report into --out")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	return cmd
}

// envResult is what env create prints.
type envResult struct {
	envs.Meta
	Status     string `json:"status"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Outputs    string `json:"outputs"`
	Report     string `json:"report,omitempty"`
}

func (a *app) envCreate(ctx context.Context, f envCreateFlags) error {
	p, err := a.project()
	if err != nil {
		return err
	}
	// Everything that can be wrong with the input is found before anything is made.
	if err := envs.CheckName(f.name, a.knownStacks(p)); err != nil {
		return badInput{err}
	}
	if f.from == "" {
		return badInputf("--from is required: the region stack to start from (stacks here: %s)", strings.Join(a.knownStacks(p), ", "))
	}
	ttl, err := envs.ParseTTL(f.ttl)
	if err != nil {
		return badInput{err}
	}
	baseFile, err := os.ReadFile(p.StackFile(f.from))
	if err != nil {
		return badInputf("--from %s: no file %s (stacks here: %s)", f.from, p.StackFile(f.from), strings.Join(a.knownStacks(p), ", "))
	}
	// Benchmarks run only when asked (--bench); a --set of its own wins.
	sets := []envs.Set{{Key: envs.Namespace + ":benchmarks", Path: []string{"enabled"}, Value: f.bench}}
	if !f.bench {
		sets = append(sets, envs.Set{Key: envs.Namespace + ":benchmarks", Path: []string{"gate"}, Value: false})
	}
	for _, s := range f.sets {
		set, err := envs.ParseSet(s)
		if err != nil {
			return badInput{err}
		}
		sets = append(sets, set)
	}
	// env create writes the kubeconfig into --out itself: a file path shared
	// by every env of one base would be overwritten by each.
	unset := []envs.Set{{Key: envs.Namespace + ":kubernetes", Path: []string{"kubeconfigFile"}}}
	derived, err := envs.StackFile(f.name, f.from, baseFile, sets, unset)
	if err != nil {
		return badInput{err}
	}
	ep, err := p.EnvWorkspace()
	if err != nil {
		return err
	}
	cfg, err := a.checkEnvConfig(ep, f.name, derived)
	if err != nil {
		return err
	}
	env := stacks.Env{ProjectDir: p.Dir}
	if env.LocalMesh, err = a.prepareMesh(ctx, p, cfg); err != nil {
		return err
	}
	out := f.out
	if out == "" {
		out = filepath.Join(p.Dir, engine.EnvDir, f.name)
	}
	// The outputs folder is made now: a path that cannot hold them is bad
	// input, found before a cluster exists rather than after.
	if err := os.MkdirAll(out, 0o700); err != nil {
		return badInputf("--out %s: %v", out, err)
	}

	unlock, err := ep.Lock(f.name)
	if err != nil {
		return err
	}
	defer unlock()
	secrets, err := a.baseSecrets(ctx, p, f.from, derived.Secrets)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(ep.StackFile(f.name), derived.File, 0o600); err != nil {
		return err
	}
	var meta envs.Meta
	st, err := ep.Upsert(ctx, f.name, func(raw config.Raw) pulumi.RunFunc {
		return stacks.Program(raw, env)
	}, func(ctx context.Context, st auto.Stack) error {
		for k, v := range secrets {
			if err := ep.SetSecret(ctx, f.name, k, v); err != nil {
				return fmt.Errorf("re-encrypt %s for the env: %w", k, err)
			}
		}
		// Tags first, so that a create that fails or is killed from here on is
		// still listed, expires and is collected by gc.
		tags, err := st.Workspace().ListTags(ctx, f.name)
		if err != nil {
			return fmt.Errorf("tags: %w", err)
		}
		var prev *envs.Meta
		if m, ok := envs.FromTags(f.name, tags); ok {
			prev = &m
		}
		meta = envs.NewMeta(f.name, f.from, creator(a.getenv), ttl, time.Now(), prev)
		for k, v := range meta.Tags() {
			if tags[k] == v {
				continue
			}
			if err := st.Workspace().SetTag(ctx, f.name, k, v); err != nil {
				return fmt.Errorf("tag %s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "env %s: from %s, expires %s; up...\n", f.name, f.from, meta.Expires.Format(time.RFC3339))
	if _, err := st.Up(ctx, optup.ProgressStreams(a.stderr), optup.ErrorProgressStreams(a.stderr)); err != nil {
		if auto.IsConcurrentUpdateError(err) {
			return fmt.Errorf("env %s: locked: another update of this env runs (on another machine, or it died: then run pulumi cancel)", f.name)
		}
		return fmt.Errorf("env %s: up failed (see the output above); it stays listed until env destroy or gc", f.name)
	}
	res, err := a.writeEnvOutputs(ctx, p, st, meta, out, f.bench)
	if err != nil {
		return err
	}
	if f.asJSON {
		return json.NewEncoder(a.stdout).Encode(res)
	}
	fmt.Fprintf(a.stdout, "env %s ready (expires %s)\n  kubeconfig: %s\n  outputs:    %s\n", res.Name, res.Expires.Format(time.RFC3339), res.Kubeconfig, res.Outputs)
	if res.Report != "" {
		fmt.Fprintf(a.stdout, "  report:     %s\n", res.Report)
	}
	return nil
}

// checkEnvConfig validates the env's config as up will read it (secrets as
// placeholders), so a bad --set is exit 2 before any stack exists.
func (a *app) checkEnvConfig(ep *engine.Project, name string, d envs.Derived) (*config.Config, error) {
	tmp, err := os.CreateTemp(filepath.Dir(ep.StackFile(name)), ".check-*.yaml")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(d.File); err != nil {
		tmp.Close()
		return nil, err
	}
	tmp.Close()
	raw, err := config.ReadStackFile(tmp.Name())
	if err != nil {
		return nil, badInput{err}
	}
	for _, k := range d.Secrets {
		raw.Values[k], raw.Secrets[k] = "[secure]", true
	}
	raw.AddEnv(a.getenv)
	return config.Parse(raw)
}

// baseSecrets decrypts the base stack's secret values, for the env's stack to
// encrypt anew. Only a base stack that exists in the backend can decrypt them.
func (a *app) baseSecrets(ctx context.Context, p *engine.Project, base string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	if len(keys) == 0 {
		return out, nil
	}
	st, err := p.Select(ctx, base)
	if auto.IsSelectStack404Error(err) {
		return nil, badInputf("stack %s has secret values (%s) that only its own stack can decrypt, and it does not exist in the backend: run meshready preview --stack %s once, or give the secrets by environment variable", base, strings.Join(keys, ", "), base)
	}
	if err != nil {
		return nil, err
	}
	all, err := st.GetAllConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("stack %s: read its secrets: %w", base, err)
	}
	for _, k := range keys {
		v, ok := all[k]
		if !ok {
			return nil, fmt.Errorf("stack %s: secret %s not readable", base, k)
		}
		out[k] = v.Value
	}
	return out, nil
}

// writeEnvOutputs writes what CI needs into out: kubeconfig (0600),
// outputs.json (secrets hidden) and, with bench, the region report.
func (a *app) writeEnvOutputs(ctx context.Context, p *engine.Project, st auto.Stack, meta envs.Meta, out string, bench bool) (envResult, error) {
	res := envResult{Meta: meta, Status: envs.StatusReady, Outputs: filepath.Join(out, "outputs.json")}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return res, err
	}
	outs, err := st.Outputs(ctx)
	if err != nil {
		return res, fmt.Errorf("env %s: outputs: %w", meta.Name, err)
	}
	vals := map[string]any{}
	for k, o := range outs {
		vals[k] = o.Value
		if o.Secret {
			vals[k] = "[secret]"
		}
	}
	b, err := json.MarshalIndent(vals, "", "  ")
	if err != nil {
		return res, err
	}
	if err := writeFileAtomic(res.Outputs, append(b, '\n'), 0o644); err != nil {
		return res, err
	}
	if kc, _ := outs["kubeconfig"].Value.(string); kc != "" {
		res.Kubeconfig = filepath.Join(out, "kubeconfig")
		if err := writeFileAtomic(res.Kubeconfig, []byte(kc), 0o600); err != nil {
			return res, err
		}
	}
	if bench {
		r, err := report.Read(filepath.Join(p.Dir, ".meshready", "reports", meta.Name))
		if err != nil {
			return res, fmt.Errorf("env %s: %w", meta.Name, err)
		}
		res.Report = filepath.Join(out, "report")
		if err := report.Write(res.Report, r); err != nil {
			return res, fmt.Errorf("env %s: %w", meta.Name, err)
		}
	}
	return res, nil
}

func (a *app) envDestroyCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Destroy an env and remove its stack; an env already gone is fine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.project()
			if err != nil {
				return err
			}
			if err := envs.CheckName(name, a.knownStacks(p)); err != nil {
				return badInput{err}
			}
			ep, err := p.EnvWorkspace()
			if err != nil {
				return err
			}
			gone, err := a.destroyEnv(cmd.Context(), p, ep, name)
			if err != nil {
				return err
			}
			if gone {
				fmt.Fprintf(a.stdout, "env %s does not exist: nothing to destroy\n", name)
			} else {
				fmt.Fprintf(a.stdout, "env %s destroyed\n", name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the env to destroy")
	return cmd
}

// destroyEnv destroys an env's resources, removes its stack, stack file,
// outputs and report. It refuses stacks that are not envs.
func (a *app) destroyEnv(ctx context.Context, p, ep *engine.Project, name string) (alreadyGone bool, err error) {
	unlock, err := ep.Lock(name)
	if err != nil {
		return false, err
	}
	defer unlock()
	st, err := ep.Select(ctx, name)
	if auto.IsSelectStack404Error(err) {
		return true, a.removeEnvFiles(p, ep, name)
	}
	if err != nil {
		return false, err
	}
	tags, err := st.Workspace().ListTags(ctx, name)
	if err != nil {
		return false, fmt.Errorf("env %s: tags: %w", name, err)
	}
	if _, ok := envs.FromTags(name, tags); !ok {
		return false, badInputf("stack %s is not an env (no %s tag): env destroy leaves it alone; use meshready destroy --stack %s", name, envs.TagEnv, name)
	}
	fmt.Fprintf(a.stderr, "env %s: destroy...\n", name)
	if _, err := st.Destroy(ctx, optdestroy.ProgressStreams(a.stderr), optdestroy.ErrorProgressStreams(a.stderr)); err != nil {
		if auto.IsConcurrentUpdateError(err) {
			return false, fmt.Errorf("env %s: locked: another update of this env runs", name)
		}
		return false, fmt.Errorf("env %s: destroy failed (see the output above)", name)
	}
	if err := st.Workspace().RemoveStack(ctx, name); err != nil {
		return false, fmt.Errorf("env %s: remove stack: %w", name, err)
	}
	if err := ep.PurgeRemoved(name); err != nil {
		return false, fmt.Errorf("env %s: %w", name, err)
	}
	return false, a.removeEnvFiles(p, ep, name)
}

func (a *app) removeEnvFiles(p, ep *engine.Project, name string) error {
	var errs []error
	for _, path := range []string{
		ep.StackFile(name),
		filepath.Join(p.Dir, engine.EnvDir, name),
		filepath.Join(p.Dir, ".meshready", "reports", name),
	} {
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (a *app) envListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List envs: name, base stack, age, expiry, status (ready, failed, updating, expired)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.envStore()
			if err != nil {
				return err
			}
			all, err := s.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if all == nil {
					all = []envs.Env{}
				}
				return json.NewEncoder(a.stdout).Encode(all)
			}
			printEnvs(a.stdout, all, time.Now())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func printEnvs(w io.Writer, all []envs.Env, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tBASE\tAGE\tEXPIRES\tSTATUS\tCREATOR")
	for _, e := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Base, now.Sub(e.Created).Round(time.Second),
			e.Expires.Format(time.RFC3339), e.Status, e.Creator)
	}
	tw.Flush()
}

func (a *app) envGCCmd() *cobra.Command {
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Destroy every expired env; each failure is reported and the others are still destroyed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.envStore()
			if err != nil {
				return err
			}
			res, err := envs.GC(cmd.Context(), s, time.Now(), dryRun, func(name string, err error) {
				if err != nil {
					fmt.Fprintf(a.stderr, "env %s: gc failed: %v\n", name, err)
				}
			})
			if err != nil {
				return err
			}
			if asJSON {
				if err := json.NewEncoder(a.stdout).Encode(res); err != nil {
					return err
				}
			} else {
				verb := "destroyed"
				if dryRun {
					verb = "would destroy"
				}
				fmt.Fprintf(a.stdout, "%s: %s\nkept: %s\n", verb, listOrNone(res.Destroyed), listOrNone(res.Kept))
				for name, why := range res.Failed {
					fmt.Fprintf(a.stdout, "failed: %s: %s\n", name, why)
				}
			}
			if len(res.Failed) > 0 {
				return fmt.Errorf("env gc: %d of %d expired env(s) could not be destroyed", len(res.Failed), len(res.Failed)+len(res.Destroyed))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only list what would be destroyed")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// envStore is the backend as package envs sees it.
type envStore struct {
	a     *app
	p, ep *engine.Project
}

func (a *app) envStore() (*envStore, error) {
	p, err := a.project()
	if err != nil {
		return nil, err
	}
	ep, err := p.EnvWorkspace()
	if err != nil {
		return nil, err
	}
	return &envStore{a: a, p: p, ep: ep}, nil
}

// List reads every stack of the project in the backend and keeps the envs
// (region stacks share the backend and carry no env tag).
func (s *envStore) List(ctx context.Context) ([]envs.Env, error) {
	ws, err := s.ep.Workspace(ctx)
	if err != nil {
		return nil, err
	}
	sums, err := ws.ListStacks(ctx)
	if err != nil {
		return nil, fmt.Errorf("list stacks: %w", err)
	}
	now := time.Now()
	var out []envs.Env
	for _, sum := range sums {
		tags, err := ws.ListTags(ctx, sum.Name)
		if err != nil {
			return nil, fmt.Errorf("stack %s: tags: %w", sum.Name, err)
		}
		m, ok := envs.FromTags(sum.Name, tags)
		if !ok {
			continue
		}
		o := envs.Observed{UpdateInProgress: sum.UpdateInProgress}
		if st, err := s.ep.Select(ctx, sum.Name); err == nil {
			if h, err := st.History(ctx, 1, 1); err == nil && len(h) > 0 {
				o.LastResult, o.LastKind = h[0].Result, h[0].Kind
			}
		}
		out = append(out, envs.Env{Meta: m, Status: envs.StatusOf(m, o, now), Age: now.Sub(m.Created).Round(time.Second).String()})
	}
	return out, nil
}

func (s *envStore) Destroy(ctx context.Context, name string) error {
	_, err := s.a.destroyEnv(ctx, s.p, s.ep, name)
	return err
}

// creator names who made an env: the CI's actor and run where there is one.
func creator(getenv func(string) string) string {
	if actor := getenv("GITHUB_ACTOR"); actor != "" {
		if run := getenv("GITHUB_RUN_ID"); run != "" {
			return actor + " (GitHub run " + run + ")"
		}
		return actor
	}
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return name
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return fsutil.WriteFile(path, data, mode)
}
