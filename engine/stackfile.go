package engine

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"

	"github.com/meshready/meshready/internal/fsutil"
)

// KeepStackFile keeps a stack file as it was before an operation when all
// Pulumi changed is the passphrase salt it adds on first use. The salt is in
// the state too (PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER takes it back from
// there), and a committed stack file with one machine's salt breaks every
// other clone ("incorrect passphrase"): a new user's `make up` must leave
// `git status` clean. The file as it was is also saved under .meshready/, so
// that after a run that was killed before it could restore, the next one does.
// Call the returned function after the operation.
func (p *Project) KeepStackFile(stack string) (restore func() error) {
	path := p.StackFile(stack)
	saved := filepath.Join(p.Dir, StateDir, "stackfiles", stack+".yaml")
	keep := func(before []byte) error {
		after, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if onlySaltAdded(before, after) {
			return fsutil.WriteFile(path, before, 0o644)
		}
		return nil
	}
	if prev, err := os.ReadFile(saved); err == nil {
		if err := keep(prev); err != nil {
			p.log.Warn("could not restore the stack file a killed run left", "stack", stack, "err", err)
		}
	}
	before, err := os.ReadFile(path)
	if err != nil {
		return func() error { return nil }
	}
	if err := os.MkdirAll(filepath.Dir(saved), 0o700); err == nil {
		fsutil.WriteFile(saved, before, 0o600)
	}
	return func() error {
		if err := keep(before); err != nil {
			return err
		}
		return os.Remove(saved)
	}
}

// onlySaltAdded: after is before plus an encryptionsalt line, nothing else.
func onlySaltAdded(before, after []byte) bool {
	if bytes.Equal(before, after) || hasSalt(before) {
		return false
	}
	var kept [][]byte
	for _, l := range bytes.SplitAfter(after, []byte("\n")) {
		if !bytes.HasPrefix(l, []byte("encryptionsalt:")) {
			kept = append(kept, l)
		}
	}
	return bytes.Equal(bytes.TrimRight(bytes.Join(kept, nil), "\n"), bytes.TrimRight(before, "\n"))
}

func hasSalt(b []byte) bool {
	return bytes.HasPrefix(b, []byte("encryptionsalt:")) || bytes.Contains(b, []byte("\nencryptionsalt:"))
}
