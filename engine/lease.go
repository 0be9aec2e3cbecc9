package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshready/meshready/internal/proc"
)

// A Pulumi state lock records the host name and PID of the process that
// holds it, and nothing else. Two CI containers that share a host name and
// a backend cannot see each other's PIDs, so "no such PID here" does not
// prove a lock dead. meshready therefore records, beside the state, a lease
// for every run it starts: the host, its PID, the boot it runs in and its
// PID namespace. A lock is cleared only when a lease of this boot and PID
// namespace, started before the lock was taken, names a process that is
// gone, the lock's own process is gone too, and the lock is older than
// minLockAge. A lock taken by plain pulumi (no lease) is never cleared.

// minLockAge is how old a state lock must be before meshready may clear it.
const minLockAge = 10 * time.Second

// lease is one meshready run on a stack, as recorded in the backend.
type lease struct {
	Host         string    `json:"host"`
	PID          int       `json:"pid"`
	BootID       string    `json:"bootId"`
	PIDNamespace string    `json:"pidNamespace"`
	Started      time.Time `json:"started"`
}

// here is this process's boot and PID namespace.
func here() (bootID, pidNS string) {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return strings.TrimSpace(string(b)), ns
}

func (p *Project) leaseDir(root, stack string) string {
	return filepath.Join(root, ".meshready-leases", p.Name, stack)
}

// takeLease records this run's lease; release removes it.
func (p *Project) takeLease(stack, host string) (release func(), err error) {
	root, ok := p.fileBackendRoot()
	if !ok {
		return func() {}, nil
	}
	boot, ns := here()
	l := lease{Host: host, PID: os.Getpid(), BootID: boot, PIDNamespace: ns, Started: time.Now().UTC()}
	b, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	dir := p.leaseDir(root, stack)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("stack %s: lease: %w", stack, err)
	}
	f := filepath.Join(dir, fmt.Sprintf("%s-%d.json", host, l.PID))
	if err := os.WriteFile(f, b, 0o600); err != nil {
		return nil, fmt.Errorf("stack %s: lease: %w", stack, err)
	}
	return func() {
		os.Remove(f)
		// Folders left empty go too (a removed env leaves nothing behind).
		for d := dir; d != root; d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
	}, nil
}

// deadLeases are the stack's leases of this boot and PID namespace whose
// process is gone, by file.
func (p *Project) deadLeases(root, stack string) map[string]lease {
	boot, ns := here()
	files, _ := filepath.Glob(filepath.Join(p.leaseDir(root, stack), "*.json"))
	out := map[string]lease{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		var l lease
		if err != nil || json.Unmarshal(b, &l) != nil {
			continue
		}
		if l.BootID != "" && l.BootID == boot && l.PIDNamespace != "" && l.PIDNamespace == ns && l.PID > 0 && !proc.Running(l.PID) {
			out[f] = l
		}
	}
	return out
}

// provenDead says whether lock l (taken on host at l.Timestamp) belongs to
// a meshready run of this boot and PID namespace that is gone: then it
// returns the lease file that proves it, and how long the lock must still
// age before it may go (0 when it may go now).
func provenDead(l stateLock, host string, dead map[string]lease, now time.Time) (proof string, wait time.Duration, ok bool) {
	if l.Hostname != host || l.Pid <= 0 || proc.Running(l.Pid) {
		return "", 0, false
	}
	for f, d := range dead {
		if d.Host == host && !d.Started.After(l.Timestamp.Add(time.Second)) {
			return f, max(0, minLockAge-now.Sub(l.Timestamp)), true
		}
	}
	return "", 0, false
}

// removeLease removes a lease file that proved its run dead.
func removeLease(f string) error {
	if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
