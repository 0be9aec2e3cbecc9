package hetzner

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pollDelay is the wait before poll number n: PollInterval, doubling up to 8
// times it, so a slow action is not polled at the rate of a fast one.
func (b *Backend) pollDelay(n int) time.Duration {
	return b.pollInterval << min(n, 3)
}

// sleep waits d, or returns ctx's error as soon as ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitActions waits until each of actions has succeeded; an action that
// ends in error is returned as an error naming its command. The polling is
// the Backend's, shared by every wait under way (actionWatch): one plugin
// process serves every server of an up, and Hetzner's budget is per
// project (3600 requests an hour), so 100 servers made at once are polled
// in a handful of requests a round, not 100.
func (b *Backend) waitActions(ctx context.Context, actions ...wireAction) error {
	running := map[int64]string{}
	for _, a := range actions {
		if a.ID == 0 {
			continue
		}
		if err := actionFailed(a); err != nil {
			return err
		}
		if a.Status == "running" {
			running[a.ID] = a.Command
		}
	}
	if len(running) == 0 {
		return nil
	}
	w := &actionWaiter{running: running, done: make(chan error, 1)}
	b.watch.add(b, w)
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		b.watch.remove(w)
		return fmt.Errorf("waiting for %s: %w", describe(w.snapshot()), ctx.Err())
	}
}

// actionWatch polls the running actions of every waitActions under way in
// a Backend, up to 25 in one request (GET /actions?id=..&id=.., as
// hcloud-go bounds its query string), every pollDelay(round): the first
// look comes PollInterval after a wait joins, later ones up to 8 times
// later. Its loop runs while there is a waiter.
type actionWatch struct {
	mu      sync.Mutex
	waiters map[*actionWaiter]bool
	looping bool
	joined  chan struct{} // a waiter joined: look again soon
}

// actionWaiter is one waitActions: its actions still running, by id.
type actionWaiter struct {
	mu      sync.Mutex
	running map[int64]string
	done    chan error // one value: nil once all succeeded
}

func (w *actionWaiter) snapshot() map[int64]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.running)
}

func (aw *actionWatch) add(b *Backend, w *actionWaiter) {
	aw.mu.Lock()
	defer aw.mu.Unlock()
	if aw.waiters == nil {
		aw.waiters, aw.joined = map[*actionWaiter]bool{}, make(chan struct{}, 1)
	}
	aw.waiters[w] = true
	select {
	case aw.joined <- struct{}{}:
	default:
	}
	if !aw.looping {
		aw.looping = true
		go aw.loop(b)
	}
}

func (aw *actionWatch) remove(w *actionWaiter) {
	aw.mu.Lock()
	defer aw.mu.Unlock()
	delete(aw.waiters, w)
}

// finish hands w its result, once.
func (aw *actionWatch) finish(w *actionWaiter, err error) {
	aw.mu.Lock()
	delete(aw.waiters, w)
	aw.mu.Unlock()
	select {
	case w.done <- err:
	default:
	}
}

func (aw *actionWatch) loop(b *Backend) {
	for round := 0; ; round++ {
		select {
		case <-aw.joined:
			round = 0
		default:
		}
		t := time.NewTimer(b.pollDelay(round))
		select {
		case <-t.C:
		case <-aw.joined:
			t.Stop()
			round = -1 // the next look PollInterval from now
			continue
		}
		aw.mu.Lock()
		waiters := slices.Collect(maps.Keys(aw.waiters))
		if len(waiters) == 0 {
			aw.looping = false
			aw.mu.Unlock()
			return
		}
		aw.mu.Unlock()
		ids := map[int64]bool{}
		for _, w := range waiters {
			for id := range w.snapshot() {
				ids[id] = true
			}
		}
		got, err := b.getActions(slices.Sorted(maps.Keys(ids)))
		for _, w := range waiters {
			if err != nil {
				aw.finish(w, fmt.Errorf("waiting for %s: %w", describe(w.snapshot()), err))
				continue
			}
			if err, finished := w.update(got); finished {
				aw.finish(w, err)
			}
		}
	}
}

// update takes a round's answers: finished when every action succeeded or
// one failed (err) or is no longer known.
func (w *actionWaiter) update(got map[int64]wireAction) (err error, finished bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	missing := 0
	for id := range w.running {
		a, ok := got[id]
		if !ok {
			missing++
			continue
		}
		if err := actionFailed(a); err != nil {
			return err, true
		}
		if a.Status != "running" {
			delete(w.running, id)
		}
	}
	if missing > 0 {
		return fmt.Errorf("waiting for %s: the API no longer knows %d of them", describe(w.running), missing), true
	}
	return nil, len(w.running) == 0
}

