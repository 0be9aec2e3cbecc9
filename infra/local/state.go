package local

import (
	"github.com/meshready/meshready/internal/flock"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// record is what this backend knows of a machine, kept in its machine.json.
// A record exists from the moment an address is reserved until the machine
// is deleted, so a machine still booting holds its address too.
type record struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Address netip.Addr        `json:"address"`
	Subnet  netip.Prefix      `json:"subnet"`
	Bridge  string            `json:"bridge"`
	Labels  map[string]string `json:"labels,omitempty"`
	Stack   string            `json:"stack,omitempty"`
	// PID is systemd-nspawn's; 0 until it has started.
	PID int `json:"pid"`
	// Leader is the machine's init (its systemd) as the host sees it; Delete
	// kills it when nspawn died without stopping it.
	Leader      int       `json:"leader,omitempty"`
	LeaderStart uint64    `json:"leader_start,omitempty"` // its start time: PIDs are reused
	Created     time.Time `json:"created"`
}

const recordFile = "machine.json"

func readRecord(dir string) (record, error) {
	var r record
	data, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%s: %w", filepath.Join(dir, recordFile), err)
	}
	return r, nil
}

// writeRecord replaces the record atomically (temp file + rename), so a
// reader never sees half a file.
func writeRecord(dir string, r record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, recordFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, recordFile))
}

// readRecords returns the records of every machine under dir, sorted by id.
func readRecords(dir string) ([]record, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []record
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		r, err := readRecord(filepath.Join(dir, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // a folder whose record is gone: being deleted
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// errExists is a reserve for an id that has a record: another Create of the
// same machine is under way, and its machine is not ours to clean up.
var errExists = errors.New("another create of this machine is under way")

// reserve writes r with the lowest free address of its subnet, under the
// machines lock, then runs setup (the bridge) before the lock is released, so
// two Creates, in one process or two, never get one address and a Delete
// never removes the bridge under a machine being created.
func reserve(ctx context.Context, machines, lockPath string, r record, setup func(all []record) error) (record, error) {
	unlock, err := lock(ctx, lockPath)
	if err != nil {
		return r, err
	}
	defer unlock()
	all, err := readRecords(machines)
	if err != nil {
		return r, err
	}
	var used []netip.Addr
	for _, o := range all {
		if o.ID == r.ID {
			return r, errExists
		}
		used = append(used, o.Address)
	}
	if r.Address, err = lowestFree(r.Subnet, used); err != nil {
		return r, err
	}
	if setup != nil {
		if err := setup(all); err != nil {
			return r, err
		}
	}
	dir := filepath.Join(machines, r.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return r, err
	}
	return r, writeRecord(dir, r)
}

// lowestFree is the lowest host address of subnet from .2 on (.1 is the
// bridge) that is not in used and not the broadcast address.
func lowestFree(subnet netip.Prefix, used []netip.Addr) (netip.Addr, error) {
	subnet = subnet.Masked()
	a := subnet.Addr().Next().Next()
	for ; subnet.Contains(a); a = a.Next() {
		if !subnet.Contains(a.Next()) {
			break // the broadcast address
		}
		if !slices.Contains(used, a) {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address left in %s", subnet)
}

// lock is flock.Lock: see internal/flock.
func lock(ctx context.Context, path string) (func(), error) { return flock.Lock(ctx, path) }

// removeTree removes dir, first detaching anything mounted below it (what a
// killed debootstrap leaves: proc, sys). It never follows a mount it could
// not detach: better a leftover folder than deleting through a bind mount.
func removeTree(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var below []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			below = append(below, f[4])
		}
	}
	slices.SortFunc(below, func(a, b string) int { return len(b) - len(a) }) // deepest first
	for _, m := range below {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("unmount %s: %w", m, err)
		}
	}
	return os.RemoveAll(dir)
}
