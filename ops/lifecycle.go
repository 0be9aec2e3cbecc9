package ops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/meshready/meshready/bootstrap"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/mesh"
	"github.com/meshready/meshready/stacks"
)

// IstioWindow refuses a Kubernetes version outside the support window of
// the Istio the stack installs (a new stack's, or an upgrade's), before
// anything is created or changed. An Istio meshready has no window for is
// left to the mesh's precheck, which names it.
func IstioWindow(cfg *config.Config) error {
	if !cfg.Istio.Enabled || !cfg.Kubernetes.Enabled {
		return nil
	}
	_, minor, _, err := cfg.Kubernetes.Version.Parse()
	if err != nil {
		return nil // config.Parse has said so already
	}
	// The canary's revision runs on the cluster too.
	for _, istio := range []string{cfg.Istio.Version, cfg.Istio.Canary.Version} {
		if istio == "" {
			continue
		}
		ok, window, err := mesh.KubernetesSupported(istio, minor)
		if err != nil || ok {
			continue
		}
		return Inputf("meshready:kubernetes.version %s is outside the Kubernetes versions Istio %s supports (%s): "+
			"nothing was changed; keep Kubernetes inside the window, or move meshready:istio.version to a release that supports it first",
			cfg.Kubernetes.Version.Tag(), istio, window)
	}
	return nil
}

// Lifecycle is an up, preview, refresh or destroy of one stack.
type Lifecycle struct {
	Verb, Stack string
	// Yes skips the confirmation; without it Confirm is asked after a
	// preview, and a caller that cannot ask (Confirm nil) gets BadInput.
	Yes     bool
	Confirm func(question string) bool
	// Replace are URNs to replace even when nothing about them changed.
	Replace []string
	// Rebuild lets an up change what only a new cluster can (region,
	// provider, subnets, a Kubernetes version it cannot be upgraded to):
	// the stack is destroyed first.
	Rebuild bool
}

// LifecycleResult is what a lifecycle run left for the caller to say.
type LifecycleResult struct {
	// Missing: the stack does not exist in the backend (nothing to refresh or destroy).
	Missing bool
	// Kubeconfig is where up wrote the admin kubeconfig ("" = not asked for).
	Kubeconfig string
}

// Run runs a lifecycle verb on a stack.
func (w Workspace) Run(ctx context.Context, l Lifecycle) (LifecycleResult, error) {
	var res LifecycleResult
	if err := checkStack(l.Stack); err != nil {
		return res, err
	}
	p := w.Project
	done := w.timed(l.Verb + " " + l.Stack + ": prepare")
	// up and preview run the program: refuse bad config before the engine starts.
	// destroy and refresh must work even for a stack whose config went bad.
	// The program reads env when the engine runs it: ProgramEnv fills it in
	// once the config is known to fit the running cluster.
	owner, oerr := p.Owner()
	if oerr != nil {
		return res, oerr
	}
	env := stacks.Env{ProjectDir: p.Dir, Owner: owner}
	var cfg *config.Config
	if l.Verb == "up" || l.Verb == "preview" {
		var err error
		if cfg, err = w.ReadConfig(l.Stack); err != nil {
			return res, err
		}
		if err := IstioWindow(cfg); err != nil {
			return res, err
		}
	} else if cfg, err := w.ReadConfig(l.Stack); err == nil && cfg.Istio.Enabled {
		// Deleting the mesh's resources needs the pulumi-kubernetes plugin.
		if err := p.EnsureKubernetesPlugin(ctx); err != nil {
			return res, err
		}
	}
	if l.Verb != "preview" && !l.Yes && l.Confirm == nil {
		return res, Inputf("%s changes real infrastructure: pass --yes (there is no terminal to ask on)", l.Verb)
	}
	if l.Verb != "preview" {
		unlock, err := p.Lock(l.Stack)
		if err != nil {
			return res, err
		}
		defer unlock()
	}
	restore := p.KeepStackFile(l.Stack)
	defer func() {
		if err := restore(); err != nil {
			w.Log.Warn("could not take Pulumi's passphrase salt back out of the stack file", "stack", l.Stack, "err", err)
		}
	}()
	done()
	done = w.timed(l.Verb + " " + l.Stack + ": open the stack")
	var st auto.Stack
	var err error
	switch l.Verb {
	case "up", "preview":
		st, err = p.Upsert(ctx, l.Stack, func(raw config.Raw) pulumi.RunFunc { return stacks.Program(raw, env) })
	default:
		st, err = p.Select(ctx, l.Stack)
		if auto.IsSelectStack404Error(err) {
			res.Missing = true
			return res, nil
		}
	}
	if err != nil {
		return res, err
	}
	if cfg != nil {
		if err := w.needsNewCluster(ctx, st, cfg, l); err != nil {
			return res, err
		}
		if env, err = w.ProgramEnv(ctx, cfg); err != nil {
			return res, err
		}
	}
	if l.Verb != "preview" && !l.Yes {
		if err := w.preview(ctx, st, l.Verb, l.Replace); err != nil {
			return res, err
		}
		if !l.Confirm(fmt.Sprintf("Do you want to perform this %s on stack %s?", l.Verb, l.Stack)) {
			return res, Inputf("%s cancelled", l.Verb)
		}
	}
	done()
	done = w.timed(l.Verb + " " + l.Stack + ": engine")
	if err := w.run(ctx, st, l.Verb, l.Replace); err != nil {
		return res, err
	}
	done()
	if l.Verb == "up" {
		res.Kubeconfig, err = w.writeKubeconfig(ctx, st, l.Stack)
	}
	return res, err
}

