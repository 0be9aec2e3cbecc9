// Package flock takes exclusive file locks that a context can give up on:
// how meshready keeps two processes (two CI jobs, two stacks) from building
// the same tool or handing out the same address at once.
package flock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Lock takes an exclusive flock on path (created if missing), polling so that
// ctx can end the wait. flock locks belong to an open file, so goroutines of
// one process exclude each other as well as other processes do. unlock
// releases it by closing the file.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// HeldError says another process holds a lock TryLock wanted.
type HeldError struct {
	Path string
	// Owner is what the holder wrote into the lock file (who, since when).
	Owner string
}

func (e *HeldError) Error() string {
	if e.Owner == "" {
		return "locked by another process (" + e.Path + ")"
	}
	return "locked by " + e.Owner
}

// TryLock takes the lock on path now or fails with a *HeldError. The holder
// writes owner into the file, for the error the next one gets. The lock ends
// with unlock or with the process, however it dies.
func TryLock(path, owner string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			return nil, &HeldError{Path: path, Owner: strings.TrimSpace(string(b))}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(owner+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
