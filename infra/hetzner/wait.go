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

// waitActions polls the running ones of actions, up to 25 in one request
// (GET /actions?id=..&id=..), until each has succeeded; an action that ends
// in error is returned as an error naming its command.
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
	for poll := 0; len(running) > 0; poll++ {
		if err := sleep(ctx, b.pollDelay(poll)); err != nil {
			return fmt.Errorf("waiting for %s: %w", describe(running), err)
		}
		ids := slices.Sorted(maps.Keys(running))
		var got []wireAction
		for chunk := range slices.Chunk(ids, 25) { // as hcloud-go does: a bounded query string
			q := url.Values{}
			for _, id := range chunk {
				q.Add("id", strconv.FormatInt(id, 10))
			}
			err := paginate(q, func(q url.Values) (wireMeta, error) {
				var page actionListResponse
				err := b.api.do(ctx, http.MethodGet, "/actions", q, nil, &page)
				got = append(got, page.Actions...)
				return page.Meta, err
			})
			if err != nil {
				return fmt.Errorf("waiting for %s: %w", describe(running), err)
			}
		}
		seen := 0
		for _, a := range got {
			if _, ok := running[a.ID]; !ok {
				continue
			}
			seen++
			if err := actionFailed(a); err != nil {
				return err
			}
			if a.Status != "running" {
				delete(running, a.ID)
			}
		}
		if seen < len(ids) {
			return fmt.Errorf("waiting for %s: the API no longer knows %d of them", describe(running), len(ids)-seen)
		}
	}
	return nil
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
		var out serverResponse
		if err := b.api.do(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
			return srv, fmt.Errorf("waiting for server %d to run: %w", srv.ID, err)
		}
		srv, fresh = out.Server, true
	}
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