// getActions fetches the actions by id, 25 a request. Its context is the
// Backend's own: the waits it serves each end on their own context.
func (b *Backend) getActions(ids []int64) (map[int64]wireAction, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := map[int64]wireAction{}
	for chunk := range slices.Chunk(ids, 25) {
		q := url.Values{}
		for _, id := range chunk {
			q.Add("id", strconv.FormatInt(id, 10))
		}
		err := paginate(q, func(q url.Values) (wireMeta, error) {
			var page actionListResponse
			err := b.api.do(ctx, http.MethodGet, "/actions", q, nil, &page)
			for _, a := range page.Actions {
				out[a.ID] = a
			}
			return page.Meta, err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func actionFailed(a wireAction) error {
	if a.Status != "error" {
		return nil
	}
	code, msg := "unknown", ""
	if a.Error != nil {
		code, msg = a.Error.Code, a.Error.Message
	}
	return fmt.Errorf("action %s (%d) failed: %s: %s", a.Command, a.ID, code, msg)
}

func describe(running map[int64]string) string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(running)) {
		parts = append(parts, fmt.Sprintf("%s (%d)", running[id], id))
	}
	return "actions " + strings.Join(parts, ", ")
}

// waitRunning polls the server until its status is running. fetchFirst asks
// for a fresh look before the first wait (the actions just finished, so it is
// likely running already). A server that is off with no action under way
// will not start by itself: that is an error, not a wait until ctx ends.
func (b *Backend) waitRunning(ctx context.Context, srv wireServer, fetchFirst bool) (wireServer, error) {
	path := "/servers/" + strconv.FormatInt(srv.ID, 10)
	fresh := !fetchFirst
	for poll := 0; ; {
		if fresh {
			switch srv.Status {
			case "running":
				return srv, nil
			case "deleting":
				return srv, fmt.Errorf("server %d is being deleted", srv.ID)
			case "off", "stopping":
				if err := b.waitServerActions(ctx, srv); err != nil {
					return srv, err
				}
			default:
				if err := sleep(ctx, b.pollDelay(poll)); err != nil {
					return srv, fmt.Errorf("waiting for server %d (%s) to run: %w", srv.ID, srv.Status, err)
				}
				poll++
			}
		}
		got, err := b.look(ctx, srv.ID, path)
		if err != nil {
			return srv, fmt.Errorf("waiting for server %d to run: %w", srv.ID, err)
		}
		srv, fresh = got, true
	}
}

// look fetches the server. Looks made at about the same time share one
// list of the stack's servers (by its labels, every page), as servers
// made together finish together; a server not in it is fetched alone.
func (b *Backend) look(ctx context.Context, id int64, path string) (wireServer, error) {
	ch := b.looks.DoChan("servers", func() (any, error) {
		// Let the looks of this moment join before asking.
		if err := sleep(ctx, b.pollInterval/4); err != nil {
			return nil, err
		}
		return b.listServers(ctx, url.Values{"label_selector": {selector(b.ownerLabels())}})
	})
	select {
	case <-ctx.Done():
		return wireServer{}, ctx.Err()
	case r := <-ch:
		if r.Err == nil {
			for _, w := range r.Val.([]wireServer) {
				if w.ID == id {
					return w, nil
				}
			}
		}
	}
	var out serverResponse
	if err := b.api.do(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return wireServer{}, err
	}
	return out.Server, nil
}

// waitServerActions waits for what the server is doing; with nothing under
// way, an off server stays off.
func (b *Backend) waitServerActions(ctx context.Context, srv wireServer) error {
	actions, err := b.runningActions(ctx, srv.ID)
	if err != nil {
		return fmt.Errorf("server %d is %s: %w", srv.ID, srv.Status, err)
	}
	if len(actions) == 0 {
		return fmt.Errorf("server %d is %s and nothing is starting it", srv.ID, srv.Status)
	}
	return b.waitActions(ctx, actions...)
}

// runningActions are the server's actions under way (an adopted server's
// create_server and start_server, when it is still being made).
func (b *Backend) runningActions(ctx context.Context, id int64) ([]wireAction, error) {
	var out actionListResponse
	path := "/servers/" + strconv.FormatInt(id, 10) + "/actions"
	if err := b.api.do(ctx, http.MethodGet, path, url.Values{"status": {"running"}}, nil, &out); err != nil {
		return nil, fmt.Errorf("actions of server %d: %w", id, err)
	}
	return out.Actions, nil
}
