package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/meshready/meshready/ops"
)

func (a *app) gcCmd() *cobra.Command {
	var orphans, dryRun, asJSON, yes bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete what meshready made for this backend that belongs to no stack in it (--orphans)",
		Long: `gc --orphans lists what carries meshready's labels but belongs to no stack in this
project's backend: local machines on this host, and with HCLOUD_TOKEN set the Hetzner
project's servers, SSH keys, networks, firewalls and placement groups. What carries this
backend's label (meshready-backend) is deleted (--dry-run: only listed). What another
backend or checkout made, or what was made before the label, is listed and left alone.
Expired CI environments are collected by env gc.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.jsonOut = asJSON
			if !orphans {
				return badInputf("gc needs --orphans (expired CI environments: meshready env gc)")
			}
			w, err := a.workspace()
			if err != nil {
				return err
			}
			opts := ops.OrphanOptions{DryRun: dryRun}
			if !dryRun && !yes {
				confirm := a.confirmer()
				if confirm == nil {
					return badInputf("gc --orphans deletes real infrastructure: pass --yes (there is no terminal to ask on), or --dry-run")
				}
				// Look first, then ask; only what was agreed to goes.
				res, err := w.GCOrphans(cmd.Context(), ops.OrphanOptions{DryRun: true})
				if err != nil {
					return err
				}
				if len(res.Orphans) == 0 {
					return a.printOrphans(res, asJSON)
				}
				printThings(a.stdout, "would delete", res.Orphans)
				if !confirm(fmt.Sprintf("delete these %d?", len(res.Orphans))) {
					return fmt.Errorf("gc --orphans: nothing deleted")
				}
				opts.Confirmed = res.Orphans
			}
			res, err := w.GCOrphans(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if err := a.printOrphans(res, asJSON); err != nil {
				return err
			}
			if len(res.Failed) > 0 {
				return fmt.Errorf("gc --orphans: %d delete(s) failed", len(res.Failed))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&orphans, "orphans", false, "collect what belongs to no stack in the backend")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only list what would be deleted")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON (an error too)")
	yesFlag(cmd, &yes)
	return cmd
}

func (a *app) printOrphans(res ops.OrphanResult, asJSON bool) error {
	if asJSON {
		if res.Orphans == nil {
			res.Orphans = []ops.Thing{}
		}
		if res.Kept == nil {
			res.Kept = []ops.Thing{}
		}
		return json.NewEncoder(a.stdout).Encode(res)
	}
	verb := "deleted"
	if res.DryRun {
		verb = "would delete"
	}
	printThings(a.stdout, verb, res.Orphans)
	printThings(a.stdout, "kept", res.Kept)
	for where, why := range res.NotLooked {
		fmt.Fprintf(a.stdout, "not looked at: %s (%s)\n", where, why)
	}
	for what, why := range res.Failed {
		fmt.Fprintf(a.stdout, "failed: %s: %s\n", what, why)
	}
	return nil
}

func printThings(w io.Writer, verb string, things []ops.Thing) {
	if len(things) == 0 {
		fmt.Fprintf(w, "%s: none\n", verb)
		return
	}
	fmt.Fprintf(w, "%s:\n", verb)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range things {
		fmt.Fprintf(tw, "  %s %s\t%s\t%s\tstack %s\t%s\n", t.Where, t.Kind, t.Name, t.ID, t.Stack, t.Why)
	}
	tw.Flush()
}
