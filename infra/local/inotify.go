package local

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Every process of every local machine runs as this host's root (the
// machines have no user namespace of their own), and the kernel counts
// inotify instances per user: all machines share
// fs.inotify.max_user_instances (128 by default) with the host's own root
// processes. A kubelet that finds none left does not start ("inotify_init:
// too many open files"), which a join reports minutes later and far from
// the cause; kind documents the same limit as a known issue. So a machine
// is created only when the limit leaves room for its share beside every
// other machine's.

// InotifyLimit is the sysctl the machines share.
const InotifyLimit = "/proc/sys/fs/inotify/max_user_instances"

// inotifyPerMachine is a machine's share. Measured (root's instances
// counted by machine cgroup while the tests' clusters ran): a control plane
// holds 24-33, the most with Istio, a worker 15-25. 32 is about the most
// a node holds and more than a cluster's average, and keeps a 3-node stack
// (96) inside the kernel's default 128 beside the host's own.
const inotifyPerMachine = 32

// inotifyUse is who holds root's inotify instances: the machines (by
// machine id) and the rest of the host.
type inotifyUse struct {
	Host     int
	Machines map[string]int
}

// readInotifyUse counts the inotify instances that processes of uid 0
// hold, under proc (/proc), each by its machine: a process whose cgroup is
// under cgroupParent/<id> belongs to machine id. Processes that end while
// it reads are skipped.
func readInotifyUse(proc string) (inotifyUse, error) {
	u := inotifyUse{Machines: map[string]int{}}
	entries, err := os.ReadDir(proc)
	if err != nil {
		return u, err
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		dir := filepath.Join(proc, e.Name())
		n := countInotify(filepath.Join(dir, "fd"))
		if n == 0 || !rootOwned(filepath.Join(dir, "status")) {
			continue
		}
		cg, _ := os.ReadFile(filepath.Join(dir, "cgroup"))
		if id := machineOfCgroup(string(cg)); id != "" {
			u.Machines[id] += n
		} else {
			u.Host += n
		}
	}
	return u, nil
}

func countInotify(fdDir string) int {
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return 0
	}
	n := 0
	for _, fd := range fds {
		if t, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && t == "anon_inode:inotify" {
			n++
		}
	}
	return n
}

// rootOwned reports whether a /proc/<pid>/status says real uid 0: the
// kernel charges an inotify instance to its creator's real uid.
func rootOwned(status string) bool {
	data, err := os.ReadFile(status)
	if err != nil {
		return false
	}
	for l := range strings.Lines(string(data)) {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			return f[1] == "0"
		}
	}
	return false
}

// machineOfCgroup is the machine id in a /proc/<pid>/cgroup ("0::/meshready/mr-x/..."
// or, per cgroup v1 hierarchy, "4:memory:/meshready/mr-x/..."), "" for a
// process of the host.
func machineOfCgroup(cgroup string) string {
	mark := "/" + cgroupParent + "/" + MachinePrefix
	for l := range strings.Lines(cgroup) {
		if i := strings.Index(l, mark); i >= 0 {
			id, _, _ := strings.Cut(strings.TrimSpace(l[i+len(cgroupParent)+2:]), "/")
			return id
		}
	}
	return ""
}

// checkInotify refuses a new machine when limit leaves no room for its
// share beside the recorded machines' (each given its full share, also one
// still booting), what machines of another cache hold, and what the host
// holds.
func checkInotify(limit int, u inotifyUse, recorded []string) error {
	held := u.Host
	for id, n := range u.Machines {
		if !slices.Contains(recorded, id) {
			held += n
		}
	}
	need := held + (len(recorded)+1)*inotifyPerMachine
	if limit >= need {
		return nil
	}
	return fmt.Errorf("%s is %d: %d local machines and this one need about %d inotify instances "+
		"(%d each; %d held by other root processes), and a kubelet without one does not start; "+
		"raise it, e.g. `sysctl -w fs.inotify.max_user_instances=%d`, or destroy a local stack first",
		strings.TrimPrefix(InotifyLimit, "/proc/sys/"), limit, len(recorded), need, inotifyPerMachine, held, roundUp(2*need, 128))
}

func roundUp(n, to int) int { return (n + to - 1) / to * to }

// ensureInotify is checkInotify on this host, with the limit read from
// limitPath (InotifyLimit but in tests).
func ensureInotify(limitPath string, recorded []string) error {
	raw, err := os.ReadFile(limitPath)
	if err != nil {
		return fmt.Errorf("inotify limit: %w", err)
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return fmt.Errorf("inotify limit %q: %w", raw, err)
	}
	u, err := readInotifyUse("/proc")
	if err != nil {
		return fmt.Errorf("inotify instances in use: %w", err)
	}
	return checkInotify(limit, u, recorded)
}