// writeKubeconfig writes the cluster's admin kubeconfig (a secret output) to
// meshready:kubernetes.kubeconfigFile, mode 0600, when the stack asks for it.
func (w Workspace) writeKubeconfig(ctx context.Context, st auto.Stack, stack string) (string, error) {
	cfg, err := w.ReadConfig(stack)
	if err != nil || cfg.Kubernetes.KubeconfigFile == "" {
		return "", err
	}
	outs, err := st.Outputs(ctx)
	if err != nil {
		return "", fmt.Errorf("outputs of %s: %w", stack, err)
	}
	kc, _ := outs["kubeconfig"].Value.(string)
	if kc == "" {
		return "", nil
	}
	path := ExpandHome(cfg.Kubernetes.KubeconfigFile)
	if !filepath.IsAbs(path) {
		path = filepath.Join(w.Project.Dir, path)
	}
	if err := writeFile(path, []byte(kc), 0o600); err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	return path, nil
}

func (w Workspace) run(ctx context.Context, st auto.Stack, verb string, replace []string) error {
	var err error
	switch verb {
	case "up":
		_, err = st.Up(ctx, optup.ProgressStreams(w.Progress), optup.ErrorProgressStreams(w.Errors), optup.Replace(replace))
	case "preview":
		err = w.previewInWords(ctx, st, replace)
	case "refresh":
		_, err = st.Refresh(ctx, optrefresh.ProgressStreams(w.Progress), optrefresh.ErrorProgressStreams(w.Errors))
	case "destroy":
		_, err = st.Destroy(ctx, optdestroy.ProgressStreams(w.Progress), optdestroy.ErrorProgressStreams(w.Errors))
	}
	if err != nil {
		// Pulumi already streamed its diagnostics; keep the error short.
		if auto.IsConcurrentUpdateError(err) {
			return fmt.Errorf("%s %s: another update holds the stack's lock (if it died, run: pulumi cancel)", verb, st.Name())
		}
		return fmt.Errorf("%s %s failed (see the output above)", verb, st.Name())
	}
	return nil
}

// preview shows what verb would do, for the confirmation prompt.
func (w Workspace) preview(ctx context.Context, st auto.Stack, verb string, replace []string) error {
	var err error
	switch verb {
	case "up":
		err = w.previewInWords(ctx, st, replace)
	case "destroy":
		_, err = st.PreviewDestroy(ctx, optdestroy.ProgressStreams(w.Progress), optdestroy.ErrorProgressStreams(w.Errors))
	case "refresh":
		_, err = st.PreviewRefresh(ctx, optrefresh.ProgressStreams(w.Progress), optrefresh.ErrorProgressStreams(w.Errors))
	}
	if err != nil {
		return fmt.Errorf("preview of %s %s failed (see the output above)", verb, st.Name())
	}
	return nil
}

