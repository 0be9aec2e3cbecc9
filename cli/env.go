package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshready/meshready/envs"
	"github.com/meshready/meshready/ops"
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
			a.jsonOut = f.asJSON
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

func (a *app) envCreate(ctx context.Context, f envCreateFlags) error {
	w, err := a.workspace()
	if err != nil {
		return err
	}
	res, err := w.CreateEnv(ctx, ops.EnvCreate{Name: f.name, From: f.from, TTL: f.ttl, Sets: f.sets, Out: f.out, Bench: f.bench})
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

func (a *app) envDestroyCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Destroy an env and remove its stack; an env already gone is fine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := a.workspace()
			if err != nil {
				return err
			}
			gone, err := w.DestroyEnv(cmd.Context(), name)
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

func (a *app) envListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List envs: name, base stack, age, expiry, status (ready, failed, updating, expired)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.jsonOut = asJSON
			w, err := a.workspace()
			if err != nil {
				return err
			}
			all, err := w.ListEnvs(cmd.Context())
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
			a.jsonOut = asJSON
			w, err := a.workspace()
			if err != nil {
				return err
			}
			res, err := w.GCEnvs(cmd.Context(), dryRun, func(name string, err error) {
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
