package flock

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestLockExcludesAndGivesUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.lock")
	unlock, err := Lock(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, path); err == nil {
		t.Fatal("a second lock was granted while the first is held")
	}
	unlock()
	var mu sync.Mutex
	inside, peak := 0, 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			u, err := Lock(t.Context(), path)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			peak = max(peak, inside)
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			u()
		})
	}
	wg.Wait()
	if peak != 1 {
		t.Errorf("%d holders at once", peak)
	}
}

func TestTryLockNamesTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stack.lock")
	unlock, err := TryLock(path, "meshready pid 42 since 10:00")
	if err != nil {
		t.Fatal(err)
	}
	_, err = TryLock(path, "the second")
	var held *HeldError
	if !errors.As(err, &held) || held.Owner != "meshready pid 42 since 10:00" {
		t.Fatalf("second TryLock: %v", err)
	}
	unlock()
	unlock2, err := TryLock(path, "the second")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}
