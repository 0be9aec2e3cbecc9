package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/engine"
	"github.com/meshready/meshready/envs"
	"github.com/meshready/meshready/report"
	"github.com/meshready/meshready/stacks"
)

// EnvCreate asks for a throw-away env made from a region stack.
type EnvCreate struct {
	Name, From string
	TTL        string
	// Sets are key=value overrides of the base stack's config.
	Sets []string
	// Out is the folder for kubeconfig, outputs.json and the report
	// ("" = .meshready/envs/<name>).
	Out   string
	Bench bool
}

// EnvResult is what env create made.
type EnvResult struct {
	envs.Meta
	Status     string `json:"status"`
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Outputs    string `json:"outputs"`
	Report     string `json:"report,omitempty"`
}

// CreateEnv creates (or converges) an env, brings it up and writes what CI
// needs into Out. Everything that can be wrong with the request is found
// before anything is made.
func (w Workspace) CreateEnv(ctx context.Context, r EnvCreate) (EnvResult, error) {
	var res EnvResult
	p := w.Project
	if err := envs.CheckName(r.Name, w.KnownStacks()); err != nil {
		return res, BadInput{err}
	}
	if r.From == "" {
		return res, Inputf("--from is required: the region stack to start from (stacks here: %s)", strings.Join(w.KnownStacks(), ", "))
	}
	ttl, err := envs.ParseTTL(r.TTL)
	if err != nil {
		return res, BadInput{err}
	}
	baseFile, err := os.ReadFile(p.StackFile(r.From))
	if err != nil {
		return res, Inputf("--from %s: no file %s (stacks here: %s)", r.From, p.StackFile(r.From), strings.Join(w.KnownStacks(), ", "))
	}
	// Benchmarks run only when asked (--bench); a --set of its own wins.
	sets := []envs.Set{{Key: envs.Namespace + ":benchmarks", Path: []string{"enabled"}, Value: r.Bench}}
	if !r.Bench {
		sets = append(sets, envs.Set{Key: envs.Namespace + ":benchmarks", Path: []string{"gate"}, Value: false})
	}
	for _, s := range r.Sets {
		set, err := envs.ParseSet(s)
		if err != nil {
			return res, BadInput{err}
		}
		sets = append(sets, set)
	}
	// The env's kubeconfig goes into Out: a file path shared by every env
	// of one base would be overwritten by each.
	unset := []envs.Set{{Key: envs.Namespace + ":kubernetes", Path: []string{"kubeconfigFile"}}}
	derived, err := envs.StackFile(r.Name, r.From, baseFile, sets, unset)
	if err != nil {
		return res, BadInput{err}
	}
	ep, err := p.EnvWorkspace()
	if err != nil {
		return res, err
	}
	cfg, err := w.checkEnvConfig(ep, r.Name, derived)
	if err != nil {
		return res, err
	}
	env, err := w.ProgramEnv(ctx, cfg)
	if err != nil {
		return res, err
	}
	out := r.Out
	if out == "" {
		out = filepath.Join(p.Dir, engine.EnvDir, r.Name)
	}
	// The outputs folder is made now: a path that cannot hold them is bad
	// input, found before a cluster exists rather than after.
	if err := os.MkdirAll(out, 0o700); err != nil {
		return res, Inputf("--out %s: %v", out, err)
	}
	if r.Bench {
		env.ReportDir = filepath.Join(out, "report")
	}

	unlock, err := ep.Lock(r.Name)
	if err != nil {
		return res, err
	}
	defer unlock()
	secrets, err := w.baseSecrets(ctx, r.From, derived.Secrets)
	if err != nil {
		return res, err
	}
	if err := writeFile(ep.StackFile(r.Name), derived.File, 0o600); err != nil {
		return res, err
	}
	var meta envs.Meta
	st, err := ep.Upsert(ctx, r.Name, func(raw config.Raw) pulumi.RunFunc {
		return stacks.Program(raw, env)
	}, func(ctx context.Context, st auto.Stack) error {
		for k, v := range secrets {
			if err := ep.SetSecret(ctx, r.Name, k, v); err != nil {
				return fmt.Errorf("re-encrypt %s for the env: %w", k, err)
			}
		}
		// Tags first, so that a create that fails or is killed from here on is
		// still listed, expires and is collected by gc.
		meta, err = w.tagEnv(ctx, st, r.Name, r.From, ttl)
		return err
	})
	if err != nil {
		return res, err
	}
	fmt.Fprintf(w.Errors, "env %s: from %s, expires %s; up...\n", r.Name, r.From, meta.Expires.Format(time.RFC3339))
	if _, err := st.Up(ctx, optup.ProgressStreams(w.Errors), optup.ErrorProgressStreams(w.Errors)); err != nil {
		if auto.IsConcurrentUpdateError(err) {
			return res, fmt.Errorf("env %s: locked: another update of this env runs (on another machine, or it died: then run pulumi cancel)", r.Name)
		}
		return res, fmt.Errorf("env %s: up failed (see the output above); it stays listed until env destroy or gc", r.Name)
	}
	res, err = writeEnvOutputs(ctx, st, meta, out)
	if r.Bench {
		res.Report = env.ReportDir
	}
	return res, err
}

