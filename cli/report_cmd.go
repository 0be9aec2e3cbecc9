package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/meshready/meshready/report"
)

func (a *app) reportCmd() *cobra.Command {
	var in []string
	var out string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Compare the reports of several regions side by side",
		Long: `Reads report.json from each --in folder (written by meshready bench) and writes
compare.md and compare.html to --out: one row per claim, one column per region.

  meshready report --in reports/hel1 --in reports/fsn1 --out reports/compare`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(in) == 0 || out == "" {
				return badInputf("give --in at least once and --out")
			}
			var reports []report.Report
			for _, dir := range in {
				r, err := report.Read(dir)
				if err != nil {
					return badInput{Err: err}
				}
				reports = append(reports, r)
			}
			html, err := report.CompareHTML(reports)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(out, "compare.md"), report.Compare(reports), 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(out, "compare.html"), html, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "compared %d regions: %s\n", len(reports), filepath.Join(out, "compare.html"))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&in, "in", nil, "a report folder (repeat for each region)")
	cmd.Flags().StringVar(&out, "out", "", "where compare.md and compare.html go")
	return cmd
}
