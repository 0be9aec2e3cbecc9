package hetzner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Case 2: a 429, a 503, a timeout and a lost POST answer for every server,
// spread over every kind of call; still exactly three servers, all running.
func TestCreateThroughFaults(t *testing.T) {
	f := newFakeAPI(t)
	b, _ := newTestBackend(t, f)
	for i, n := range threeNodes {
		if i == 0 {
			// The key upload fails before it happens; the lookup times out once.
			f.inject("POST /ssh_keys", fail(503, "service_error"))
			f.inject("GET /ssh_keys", slow())
		}
		f.inject("POST /servers", rateLimited(), lost())
		f.inject("GET /servers", fail(503, "service_error"))
		f.inject("GET /servers/{id}/actions", slow())
		f.inject("GET /actions", fail(502, "bad_gateway"), rateLimited())
		f.inject("GET /servers", fail(504, "timeout")) // the look for running is a list too
		before := f.total()
		s, err := b.Create(testCtx(t), testSpec(n.name, n.role))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d requests until running, faults included", n.name, f.total()-before)
		if s.Status != "running" {
			t.Errorf("%s is %s", n.name, s.Status)
		}
	}
	checkOurs(t, f)
	if got := f.count("POST /servers"); got != 6 {
		t.Errorf("%d POST /servers, want 6 (one 429 and one lost answer per server, no other)", got)
	}
	if got := f.count("POST /ssh_keys"); got != 2 {
		t.Errorf("%d POST /ssh_keys, want 2 (a 503 before it happened, then one more)", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for route, q := range f.faults {
		if len(q) > 0 {
			t.Errorf("%d faults for %s were never met", len(q), route)
		}
	}
	t.Logf("requests: %v", f.counts)
}

// Case 3: a POST /servers answered 500 is not repeated blindly: the labels
// are looked up first, and only when nothing was made is it POSTed again.
func TestServerErrorOnCreateIsNotRetriedBlindly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fakeFault
		posts int
	}{
		{"500 before the server was made", fail(500, "server_error"), 2},
		{"500 after the server was made", failAfter(500, "server_error"), 1},
		{"503 after the server was made", failAfter(503, "service_error"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAPI(t)
			b, _ := newTestBackend(t, f)
			f.inject("POST /servers", tc.fault)
			if _, err := b.Create(testCtx(t), testSpec("fsn1-cp-1", "control-plane")); err != nil {
				t.Fatal(err)
			}
			if got := f.count("POST /servers"); got != tc.posts {
				t.Errorf("%d POST /servers, want %d", got, tc.posts)
			}
			// One to find it by its labels, one to see it running (the
			// stack's list, which waits for running share).
			if got := f.count("GET /servers"); got != 2 {
				t.Errorf("%d label lookups, want 2", got)
			}
			if got := len(f.serverList()); got != 1 {
				t.Errorf("%d servers, want 1", got)
			}
		})
	}
}

// Case 4: a server that holds the name without our labels is named in the
// error and left alone.
func TestNameTakenByServerNotOurs(t *testing.T) {
	for _, labels := range []map[string]string{nil, {"meshready": "true", "meshready-stack": "prod", "meshready-name": "fsn1-cp-1"}} {
		t.Run(fmt.Sprint(labels), func(t *testing.T) {
			f := newFakeAPI(t)
			b, _ := newTestBackend(t, f)
			id := f.addServer("fsn1-cp-1", labels)
			_, err := b.Create(testCtx(t), testSpec("fsn1-cp-1", "control-plane"))
			if err == nil {
				t.Fatal("Create adopted a server meshready does not own")
			}
			for _, want := range []string{"fsn1-cp-1", fmt.Sprint(id), "does not own", "uniqueness_error"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			servers := f.serverList()
			if len(servers) != 1 || !equalLabels(servers[0].Labels, labels) {
				t.Errorf("servers after: %+v", servers)
			}
			if got := f.count("POST /servers"); got != 1 {
				t.Errorf("%d POST /servers, want 1", got)
			}
		})
	}
}

// Case 7: the token is in no error and no log line, whatever goes wrong.
func TestTokenNeverLeaks(t *testing.T) {
	f := newFakeAPI(t)
	logs := &syncBuffer{}
	opts := testOptions(f, logs)
	opts.HTTPTimeout = 200 * time.Millisecond // six of them run out below
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	var errs []error
	collect := func(_ any, err error) { errs = append(errs, err) }

	f.inject("POST /servers", lost(), fail(500, "server_error"))
	f.inject("GET /servers", slow(), slow(), slow(), slow(), slow(), slow())
	collect(b.Create(ctx, testSpec("fsn1-cp-1", "control-plane")))
	collect(b.Get(ctx, "999"))
	collect(b.Get(ctx, "not-a-number"))
	f.addServer("fsn1-worker-1", nil)
	collect(b.Create(ctx, testSpec("fsn1-worker-1", "worker")))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	collect(b.Create(cancelled, testSpec("fsn1-worker-2", "worker")))
	collect(nil, b.Delete(ctx, "998"))

	opts.Token = "hz-WRONG-TOKEN-0d2a"
	wrong, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	collect(wrong.List(ctx, nil))
	collect(nil, wrong.DeleteAll(ctx))

	failures := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		failures++
		for _, tok := range []string{fakeToken, opts.Token} {
			if strings.Contains(err.Error(), tok) || strings.Contains(fmt.Sprintf("%+v", err), tok) {
				t.Errorf("error carries the token: %v", err)
			}
		}
	}
	if failures < 6 {
		t.Errorf("only %d calls failed; the test did not exercise the error paths: %v", failures, errs)
	}
	out := logs.String() + fmt.Sprint(opts) + fmt.Sprintf("%+v", opts)
	if strings.Contains(out, fakeToken) || strings.Contains(out, opts.Token) {
		t.Errorf("token in logs or printed options")
	}
	if !strings.Contains(logs.String(), "status=401") {
		t.Errorf("the 401 was not logged, so the logs were not exercised")
	}
}

// Case 8: cancelling ctx while Create polls its actions returns promptly
// with ctx's error.
func TestCancelDuringActionPolling(t *testing.T) {
	f := newFakeAPI(t)
	f.actionPolls = 1 << 30 // the actions never finish
	opts := testOptions(f, &syncBuffer{})
	opts.PollInterval = time.Minute
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := b.Create(ctx, testSpec("fsn1-cp-1", "control-plane"))
		done <- err
	}()
	for f.count("POST /servers") == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // now waiting before the first poll
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Create after cancel: %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Create took %v to return after cancel", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Create did not return after cancel")
	}
}