// tagEnv tags an env's stack with who made it from what, and when it expires.
func (w Workspace) tagEnv(ctx context.Context, st auto.Stack, name, from string, ttl time.Duration) (envs.Meta, error) {
	tags, err := st.Workspace().ListTags(ctx, name)
	if err != nil {
		return envs.Meta{}, fmt.Errorf("tags: %w", err)
	}
	var prev *envs.Meta
	if m, ok := envs.FromTags(name, tags); ok {
		prev = &m
	}
	meta := envs.NewMeta(name, from, creator(w.Getenv), ttl, time.Now(), prev)
	for k, v := range meta.Tags() {
		if tags[k] == v {
			continue
		}
		if err := st.Workspace().SetTag(ctx, name, k, v); err != nil {
			return meta, fmt.Errorf("tag %s: %w", k, err)
		}
	}
	return meta, nil
}

// checkEnvConfig validates the env's config as up will read it (secrets as
// placeholders), so a bad --set is BadInput before any stack exists.
func (w Workspace) checkEnvConfig(ep *engine.Project, name string, d envs.Derived) (*config.Config, error) {
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
		return nil, BadInput{err}
	}
	for _, k := range d.Secrets {
		raw.Values[k], raw.Secrets[k] = "[secure]", true
	}
	raw.AddEnv(w.Getenv)
	return config.Parse(raw)
}

// baseSecrets decrypts the base stack's secret values, for the env's stack to
// encrypt anew. Only a base stack that exists in the backend can decrypt them.
func (w Workspace) baseSecrets(ctx context.Context, base string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	if len(keys) == 0 {
		return out, nil
	}
	st, err := w.Project.Select(ctx, base)
	if auto.IsSelectStack404Error(err) {
		return nil, Inputf("stack %s has secret values (%s) that only its own stack can decrypt, and it does not exist in the backend: run meshready preview --stack %s once, or give the secrets by environment variable", base, strings.Join(keys, ", "), base)
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

// writeEnvOutputs writes what CI needs into out: kubeconfig (0600) and
// outputs.json (secrets hidden).
func writeEnvOutputs(ctx context.Context, st auto.Stack, meta envs.Meta, out string) (EnvResult, error) {
	res := EnvResult{Meta: meta, Status: envs.StatusReady, Outputs: filepath.Join(out, "outputs.json")}
	outs, err := st.Outputs(ctx)
	if err != nil {
		return res, fmt.Errorf("env %s: outputs: %w", meta.Name, err)
	}
	b, err := json.MarshalIndent(Shown(outs, false), "", "  ")
	if err != nil {
		return res, err
	}
	if err := writeFile(res.Outputs, append(b, '\n'), 0o644); err != nil {
		return res, err
	}
	if kc, _ := outs["kubeconfig"].Value.(string); kc != "" {
		res.Kubeconfig = filepath.Join(out, "kubeconfig")
		if err := writeFile(res.Kubeconfig, []byte(kc), 0o600); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Shown are a stack's outputs as meshready prints them: secrets as
// "[secret]" unless showSecrets.
func Shown(outs auto.OutputMap, showSecrets bool) map[string]any {
	vals := map[string]any{}
	for k, o := range outs {
		vals[k] = o.Value
		if o.Secret && !showSecrets {
			vals[k] = "[secret]"
		}
	}
	return vals
}

// DestroyEnv destroys an env's resources, removes its stack, stack file,
// outputs and report. It refuses stacks that are not envs.
func (w Workspace) DestroyEnv(ctx context.Context, name string) (alreadyGone bool, err error) {
	if err := envs.CheckName(name, w.KnownStacks()); err != nil {
		return false, BadInput{err}
	}
	ep, err := w.Project.EnvWorkspace()
	if err != nil {
		return false, err
	}
	return w.destroyEnv(ctx, ep, name)
}

func (w Workspace) destroyEnv(ctx context.Context, ep *engine.Project, name string) (alreadyGone bool, err error) {
	unlock, err := ep.Lock(name)
	if err != nil {
		return false, err
	}
	defer unlock()
	st, err := ep.Select(ctx, name)
	if auto.IsSelectStack404Error(err) {
		return true, w.removeEnvFiles(ep, name)
	}
	if err != nil {
		return false, err
	}
	tags, err := st.Workspace().ListTags(ctx, name)
	if err != nil {
		return false, fmt.Errorf("env %s: tags: %w", name, err)
	}
	if _, ok := envs.FromTags(name, tags); !ok {
		return false, Inputf("stack %s is not an env (no %s tag): env destroy leaves it alone; use meshready destroy --stack %s", name, envs.TagEnv, name)
	}
	fmt.Fprintf(w.Errors, "env %s: destroy...\n", name)
	if _, err := st.Destroy(ctx, optdestroy.ProgressStreams(w.Errors), optdestroy.ErrorProgressStreams(w.Errors)); err != nil {
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
	return false, w.removeEnvFiles(ep, name)
}

func (w Workspace) removeEnvFiles(ep *engine.Project, name string) error {
	var errs []error
	for _, path := range []string{
		ep.StackFile(name),
		filepath.Join(w.Project.Dir, engine.EnvDir, name),
		filepath.Join(w.Project.Dir, report.Dir(name)),
	} {
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
