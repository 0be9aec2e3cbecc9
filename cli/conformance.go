package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/meshready/meshready/ops"
	"github.com/meshready/meshready/report"
)

func (a *app) conformanceCmd() *cobra.Command {
	var req ops.ConformanceRun
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Run Kubernetes' own conformance suite against a stack's cluster; exit 1 when a test fails",
		Long: `Runs the conformance tests of e2e.test, the suite the CNCF certification runs, built from
the cluster's Kubernetes release, against the stack's cluster: the tests that may run in
parallel on --processes processes, then the [Serial] ones alone. The result goes into the
region report (.meshready/reports/<stack>) as its Conformance section, with the JUnit files
and the suite's output in its conformance/ folder. On a local stack the suite's test images
are built here and imported into the nodes first; tests that cannot pass offline are
skipped and listed with the reason.

Without --full or --focus, a subset runs (API machinery, DNS, Services, Pods, ConfigMaps and
Secrets, scheduling; minutes).

  meshready conformance --stack local
  meshready conformance --stack local --full
  meshready conformance --stack oslo --focus '\[sig-network\] DNS'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.jsonOut = asJSON
			w, err := a.workspace()
			if err != nil {
				return err
			}
			res, err := w.Conformance(cmd.Context(), req)
			if err != nil {
				return err
			}
			if asJSON {
				if err := json.NewEncoder(a.stdout).Encode(res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stdout, "conformance: %s: %s\n", res.Verdict(), res.Summary())
				for _, f := range res.Failed {
					fmt.Fprintf(a.stdout, "FAILED   %s\n         %s\n", f.Name, f.Why)
				}
				for _, s := range res.Skipped {
					fmt.Fprintf(a.stdout, "SKIPPED  %s\n         %s\n", s.Name, s.Why)
				}
				fmt.Fprintf(a.stdout, "report: %s\n", filepath.Join(res.Dir, report.HTMLFile))
			}
			if len(res.Failed) > 0 {
				a.jsonOut = false // the result on stdout says it
				return fmt.Errorf("%d conformance test(s) failed (see %s)", len(res.Failed), filepath.Join(res.Dir, report.MarkdownFile))
			}
			return nil
		},
	}
	stackFlag(cmd, &req.Stack)
	cmd.Flags().BoolVar(&req.Selection.Full, "full", false, "run every conformance test (about an hour on the local stack)")
	cmd.Flags().StringVar(&req.Selection.Focus, "focus", "", "run the conformance tests whose text matches this regular expression")
	cmd.Flags().IntVar(&req.Processes, "processes", 0, "parallel processes for the tests that allow it (0: from the CPUs here)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON (an error too)")
	return cmd
}
