package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/meshready/meshready/bundle"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/engine"
	"github.com/meshready/meshready/internal/fsutil"
	"github.com/meshready/meshready/stacks"
)

func stackFlag(cmd *cobra.Command, stack *string) {
	cmd.Flags().StringVarP(stack, "stack", "s", "local", "the stack (= region) to act on: a file stacks/Pulumi.<stack>.yaml")
}

func (a *app) validateCmd() *cobra.Command {
	var stack string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a stack's config; exit 2 with one line per problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.project()
			if err != nil {
				return err
			}
			cfg, err := a.readConfig(p, stack)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "stack %s: ok (provider %s, region %s, %d control plane(s), %d worker(s), Kubernetes %s)\n",
				stack, cfg.Provider, cfg.Region, cfg.Nodes.ControlPlanes, cfg.Nodes.Workers, cfg.Kubernetes.Version.Tag())
			return nil
		},
	}
	stackFlag(cmd, &stack)
	return cmd
}

// project opens the project without starting anything.
func (a *app) project() (*engine.Project, error) {
	c, err := a.cache()
	if err != nil {
		return nil, err
	}
	return engine.Open(engine.Options{
		ProjectDir:      a.projectDir,
		Cache:           c,
		SecretsProvider: a.secretsProvider,
		Getenv:          a.getenv,
		Log:             a.log,
		PluginBinary:    a.getenv("MESHREADY_PLUGIN_BINARY"),
	})
}

// readConfig reads and validates a stack's file; problems come back as config.Problems (exit 2).
func (a *app) readConfig(p *engine.Project, stack string) (*config.Config, error) {
	if _, err := os.Stat(p.StackFile(stack)); err != nil {
		return nil, badInputf("stack %q: no file %s (stacks here: %s)", stack, p.StackFile(stack), strings.Join(a.knownStacks(p), ", "))
	}
	raw, err := p.ReadStackFile(stack)
	if err != nil {
		return nil, badInput{err}
	}
	return config.Parse(raw)
}

func (a *app) knownStacks(p *engine.Project) []string {
	files, _ := filepath.Glob(filepath.Join(p.Dir, p.StackConfigDir, "Pulumi.*.yaml"))
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"))
	}
	sort.Strings(names)
	return names
}

func (a *app) lifecycleCmd(verb, short string) *cobra.Command {
	var stack string
	var yes bool
	cmd := &cobra.Command{
		Use:   verb,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.lifecycle(cmd.Context(), verb, stack, yes)
		},
	}
	stackFlag(cmd, &stack)
	if verb != "preview" {
		cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation (needed where there is no terminal)")
	}
	return cmd
}

func (a *app) lifecycle(ctx context.Context, verb, stack string, yes bool) error {
	p, err := a.project()
	if err != nil {
		return err
	}
	// up and preview run the program: refuse bad config before the engine starts.
	// destroy and refresh must work even for a stack whose config went bad.
	env := stacks.Env{ProjectDir: p.Dir}
	if verb == "up" || verb == "preview" {
		cfg, err := a.readConfig(p, stack)
		if err != nil {
			return err
		}
		if env.LocalMesh, err = a.prepareMesh(ctx, p, cfg); err != nil {
			return err
		}
	} else if cfg, err := a.readConfig(p, stack); err == nil && cfg.Istio.Enabled {
		// Deleting the mesh's resources needs the pulumi-kubernetes plugin.
		if err := p.EnsureKubernetesPlugin(ctx); err != nil {
			return err
		}
	}
	if verb != "preview" && !yes && !a.interactive() {
		return badInputf("%s changes real infrastructure: pass --yes (there is no terminal to ask on)", verb)
	}

	if verb != "preview" {
		unlock, err := p.Lock(stack)
		if err != nil {
			return err
		}
		defer unlock()
	}
	restore := p.KeepStackFile(stack)
	defer func() {
		if err := restore(); err != nil {
			a.log.Warn("could not take Pulumi's passphrase salt back out of the stack file", "stack", stack, "err", err)
		}
	}()
	var st auto.Stack
	switch verb {
	case "up", "preview":
		st, err = p.Upsert(ctx, stack, func(raw config.Raw) pulumi.RunFunc {
			return stacks.Program(raw, env)
		})
	default:
		st, err = p.Select(ctx, stack)
		if auto.IsSelectStack404Error(err) {
			fmt.Fprintf(a.stdout, "stack %s does not exist in the backend: nothing to %s\n", stack, verb)
			return nil
		}
	}
	if err != nil {
		return err
	}
	if verb != "preview" && !yes {
		if err := a.previewFor(ctx, st, verb); err != nil {
			return err
		}
		if !a.confirm(fmt.Sprintf("Do you want to perform this %s on stack %s?", verb, stack)) {
			return badInputf("%s cancelled", verb)
		}
	}
	if err := a.run(ctx, st, verb); err != nil {
		return err
	}
	if verb == "up" {
		return a.writeKubeconfig(ctx, p, st, stack)
	}
	return nil
}

