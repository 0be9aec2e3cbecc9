package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Every machine runs in a cgroup subtree of its own, meshready/<id> in each
// hierarchy (machineCgroups): systemd-nspawn starts inside it and gives
// the machine a cgroup namespace rooted there, so the machine's systemd,
// kubelet, containerd and every pod (privileged ones too) see that subtree
// as the whole tree and can reach no other cgroup of the host. nspawn
// mounts the v1 controllers read-only; the node's prep step remounts its
// own view writable for the kubelet (bootstrap's prep script).
//
// The first machine notes which top-level cgroups the host had, and the
// last one to go removes the empty ones that were added since (meshready/,
// and whatever an older meshready that bound the whole tree left). rmdir
// cannot remove a cgroup that still has processes, so nothing in use is
// ever touched. Backends in other folders (another cache, a test) share
// meshready/ and make their machines' cgroups in it before nspawn joins
// them, so the cleanup never goes below meshready/: each machine removes
// its own, and meshready/ itself goes only once it is empty.

const cgroupsBefore = "cgroups-before.json"

// cgroupHierarchies are the mounted cgroup hierarchies: /sys/fs/cgroup on a
// cgroup2-only host, its subfolders on a v1 or hybrid one.
func cgroupHierarchies() []string {
	var out []string
	for _, d := range append([]string{"/sys/fs/cgroup"}, globDirs("/sys/fs/cgroup/*")...) {
		if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err == nil {
			out = append(out, d)
		}
	}
	return out
}

func globDirs(pattern string) []string {
	matches, _ := filepath.Glob(pattern)
	var out []string
	for _, m := range matches {
		if fi, err := os.Lstat(m); err == nil && fi.IsDir() {
			out = append(out, m)
		}
	}
	return out
}

// snapshotCgroups records the host's top-level cgroups in dir, unless a
// snapshot is already there (an earlier last machine could not clean up).
func snapshotCgroups(dir string) {
	path := filepath.Join(dir, cgroupsBefore)
	if _, err := os.Stat(path); err == nil {
		return
	}
	snap := map[string][]string{}
	for _, h := range cgroupHierarchies() {
		snap[h] = childDirs(h)
	}
	if data, err := json.Marshal(snap); err == nil {
		os.WriteFile(path, data, 0o644)
	}
}

// cleanCgroups removes the empty top-level cgroups added since the snapshot.
func cleanCgroups(dir string) {
	path := filepath.Join(dir, cgroupsBefore)
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var snap map[string][]string
	if json.Unmarshal(data, &snap) != nil {
		return
	}
	for h, before := range snap {
		for _, c := range childDirs(h) {
			switch {
			case slices.Contains(before, c):
			case c == cgroupParent:
				syscall.Rmdir(filepath.Join(h, c)) // refused while any machine's cgroup is there
			default:
				rmdirTree(filepath.Join(h, c))
			}
		}
	}
	os.Remove(path)
}

func childDirs(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// rmdirTree removes a cgroup and its children, deepest first; cgroupfs has
// only rmdir (no files to unlink), and it refuses any cgroup in use.
func rmdirTree(root string) {
	var dirs []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		syscall.Rmdir(dirs[i])
	}
}

// cgroupParent is the folder, in every hierarchy, of the machines' subtrees.
const cgroupParent = "meshready"

// machineCgroups are machine id's cgroups, one per hierarchy.
func machineCgroups(id string) []string {
	var out []string
	for _, h := range cgroupHierarchies() {
		out = append(out, filepath.Join(h, cgroupParent, id))
	}
	return out
}

// makeMachineCgroups makes id's cgroups. In the cpuset hierarchy a new
// cgroup has no CPUs and no memory nodes, and takes no process until it
// has: each level gets its parent's.
func makeMachineCgroups(id string) error {
	for _, c := range machineCgroups(id) {
		if err := mkdirRaced(c); err != nil {
			return fmt.Errorf("cgroup %s: %w", c, err)
		}
		for _, dir := range []string{filepath.Dir(c), c} {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				mine := filepath.Join(dir, f)
				if cur, err := os.ReadFile(mine); err != nil || len(strings.TrimSpace(string(cur))) > 0 {
					continue
				}
				parent, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
				if err != nil {
					return fmt.Errorf("cgroup %s: %w", dir, err)
				}
				if err := os.WriteFile(mine, parent, 0o644); err != nil {
					return fmt.Errorf("cgroup %s: %w", mine, err)
				}
			}
		}
	}
	return nil
}

// mkdirRaced makes dir and its parent, again if another backend's cleanup
// removed the (then empty) parent between the two.
func mkdirRaced(dir string) error {
	var err error
	for range 5 {
		if err = os.MkdirAll(dir, 0o755); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

// removeMachineCgroups removes id's cgroups (and what the machine made in
// them), once nothing runs there.
func removeMachineCgroups(id string) {
	for _, c := range machineCgroups(id) {
		rmdirTree(c)
	}
}
