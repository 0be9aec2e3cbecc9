package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshready/meshready/internal/flock"
)

// LockedError is a stack another meshready on this machine is working on.
type LockedError struct {
	Stack, Holder string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("stack %s is locked: another meshready is working on it (%s)", e.Stack, e.Holder)
}

// Lock keeps every other meshready on this machine off stack until unlock (or
// this process's death: it is a flock). Holding it, Lock also clears Pulumi
// state locks a killed run left in a file backend (see clearStaleLocks), so a
// CI job cancelled mid-update does not wedge the stack until someone runs
// `pulumi cancel`. Pulumi's own backend lock still guards other machines.
func (p *Project) Lock(stack string) (unlock func(), err error) {
	host, _ := os.Hostname()
	owner := fmt.Sprintf("pid %d on %s since %s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	unlock, err = flock.TryLock(filepath.Join(p.Dir, StateDir, "locks", stack+".lock"), owner)
	var held *flock.HeldError
	if errors.As(err, &held) {
		return nil, &LockedError{Stack: stack, Holder: held.Owner}
	}
	if err != nil {
		return nil, err
	}
	if err := p.clearStaleLocks(stack, host); err != nil {
		unlock()
		return nil, err
	}
	release, err := p.takeLease(stack, host)
	if err != nil {
		unlock()
		return nil, err
	}
	unlockFile := unlock
	return func() { release(); unlockFile() }, nil
}

// stateLock is what Pulumi's file ("diy") backend writes into a stack's lock
// file: .pulumi/locks/<org>/<project>/<stack>/<id>.json under the backend's root.
type stateLock struct {
	Pid       int       `json:"pid"`
	Hostname  string    `json:"hostname"`
	Timestamp time.Time `json:"timestamp"`
}

// clearStaleLocks removes the stack's state locks that a meshready run
// of this boot and PID namespace left when it died (see lease.go). Only
// file backends are looked at (other backends expire their own leases); a
// lock of a live process, of another host, boot or PID namespace, of plain
// pulumi, or a young one is left alone: Pulumi then refuses the update
// with its own message.
func (p *Project) clearStaleLocks(stack, host string) error {
	root, ok := p.fileBackendRoot()
	if !ok {
		return nil
	}
	files, err := filepath.Glob(filepath.Join(root, ".pulumi", "locks", "*", p.Name, stack, "*.json"))
	if err != nil {
		return err
	}
	dead := p.deadLeases(root, stack)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // removed meanwhile
		}
		var l stateLock
		if json.Unmarshal(b, &l) != nil {
			continue
		}
		proof, wait, ok := provenDead(l, host, dead, time.Now())
		if !ok {
			continue
		}
		if wait > 0 {
			// Proven dead but young: a run killed a moment ago. Let it age.
			p.log.Info("waiting for the state lock of a run that died to age", "stack", stack, "wait", wait.Round(time.Second).String())
			time.Sleep(wait)
		}
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("stack %s: remove stale state lock %s: %w", stack, f, err)
		}
		if err := removeLease(proof); err != nil {
			return fmt.Errorf("stack %s: remove the lease of a dead run: %w", stack, err)
		}
		delete(dead, proof)
		p.log.Warn("removed a state lock left by a meshready or pulumi that died", "stack", stack, "pid", l.Pid, "since", l.Timestamp.Format(time.RFC3339))
	}
	// The leases of dead runs that proved no lock (killed before Pulumi
	// took one, or their lock already gone) go too.
	for f := range dead {
		if err := removeLease(f); err != nil {
			return fmt.Errorf("stack %s: remove the lease of a dead run: %w", stack, err)
		}
	}
	return nil
}

// fileBackendRoot is the folder of a file:// backend, relative paths being
// relative to the project (where Pulumi runs).
func (p *Project) fileBackendRoot() (string, bool) {
	rest, ok := strings.CutPrefix(p.backendURL, "file://")
	if !ok {
		return "", false
	}
	rest, _, _ = strings.Cut(rest, "?")
	if strings.HasPrefix(rest, "~") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false
		}
		rest = filepath.Join(home, strings.TrimPrefix(rest, "~"))
	}
	if !filepath.IsAbs(rest) {
		rest = filepath.Join(p.Dir, rest)
	}
	return rest, true
}

// PurgeRemoved deletes what Pulumi's file backend keeps of a removed stack
// (its .bak checkpoint, backups, history, empty lock folder). A removed
// throw-away env must leave nothing in the state; region stacks never come
// here. Other backends keep their own history and are not touched.
func (p *Project) PurgeRemoved(stack string) error {
	root, ok := p.fileBackendRoot()
	if !ok {
		return nil
	}
	if stack == "" || strings.ContainsAny(stack, `/\`) || strings.HasPrefix(stack, ".") {
		return fmt.Errorf("purge: bad stack name %q", stack)
	}
	meta := filepath.Join(root, ".pulumi")
	if _, err := os.Stat(filepath.Join(meta, "stacks", p.Name, stack+".json")); err == nil {
		return fmt.Errorf("purge %s: the stack still exists", stack)
	}
	paths := []string{
		filepath.Join(meta, "backups", p.Name, stack),
		filepath.Join(meta, "history", p.Name, stack),
	}
	for _, pat := range []string{
		filepath.Join(meta, "stacks", p.Name, stack+".json.bak*"),
		filepath.Join(meta, "stacks", p.Name, stack+".json.gz.bak*"),
		filepath.Join(meta, "locks", "*", p.Name, stack),
	} {
		m, _ := filepath.Glob(pat)
		paths = append(paths, m...)
	}
	var errs []error
	for _, path := range paths {
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
