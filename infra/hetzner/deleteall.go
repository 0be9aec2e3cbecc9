package hetzner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// DeleteAll deletes every server labelled meshready=true and
// meshready-stack=<stack>, then the SSH keys, network, firewall and
// placement group labelled the same: a stack's teardown. Nothing else: the labels are checked again on our side, so an
// API that ignored the selector would still not lead to deleting what
// meshready does not own. It lists every page first and deletes after, so
// that deleting does not shift later pages under the listing.
func (b *Backend) DeleteAll(ctx context.Context) error {
	owned := b.ownerLabels()
	servers, err := b.List(ctx, owned)
	if err != nil {
		return fmt.Errorf("hetzner: delete stack %s: %w", b.stack, err)
	}
	var errs []error
	var actions []wireAction
	for _, s := range servers {
		n, err := parseID(s.ID)
		if err == nil {
			var a *wireAction
			if a, err = b.startDelete(ctx, n); a != nil {
				actions = append(actions, *a)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("server %s (%s): %w", s.Name, s.ID, err))
		}
	}
	if err := b.waitActions(ctx, actions...); err != nil {
		errs = append(errs, err)
	}
	if err := b.deleteKeys(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := b.deleteStack(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hetzner: delete stack %s: %w", b.stack, err)
	}
	b.log.Info("stack deleted", "servers", len(servers))
	return nil
}

// startDelete asks for the server's deletion; the action is nil when the
// server was already gone.
func (b *Backend) startDelete(ctx context.Context, id int64) (*wireAction, error) {
	var out actionResponse
	err := b.api.do(ctx, http.MethodDelete, "/servers/"+strconv.FormatInt(id, 10), nil, nil, &out)
	if hasCode(err, "not_found") {
		b.log.Debug("server already gone", "id", id)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b.log.Info("deleting server", "id", id)
	return &out.Action, nil
}

// listKeys follows pagination like listServers.
func (b *Backend) listKeys(ctx context.Context, q url.Values) ([]wireSSHKey, error) {
	var all []wireSSHKey
	err := paginate(q, func(q url.Values) (wireMeta, error) {
		var page sshKeyListResponse
		err := b.api.do(ctx, http.MethodGet, "/ssh_keys", q, nil, &page)
		all = append(all, page.SSHKeys...)
		return page.Meta, err
	})
	return all, err
}

// deleteKeys deletes the SSH keys this stack uploaded (those carrying its
// owner labels, identity included: a key a person or another stack
// uploaded is left alone).
func (b *Backend) deleteKeys(ctx context.Context) error {
	owned := b.ownerLabels()
	keys, err := b.listKeys(ctx, url.Values{"label_selector": {selector(owned)}})
	if err != nil {
		return fmt.Errorf("list ssh keys: %w", err)
	}
	var errs []error
	for _, k := range keys {
		if !hasLabels(k.Labels, owned) {
			continue
		}
		err := b.api.do(ctx, http.MethodDelete, "/ssh_keys/"+strconv.FormatInt(k.ID, 10), nil, nil, nil)
		if err != nil && !hasCode(err, "not_found") {
			errs = append(errs, fmt.Errorf("ssh key %s (%d): %w", k.Name, k.ID, err))
		}
	}
	b.keyMu.Lock()
	clear(b.keys)
	b.keyMu.Unlock()
	return errors.Join(errs...)
}