// needsNewCluster refuses, before the engine runs, a config that only a
// new cluster can have (a region, a provider, a pod or service subnet
// other than the running cluster's, as its outputs say, or a Kubernetes
// version the running one cannot be upgraded to: a downgrade, a skipped
// minor), unless the caller asked to rebuild: then an up destroys the
// stack first. A version one minor (or patch) ahead is an upgrade in
// place, said before it starts. (The plugin refuses the same in its
// diff, for plain pulumi up.)
func (w Workspace) needsNewCluster(ctx context.Context, st auto.Stack, cfg *config.Config, l Lifecycle) error {
	outs, err := st.Outputs(ctx)
	if err != nil || len(outs) == 0 {
		return nil // a new stack, or one without outputs: nothing runs yet
	}
	var diffs []string
	_, cluster := outs["apiServer"] // the cluster's own settings matter only where one runs
	for _, k := range []struct {
		key, output, want string
		cluster           bool
	}{
		{"meshready:region", "region", cfg.Region, false},
		{"meshready:provider", "provider", string(cfg.Provider), false},
		{"meshready:kubernetes.podSubnet", "podSubnet", cfg.Kubernetes.PodSubnet, true},
		{"meshready:kubernetes.serviceSubnet", "serviceSubnet", cfg.Kubernetes.ServiceSubnet, true},
	} {
		if k.cluster && !cluster {
			continue
		}
		if had, _ := outs[k.output].Value.(string); had != "" && had != k.want {
			diffs = append(diffs, fmt.Sprintf("%s is %s, the running cluster's is %s", k.key, k.want, had))
		}
	}
	if had, _ := outs["kubernetesVersion"].Value.(string); cluster && had != "" && had != cfg.Kubernetes.Version.Tag() {
		if err := bootstrap.CheckUpgrade(config.Version(had), cfg.Kubernetes.Version); err != nil {
			diffs = append(diffs, "meshready:"+err.Error())
		} else if l.Verb == "up" {
			fmt.Fprintf(w.Progress, "Kubernetes upgrade %s -> %s: every node in place, one at a time, under a steady load (see the report's Upgrade section)\n", had, cfg.Kubernetes.Version.Tag())
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	if !l.Rebuild {
		return Inputf("stack %s: %s: a running cluster does not change that in place; "+
			"nothing was changed. Put it back, or pass --rebuild to destroy the stack and bring it up anew", l.Stack, strings.Join(diffs, "; "))
	}
	if l.Verb != "up" {
		return nil
	}
	if !l.Yes && !l.Confirm(fmt.Sprintf("--rebuild: %s. Destroy stack %s, every node and its data, and bring it up anew?", strings.Join(diffs, "; "), l.Stack)) {
		return Inputf("up --rebuild cancelled")
	}
	fmt.Fprintf(w.Progress, "--rebuild: %s; destroying stack %s first\n", strings.Join(diffs, "; "), l.Stack)
	if _, err := st.Destroy(ctx, optdestroy.ProgressStreams(w.Progress), optdestroy.ErrorProgressStreams(w.Errors)); err != nil {
		return fmt.Errorf("--rebuild: destroy %s failed (see the output above)", l.Stack)
	}
	return nil
}

// previewInWords previews an up and then says what it will do to the
// cluster in words (Words): the engine lists resources, a person wants to
// read "drain and remove worker-2".
func (w Workspace) previewInWords(ctx context.Context, st auto.Stack, replace []string) error {
	ch := make(chan events.EngineEvent)
	var steps []Step
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range ch {
			if s, ok := stepOf(e); ok {
				steps = append(steps, s)
			}
		}
	}()
	_, err := st.Preview(ctx, optpreview.ProgressStreams(w.Progress), optpreview.ErrorProgressStreams(w.Errors),
		optpreview.Replace(replace), optpreview.EventStreams(ch))
	<-done
	if err != nil {
		return err
	}
	if words := Words(steps); len(words) > 0 {
		fmt.Fprintf(w.Progress, "\nWhat up will do to stack %s:\n", st.Name())
		for _, l := range words {
			fmt.Fprintf(w.Progress, "  - %s\n", l)
		}
	}
	return nil
}

// Outputs are a stack's outputs; a stack not yet in the backend is BadInput.
func (w Workspace) Outputs(ctx context.Context, stack string) (auto.OutputMap, error) {
	if err := checkStack(stack); err != nil {
		return nil, err
	}
	st, err := w.Project.Select(ctx, stack)
	if auto.IsSelectStack404Error(err) {
		return nil, Inputf("stack %s does not exist yet: run meshready up --stack %s", stack, stack)
	}
	if err != nil {
		return nil, err
	}
	outs, err := st.Outputs(ctx)
	if err != nil {
		return nil, fmt.Errorf("outputs of %s: %w", stack, err)
	}
	return outs, nil
}

// ExpandHome turns a leading ~/ into the user's home folder.
func ExpandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// timed logs (with -v) how long the step named what took, when the
// returned func is called: where a run's time goes.
func (w Workspace) timed(what string) func() {
	start := time.Now()
	return func() {
		w.Log.Debug("timing", "step", what, "took", time.Since(start).Round(time.Millisecond).String())
	}
}
