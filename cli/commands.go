package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/meshready/meshready/bundle"
	"github.com/meshready/meshready/config"
	"github.com/meshready/meshready/engine"
	"github.com/meshready/meshready/ops"
)

func stackFlag(cmd *cobra.Command, stack *string) {
	cmd.Flags().StringVarP(stack, "stack", "s", "local", "the stack (= region) to act on: a file stacks/Pulumi.<stack>.yaml")
}

func (a *app) validateCmd() *cobra.Command {
	var stack string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a stack's config; exit 2 with one line per problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.jsonOut = asJSON
			w, err := a.workspace()
			if err != nil {
				return err
			}
			cfg, err := w.ReadConfig(stack)
			if err != nil {
				return err
			}
			if err := ops.IstioWindow(cfg); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(a.stdout).Encode(map[string]any{
					"stack": stack, "ok": true, "provider": cfg.Provider, "region": cfg.Region,
					"controlPlanes": cfg.Nodes.ControlPlanes, "workers": cfg.Nodes.Workers,
					"kubernetesVersion": cfg.Kubernetes.Version.Tag(),
				})
			}
			fmt.Fprintf(a.stdout, "stack %s: ok (provider %s, region %s, %d control plane(s), %d worker(s), Kubernetes %s)\n",
				stack, cfg.Provider, cfg.Region, cfg.Nodes.ControlPlanes, cfg.Nodes.Workers, cfg.Kubernetes.Version.Tag())
			return nil
		},
	}
	stackFlag(cmd, &stack)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (an error too, with each problem's key)")
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

// workspace is the project as the operations see it, progress on stdout.
func (a *app) workspace() (ops.Workspace, error) {
	p, err := a.project()
	if err != nil {
		return ops.Workspace{}, err
	}
	c, err := a.cache()
	if err != nil {
		return ops.Workspace{}, err
	}
	return ops.Workspace{Project: p, Cache: c, Log: a.log, Getenv: a.getenv, Progress: a.stdout, Errors: a.stderr}, nil
}

func (a *app) lifecycleCmd(verb, short string) *cobra.Command {
	var stack string
	var yes, rebuild bool
	cmd := &cobra.Command{
		Use:   verb,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.lifecycle(cmd.Context(), ops.Lifecycle{Verb: verb, Stack: stack, Yes: yes, Rebuild: rebuild})
		},
	}
	stackFlag(cmd, &stack)
	if verb != "preview" {
		yesFlag(cmd, &yes)
	}
	if verb == "up" || verb == "preview" {
		cmd.Flags().BoolVar(&rebuild, "rebuild", false, "when the region, provider or subnets changed, or a Kubernetes version the cluster cannot be upgraded to: destroy the stack and bring it up anew (refused without)")
	}
	return cmd
}

func (a *app) lifecycle(ctx context.Context, l ops.Lifecycle) error {
	verb, stack := l.Verb, l.Stack
	w, err := a.workspace()
	if err != nil {
		return err
	}
	l.Confirm = a.confirmer()
	res, err := w.Run(ctx, l)
	if err != nil {
		return err
	}
	if res.Missing {
		fmt.Fprintf(a.stdout, "stack %s does not exist in the backend: nothing to %s\n", stack, verb)
	}
	if res.Kubeconfig != "" {
		fmt.Fprintf(a.stdout, "kubeconfig: %s\n", res.Kubeconfig)
	}
	return nil
}

func yesFlag(cmd *cobra.Command, yes *bool) {
	cmd.Flags().BoolVarP(yes, "yes", "y", false, "do not ask for confirmation (needed where there is no terminal)")
}

// confirmer asks a person (a.confirm), or is nil where nobody can answer.
func (a *app) confirmer() func(string) bool {
	if a.interactive() {
		return a.confirm
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
			a.jsonOut = asJSON
			w, err := a.workspace()
			if err != nil {
				return err
			}
			outs, err := w.Outputs(cmd.Context(), stack)
			if err != nil {
				return err
			}
			return printOutputs(a, ops.Shown(outs, showSecrets), asJSON)
		},
	}
	stackFlag(cmd, &stack)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "print secret outputs in plain text")
	return cmd
}

func printOutputs(a *app, vals map[string]any, asJSON bool) error {
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

func (a *app) toolsCmd() *cobra.Command {
	var kube, allReleases, withMesh, withConformance bool
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
			versions := []string{config.Defaults().Kubernetes.Version.Tag()}
			if allReleases {
				versions = bundle.Versions()
			}
			for _, v := range versions {
				if !kube && !allReleases {
					break
				}
				b, err := bundle.Ensure(cmd.Context(), c, config.Version(v), a.log)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "kubernetes bundle: %s\n", b.Dir)
			}
			if kube || allReleases {
				f, err := bundle.EnsureFlanneld(cmd.Context(), c)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "flanneld: %s (flannel %s)\n", f.Path, f.Version)
			}
			if withConformance {
				e, err := bundle.EnsureE2E(cmd.Context(), c, config.Defaults().Kubernetes.Version, a.log)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "conformance suite: %s\n", e.Test)
			}
			if withMesh {
				p, err := a.project()
				if err != nil {
					return err
				}
				if err := p.EnsureKubernetesPlugin(cmd.Context()); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "pulumi-kubernetes plugin: %s\n", filepath.Join(p.Dir, engine.KubernetesPluginDir))
				versions := []string{""} // the default snapshot
				if allReleases {
					pins, err := bundle.IstioPins(cmd.Context(), c)
					if err != nil {
						return err
					}
					versions = versions[:0]
					for _, pin := range pins {
						versions = append(versions, pin.Version)
					}
				}
				for _, v := range versions {
					m, err := bundle.EnsureMesh(cmd.Context(), c, a.log, v)
					if err != nil {
						return err
					}
					fmt.Fprintf(a.stdout, "mesh bundle: %s (Istio %s)\n", m.Dir, m.Version)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&withMesh, "mesh", false, "also build the pulumi-kubernetes plugin and the local mesh (istiod, pilot-agent, Prometheus, fortio; about 15 minutes the first time)")
	cmd.Flags().BoolVar(&kube, "kubernetes", false, "also build the air-gapped Kubernetes bundle local stacks install, and flanneld (about 18 minutes the first time)")
	cmd.Flags().BoolVar(&withConformance, "conformance", false, "also build Kubernetes' conformance suite (e2e.test, ginkgo) and its test images, which `meshready conformance` runs (about 2 minutes after the Kubernetes bundle)")
	cmd.Flags().BoolVar(&allReleases, "all-releases", false, "build the Kubernetes bundle of every release the local stack knows (the default and the one it upgrades to; about 15 minutes more the first time), and with --mesh every Istio snapshot (about 5 minutes more)")
	return cmd
}
