package remote

import (
	"context"
	"errors"
	"sync"
)

// Parallel calls fn for every item, at most limit at once, and joins the
// errors; each fn is expected to wrap its error with the host it concerns.
// A failure on one host does not stop the others.
func Parallel[T any](ctx context.Context, items []T, limit int, fn func(context.Context, T) error) error {
	if limit < 1 {
		limit = 1
	}
	sem := make(chan struct{}, limit)
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			errs[i] = fn(ctx, it)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