// writeKubeconfig writes the cluster's admin kubeconfig (a secret output) to
// meshready:kubernetes.kubeconfigFile, mode 0600, when the stack asks for it.
func (a *app) writeKubeconfig(ctx context.Context, p *engine.Project, st auto.Stack, stack string) error {
	cfg, err := a.readConfig(p, stack)
	if err != nil || cfg.Kubernetes.KubeconfigFile == "" {
		return err
	}
	outs, err := st.Outputs(ctx)
	if err != nil {
		return fmt.Errorf("outputs of %s: %w", stack, err)
	}
	kc, _ := outs["kubeconfig"].Value.(string)
	if kc == "" {
		return nil
	}
	path := expandHome(cfg.Kubernetes.KubeconfigFile)
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.Dir, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := fsutil.WriteFile(path, []byte(kc), 0o600); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	fmt.Fprintf(a.stdout, "kubeconfig: %s\n", path)
	return nil
}

func (a *app) run(ctx context.Context, st auto.Stack, verb string) error {
	var err error
	switch verb {
	case "up":
		_, err = st.Up(ctx, optup.ProgressStreams(a.stdout), optup.ErrorProgressStreams(a.stderr))
	case "preview":
		_, err = st.Preview(ctx, optpreview.ProgressStreams(a.stdout), optpreview.ErrorProgressStreams(a.stderr))
	case "refresh":
		_, err = st.Refresh(ctx, optrefresh.ProgressStreams(a.stdout), optrefresh.ErrorProgressStreams(a.stderr))
	case "destroy":
		_, err = st.Destroy(ctx, optdestroy.ProgressStreams(a.stdout), optdestroy.ErrorProgressStreams(a.stderr))
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

// previewFor shows what verb would do, for the confirmation prompt.
func (a *app) previewFor(ctx context.Context, st auto.Stack, verb string) error {
	var err error
	switch verb {
	case "up":
		_, err = st.Preview(ctx, optpreview.ProgressStreams(a.stdout), optpreview.ErrorProgressStreams(a.stderr))
	case "destroy":
		_, err = st.PreviewDestroy(ctx, optdestroy.ProgressStreams(a.stdout), optdestroy.ErrorProgressStreams(a.stderr))
	case "refresh":
		_, err = st.PreviewRefresh(ctx, optrefresh.ProgressStreams(a.stdout), optrefresh.ErrorProgressStreams(a.stderr))
	}
	if err != nil {
		return fmt.Errorf("preview of %s %s failed (see the output above)", verb, st.Name())
	}
	return nil
}

// interactive is true when a person can answer a prompt: never under CI.
func (a *app) interactive() bool {
	if a.getenv("CI") == "true" {
		return false
	}
	f, ok := a.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (a *app) confirm(question string) bool {
	fmt.Fprintf(a.stdout, "%s [y/N] ", question)
	var answer string
	fmt.Fscanln(a.stdin, &answer)
	return strings.EqualFold(answer, "y") || strings.EqualFold(answer, "yes")
}

func (a *app) outputsCmd() *cobra.Command {
	var stack string
	var asJSON, showSecrets bool
	cmd := &cobra.Command{
		Use:   "outputs",
		Short: "Print a stack's outputs (secrets hidden unless --show-secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.project()
			if err != nil {
				return err
			}
			st, err := p.Select(cmd.Context(), stack)
			if auto.IsSelectStack404Error(err) {
				return badInputf("stack %s does not exist yet: run meshready up --stack %s", stack, stack)
			}
			if err != nil {
				return err
			}
			outs, err := st.Outputs(cmd.Context())
			if err != nil {
				return fmt.Errorf("outputs of %s: %w", stack, err)
			}
			return printOutputs(a, outs, asJSON, showSecrets)
		},
	}
	stackFlag(cmd, &stack)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "print secret outputs in plain text")
	return cmd
}

func printOutputs(a *app, outs auto.OutputMap, asJSON, showSecrets bool) error {
	vals := map[string]any{}
	for k, o := range outs {
		if o.Secret && !showSecrets {
			vals[k] = "[secret]"
			continue
		}
		vals[k] = o.Value
	}
	if asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(vals)
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := vals[k]
		if s, ok := v.(string); ok {
			fmt.Fprintf(a.stdout, "%s: %s\n", k, s)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%s: %s\n", k, b)
	}
	return nil
}

// prepareMesh builds, before the engine starts, what a stack's mesh needs
// from meshready's cache: the pulumi-kubernetes plugin, and for a local
// stack the mesh bundle (Istio's charts and images, Prometheus). The first
// time this takes minutes, with progress in the log.
func (a *app) prepareMesh(ctx context.Context, p *engine.Project, cfg *config.Config) (*bundle.Mesh, error) {
	if !cfg.Istio.Enabled {
		return nil, nil
	}
	if err := p.EnsureKubernetesPlugin(ctx); err != nil {
		return nil, err
	}
	if cfg.Provider != "local" {
		return nil, nil
	}
	c, err := a.cache()
	if err != nil {
		return nil, err
	}
	m, err := bundle.EnsureMesh(ctx, c, a.log)
	if err != nil {
		return nil, err
	}
	if cfg.Istio.Version != m.Version {
		return nil, badInputf("meshready:istio.version is %s, but a local stack installs the Istio pinned in tools/istio, %s: set it to %q",
			cfg.Istio.Version, m.Version, m.Version)
	}
	return m, nil
}

func (a *app) toolsCmd() *cobra.Command {
	var kube, withMesh bool
	cmd := &cobra.Command{
		Use:   "tools",
		Short: "Build the pinned tools (the Pulumi CLI, the local Kubernetes bundle) into the cache if missing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.cache()
			if err != nil {
				return err
			}
			root, err := c.Ensure(cmd.Context(), engine.PulumiTool())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "pulumi: %s\n", filepath.Join(root, "bin", "pulumi"))
			if kube {
				b, err := bundle.Ensure(cmd.Context(), c, config.Defaults().Kubernetes.Version, a.log)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "kubernetes bundle: %s\n", b.Dir)
			}
			if withMesh {
				p, err := a.project()
				if err != nil {
					return err
				}
				if err := p.EnsureKubernetesPlugin(cmd.Context()); err != nil {
					return err
				}
				m, err := bundle.EnsureMesh(cmd.Context(), c, a.log)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "pulumi-kubernetes plugin: %s\nmesh bundle: %s (Istio %s)\n", filepath.Join(p.Dir, engine.KubernetesPluginDir), m.Dir, m.Version)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&withMesh, "mesh", false, "also build the pulumi-kubernetes plugin and the local mesh (istiod, pilot-agent, Prometheus, fortio; about 15 minutes the first time)")
	cmd.Flags().BoolVar(&kube, "kubernetes", false, "also build the air-gapped Kubernetes bundle local stacks install (about 10 minutes the first time)")
	return cmd
}
