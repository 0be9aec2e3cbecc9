package hetzner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/meshready/meshready/infra"
)

// Owned is one thing meshready made in a Hetzner project, as `meshready
// gc --orphans` sees it: what it is, and whose (its labels).
type Owned struct {
	Kind  string // server, ssh_key, placement_group, firewall, network
	ID    int64
	Name  string
	Stack string // meshready-stack
	// Owner is the meshready-backend label ("" when made before it).
	Owner string
}

// ownedKinds are the kinds in the order they can be deleted: servers first
// (a network with servers, or a firewall applied to one, is refused).
var ownedKinds = []struct{ kind, path string }{
	{"server", "servers"}, {"ssh_key", "ssh_keys"}, {"placement_group", "placement_groups"},
	{"firewall", "firewalls"}, {"network", "networks"},
}

// Inventory lists everything in the project carrying meshready's owner
// label (meshready=true), of every stack and every backend, every page.
// Options.Stack and Identity are not used.
func Inventory(ctx context.Context, o Options) ([]Owned, error) {
	b, err := project(o)
	if err != nil {
		return nil, err
	}
	sel := url.Values{"label_selector": {labelOwner + "=true"}}
	var out []Owned
	add := func(kind string, id int64, name string, labels map[string]string) {
		if labels[labelOwner] == "true" { // checked again: an API that ignored the selector
			out = append(out, Owned{Kind: kind, ID: id, Name: name, Stack: labels[labelStack], Owner: labels[infra.LabelBackend]})
		}
	}
	servers, err := b.listServers(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("hetzner: list servers: %w", err)
	}
	for _, s := range servers {
		add("server", s.ID, s.Name, s.Labels)
	}
	keys, err := b.listKeys(ctx, sel)
	if err != nil {
		return nil, fmt.Errorf("hetzner: list ssh keys: %w", err)
	}
	for _, k := range keys {
		add("ssh_key", k.ID, k.Name, k.Labels)
	}
	for _, k := range ownedKinds[2:] {
		all, err := b.listLabelled(ctx, k.path, k.kind, sel)
		if err != nil {
			return nil, fmt.Errorf("hetzner: list %s: %w", k.path, err)
		}
		for _, x := range all {
			add(k.kind, x.ID, x.Name, x.Labels)
		}
	}
	return out, nil
}

// DeleteOwned deletes items, servers first and waited for, then the rest
// in the order the API accepts. What is already gone is fine; each
// failure is reported and the others are still deleted.
func DeleteOwned(ctx context.Context, o Options, items []Owned) error {
	b, err := project(o)
	if err != nil {
		return err
	}
	var errs []error
	var actions []wireAction
	for _, k := range ownedKinds {
		if k.kind == "ssh_key" { // the servers' deletes are done before anything else goes
			if err := b.waitActions(ctx, actions...); err != nil {
				errs = append(errs, err)
			}
		}
		for _, it := range items {
			if it.Kind != k.kind {
				continue
			}
			if k.kind == "server" {
				a, err := b.startDelete(ctx, it.ID)
				if a != nil {
					actions = append(actions, *a)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("server %s (%d): %w", it.Name, it.ID, err))
				}
				continue
			}
			err := b.api.do(ctx, http.MethodDelete, "/"+k.path+"/"+strconv.FormatInt(it.ID, 10), nil, nil, nil)
			if err != nil && !hasCode(err, "not_found") {
				errs = append(errs, fmt.Errorf("%s %s (%d): %w", k.kind, it.Name, it.ID, err))
				continue
			}
			b.log.Info("deleted "+k.kind, "name", it.Name, "id", it.ID, "stack", it.Stack)
		}
	}
	return errors.Join(errs...)
}

// project is a Backend for project-wide calls: no stack of its own.
func project(o Options) (*Backend, error) {
	o.Stack, o.Identity, o.Owner = "gc", "", ""
	return New(o)
}
