package hetzner

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// createMany makes n servers at once through one Backend, as the plugin's
// one process does for every Server of an up, against a fake whose
// project budget is budget requests; it returns the requests spent.
func createMany(tb testing.TB, n, budget int) int {
	tb.Helper()
	f := newFakeAPI(tb)
	f.budget = budget
	opts := testOptions(f, &syncBuffer{})
	opts.PollInterval = 20 * time.Millisecond
	// A 429 past the budget must fail the run, not be waited out.
	opts.MaxRetryWait = time.Millisecond
	b, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := b.Create(ctx, testSpec(fmt.Sprintf("fsn1-worker-%d", i+1), "worker")); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("create within a budget of %d requests: %v", budget, err)
	}
	if got := len(f.serverList()); got != n {
		tb.Fatalf("%d servers, want %d", got, n)
	}
	tb.Logf("requests: %v", f.countsCopy())
	return f.total()
}

// TestAPIEconomy: 100 servers made at once cost at most 1.5 requests each
// (hetzner-k3s's economy: one POST per server, the SSH key looked up once,
// the actions and the servers polled for all of them together), within a
// budget the fake enforces.
func TestAPIEconomy(t *testing.T) {
	const n = 100
	spent := createMany(t, n, n*3/2)
	t.Logf("%d requests for %d servers: %.2f each", spent, n, float64(spent)/n)
}

// BenchmarkCreate100 reports requests per server for 100 servers made at
// once (the fake's actions end after 2 looks; Hetzner's take longer, which
// adds a look a round for all of them, not one per server).
func BenchmarkCreate100(b *testing.B) {
	for b.Loop() {
		spent := createMany(b, 100, 150)
		b.ReportMetric(float64(spent)/100, "requests/server")
	}
}
