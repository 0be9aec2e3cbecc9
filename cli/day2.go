package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) nodeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Act on one node of a running cluster"}
	var stack string
	var yes bool
	replace := &cobra.Command{
		Use:   "replace NAME",
		Short: "Replace a node with a new server: the old one leaves the cluster (its etcd member first), the new one joins",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := a.workspace()
			if err != nil {
				return err
			}
			res, err := w.ReplaceNode(cmd.Context(), stack, args[0], yes, a.confirmer())
			if err == nil && res.Kubeconfig != "" {
				fmt.Fprintf(a.stdout, "kubeconfig: %s\n", res.Kubeconfig)
			}
			return err
		},
	}
	stackFlag(replace, &stack)
	yesFlag(replace, &yes)
	cmd.AddCommand(replace)
	return cmd
}

func (a *app) etcdCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "etcd", Short: "Snapshot and restore a cluster's etcd"}
	var stack, out, from string
	var yes bool
	snapshot := &cobra.Command{
		Use:   "snapshot",
		Short: "Save a snapshot of the cluster's etcd here (0600, with a .sha256 beside it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := a.workspace()
			if err != nil {
				return err
			}
			s, err := w.EtcdSnapshot(cmd.Context(), stack, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "snapshot: %s (%d bytes, sha256 %s)\n", s.Path, s.Bytes, s.SHA256)
			return nil
		},
	}
	stackFlag(snapshot, &stack)
	snapshot.Flags().StringVarP(&out, "out", "o", "", "the file to write (default .meshready/snapshots/<stack>/etcd-<time>.db)")
	restore := &cobra.Command{
		Use:   "restore",
		Short: "Put the cluster's etcd back to a snapshot (etcd's documented restore, on every control plane)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := a.workspace()
			if err != nil {
				return err
			}
			if err := w.EtcdRestore(cmd.Context(), stack, from, yes, a.confirmer()); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "restored stack %s's etcd from %s; every node is Ready\n", stack, from)
			return nil
		},
	}
	stackFlag(restore, &stack)
	restore.Flags().StringVar(&from, "from", "", "the snapshot file (from meshready etcd snapshot, or etcdctl snapshot save)")
	yesFlag(restore, &yes)
	restore.MarkFlagRequired("from")
	cmd.AddCommand(snapshot, restore)
	return cmd
}
