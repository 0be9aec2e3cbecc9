package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/meshready/meshready/infra"
)

// Get returns the machine while its nspawn runs. A machine whose nspawn is
// gone (stopped, killed behind our back, the host rebooted) is not found,
// whatever its folder still holds, so that a refresh sees it as deleted.
func (b *Backend) Get(ctx context.Context, id string) (infra.Server, error) {
	if !validID(id) {
		return infra.Server{}, fmt.Errorf("local machine %q: %w", id, infra.ErrNotFound)
	}
	r, err := readRecord(b.machineDir(id))
	if errors.Is(err, os.ErrNotExist) || (err == nil && !nspawnAlive(r.PID, r.ID)) {
		return infra.Server{}, fmt.Errorf("local machine %s: %w", id, infra.ErrNotFound)
	}
	if err != nil {
		return infra.Server{}, fmt.Errorf("local machine %s: %w", id, err)
	}
	return server(r), nil
}

// List returns the running machines that carry all of labels.
func (b *Backend) List(ctx context.Context, labels map[string]string) ([]infra.Server, error) {
	all, err := readRecords(b.machinesDir())
	if err != nil {
		return nil, fmt.Errorf("list local machines: %w", err)
	}
	var out []infra.Server
	for _, r := range all {
		if matches(r.Labels, labels) && nspawnAlive(r.PID, r.ID) {
			out = append(out, server(r))
		}
	}
	return out, nil
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func server(r record) infra.Server {
	return infra.Server{
		ID:             r.ID,
		Name:           r.Name,
		Status:         "running",
		PrivateIPv4:    r.Address.String(),
		SSHPort:        22,
		SSHUser:        "root",
		Labels:         r.Labels,
		Virtualization: Virtualization,
	}
}

// Delete stops the machine, removes its folder and so releases its address;
// the last machine on a bridge takes the bridge with it. Deleting what is
// already gone is not an error. Only folders under machines/ that carry
// this backend's id prefix are ever removed.
func (b *Backend) Delete(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("delete %q: not a local machine id", id)
	}
	dir := b.machineDir(id)
	r, err := readRecord(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		// A folder without a record: a delete interrupted after the record went.
		return removeTree(dir)
	case err != nil:
		return fmt.Errorf("delete %s: %w", id, err)
	}
	b.log.Info("deleting local machine", "host", r.Name, "id", id)
	stopMachine(ctx, r)
	if nspawnAlive(r.PID, r.ID) || leaderAlive(r.Leader, r.LeaderStart) {
		return fmt.Errorf("delete %s: the machine did not stop (nspawn pid %d)", id, r.PID)
	}
	removeMachineCgroups(id)
	// nspawn removes this itself, unless it was killed.
	if err := removeTree(propagateDir(id)); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	unlock, err := lock(context.WithoutCancel(ctx), b.lockPath())
	if err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	defer unlock()
	// The record goes last, so an interrupted delete is found and retried.
	for _, sub := range []string{"rootfs", "data"} {
		if err := removeTree(filepath.Join(dir, sub)); err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
	}
	if err := removeTree(dir); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	rest, err := readRecords(b.machinesDir())
	if err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	onBridge := 0
	for _, o := range rest {
		if o.Bridge == r.Bridge {
			onBridge++
		}
	}
	if onBridge == 0 {
		if err := deleteBridge(context.WithoutCancel(ctx), r.Bridge); err != nil {
			return fmt.Errorf("delete %s: bridge: %w", id, err)
		}
	}
	if len(rest) == 0 {
		cleanCgroups(b.dir)
	}
	return nil
}

// propagateDir is where systemd-nspawn keeps a machine's mount propagation
// folder on the host.
func propagateDir(id string) string { return "/run/systemd/nspawn/propagate/" + id }

// validID accepts only ids that MachineID makes, so no id reaches a path
// outside machines/.
func validID(id string) bool {
	name, ok := strings.CutPrefix(id, MachinePrefix)
	return ok && validName.MatchString(name)
}
