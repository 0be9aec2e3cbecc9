package local

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// With --bind=/sys/fs/cgroup a machine's systemd sees the host's cgroup tree
// as its own and makes its slices at the top of it (init.scope, system.slice,
// nspawn's supervisor and payload, ...); some outlive the machine. So the
// first machine notes which top-level cgroups the host had, and the last one
// to go removes the empty ones that were added since. rmdir cannot remove a
// cgroup that still has processes, so nothing in use is ever touched.

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
			if !slices.Contains(before, c) {
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
