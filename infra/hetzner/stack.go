package hetzner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"

	"github.com/meshready/meshready/config"
)

// The stack's own resources beside its servers (Hetzner's documented
// objects, https://docs.hetzner.cloud): a private network with one cloud
// subnet, which every server joins (kubelet, etcd and the API server talk
// over it, not over public addresses); a firewall on the servers' public
// interfaces that lets in SSH and the API server from AllowedCIDRs and ICMP,
// and nothing else (Hetzner firewalls do not filter the private network);
// a spread placement group for the control planes, so that one host's
// failure takes at most one etcd member. Each is found again by the stack's
// labels before it is made (a resumed create adopts it), made at most once
// per Backend, and deleted with the stack's last server.

const (
	// NetworkRange and SubnetRange are the stack's private addresses
	// (config checks the pod and service networks against NetworkRange).
	NetworkRange = config.HetznerNetwork
	SubnetRange  = "10.0.1.0/24"
)

// networkZone is the zone of a location's network (Hetzner's locations:
// fsn1, nbg1, hel1 in eu-central; ash us-east; hil us-west; sin ap-southeast).
func networkZone(location string) (string, error) {
	switch location {
	case "fsn1", "nbg1", "hel1":
		return "eu-central", nil
	case "ash":
		return "us-east", nil
	case "hil":
		return "us-west", nil
	case "sin":
		return "ap-southeast", nil
	}
	return "", fmt.Errorf("location %q has no known network zone (fsn1, nbg1, hel1, ash, hil, sin)", location)
}

// stackIDs are the stack's resources, once ensured.
type stackIDs struct {
	network, firewall, placement int64
}

// firewallRules are the firewall's inbound rules: SSH and the API server
// from allowed, ICMP from anywhere (path MTU discovery, ping); outbound is
// open (Hetzner's default with no outbound rule).
func firewallRules(allowed []string) []wireFirewallRule {
	return []wireFirewallRule{
		{Description: "ssh", Direction: "in", Protocol: "tcp", Port: "22", SourceIPs: allowed},
		{Description: "kube-apiserver", Direction: "in", Protocol: "tcp", Port: "6443", SourceIPs: allowed},
		{Description: "icmp", Direction: "in", Protocol: "icmp", SourceIPs: []string{"0.0.0.0/0", "::/0"}},
	}
}

// CheckAllowedCIDRs refuses what is not a CIDR (the values go into the
// firewall's rules as they are).
func CheckAllowedCIDRs(cidrs []string) error {
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err != nil || p.Masked() != p {
			return fmt.Errorf("allowed CIDR %q is not a network prefix such as 203.0.113.0/24", c)
		}
	}
	return nil
}

// Reconcile finds or makes the stack's network, firewall and placement
// group again and sets the firewall's rules to AllowedCIDRs (a server's
// update: the CIDRs changed).
func (b *Backend) Reconcile(ctx context.Context, location string) error {
	b.stackMu.Lock()
	b.stackIDs = nil
	b.stackMu.Unlock()
	_, err := b.ensureStack(ctx, location)
	return err
}

// ensureStack returns the stack's network, firewall and placement group,
// found or made, once per Backend.
func (b *Backend) ensureStack(ctx context.Context, location string) (stackIDs, error) {
	b.stackMu.Lock()
	defer b.stackMu.Unlock()
	if b.stackIDs != nil {
		return *b.stackIDs, nil
	}
	zone, err := networkZone(location)
	if err != nil {
		return stackIDs{}, err
	}
	name := "meshready-" + b.stack
	var ids stackIDs
	if ids.network, err = b.ensureOwned(ctx, "networks", "network", name, createNetworkRequest{
		Name: name, IPRange: NetworkRange, Labels: b.createLabels(),
		Subnets: []wireSubnet{{Type: "cloud", IPRange: SubnetRange, NetworkZone: zone}},
	}, nil); err != nil {
		return stackIDs{}, err
	}
	rules := firewallRules(b.allowed)
	if ids.firewall, err = b.ensureOwned(ctx, "firewalls", "firewall", name, createFirewallRequest{
		Name: name, Labels: b.createLabels(), Rules: rules,
	}, func(found wireOwned) error {
		// Adopted: its rules are made ours (AllowedCIDRs may have changed).
		if slices.EqualFunc(found.Rules, rules, sameRule) {
			return nil
		}
		var out actionListResponse
		if err := b.api.do(ctx, http.MethodPost, "/firewalls/"+strconv.FormatInt(found.ID, 10)+"/actions/set_rules", nil,
			map[string]any{"rules": rules}, &out); err != nil {
			return err
		}
		b.log.Info("firewall rules set", "id", found.ID, "allowed", b.allowed)
		return b.waitActions(ctx, out.Actions...)
	}); err != nil {
		return stackIDs{}, err
	}
	if ids.placement, err = b.ensureOwned(ctx, "placement_groups", "placement_group", name+"-control-planes", createPlacementGroupRequest{
		Name: name + "-control-planes", Type: "spread", Labels: b.createLabels(),
	}, nil); err != nil {
		return stackIDs{}, err
	}
	b.stackIDs = &ids
	return ids, nil
}

func sameRule(a, b wireFirewallRule) bool {
	return a.Direction == b.Direction && a.Protocol == b.Protocol && a.Port == b.Port && slices.Equal(a.SourceIPs, b.SourceIPs)
}

// ensureOwned finds the stack's one object of a kind by its labels, or
// makes it: after a POST whose outcome is unknown it looks again before
// asking again, as Create does for servers. adopt, when set, runs on an
// object found rather than made.
func (b *Backend) ensureOwned(ctx context.Context, path, key, name string, req any, adopt func(wireOwned) error) (int64, error) {
	fail := func(err error) (int64, error) { return 0, fmt.Errorf("%s %s: %w", key, name, err) }
	find := func() (wireOwned, bool, error) {
		all, err := b.listOwned(ctx, path, key)
		if err != nil {
			return wireOwned{}, false, err
		}
		switch len(all) {
		case 0:
			return wireOwned{}, false, nil
		case 1:
			return all[0], true, nil
		}
		return wireOwned{}, false, fmt.Errorf("%d of them carry the stack's labels %s", len(all), selector(b.ownerLabels()))
	}
	found, ok, err := find()
	if err != nil {
		return fail(err)
	}
	var lastErr error
	for attempt := 0; !ok && attempt < maxCreateAttempts; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, b.api.backoff(attempt-1)); err != nil {
				return fail(fmt.Errorf("%w (after: %w)", err, lastErr))
			}
		}
		var out map[string]json.RawMessage
		err := b.api.do(ctx, http.MethodPost, "/"+path, nil, req, &out)
		if err == nil {
			var made wireOwned
			if err := json.Unmarshal(orNull(out[key]), &made); err != nil || made.ID == 0 {
				return fail(fmt.Errorf("the answer names no %s (%v)", key, err))
			}
			b.log.Info("made "+key, "name", name, "id", made.ID)
			return made.ID, nil
		}
		taken := hasCode(err, "uniqueness_error")
		if !taken && !ambiguous(ctx, err) {
			return fail(err)
		}
		if found, ok, lastErr = find(); lastErr != nil {
			return fail(fmt.Errorf("%w; looking it up by labels: %w", err, lastErr))
		}
		if !ok && taken {
			return fail(fmt.Errorf("the name is taken by one meshready does not own for stack %s: %w", b.stack, err))
		}
		lastErr = err
	}
	if !ok {
		return fail(fmt.Errorf("gave up after %d attempts, none made it: %w", maxCreateAttempts, lastErr))
	}
	b.log.Info("adopting "+key, "name", found.Name, "id", found.ID)
	if adopt != nil {
		if err := adopt(found); err != nil {
			return fail(err)
		}
	}
	return found.ID, nil
}

// listOwned lists the objects of a kind carrying the stack's labels (checked
// again on our side: an API that ignored the selector must not hand us
// another stack's), every page.
func (b *Backend) listOwned(ctx context.Context, path, key string) ([]wireOwned, error) {
	owned := b.ownerLabels()
	all, err := b.listLabelled(ctx, path, key, url.Values{"label_selector": {selector(owned)}})
	var out []wireOwned
	for _, o := range all {
		if hasLabels(o.Labels, owned) {
			out = append(out, o)
		}
	}
	return out, err
}

// listLabelled lists the objects of a kind the query selects, every page.
func (b *Backend) listLabelled(ctx context.Context, path, key string, q url.Values) ([]wireOwned, error) {
	var all []wireOwned
	err := paginate(q, func(q url.Values) (wireMeta, error) {
		var page map[string]json.RawMessage
		var items []wireOwned
		var meta wireMeta
		err := b.api.do(ctx, http.MethodGet, "/"+path, q, nil, &page)
		if err == nil {
			err = errors.Join(json.Unmarshal(orNull(page[key+"s"]), &items), json.Unmarshal(orNull(page["meta"]), &meta))
		}
		all = append(all, items...)
		return meta, err
	})
	return all, err
}

func orNull(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage("null")
	}
	return m
}

// deleteStack deletes the stack's placement group, firewall and network
// (after its servers: a firewall still applied, or a network with servers,
// is refused by the API). What is already gone is fine.
func (b *Backend) deleteStack(ctx context.Context) error {
	var errs []error
	for _, k := range []struct{ path, key string }{{"placement_groups", "placement_group"}, {"firewalls", "firewall"}, {"networks", "network"}} {
		all, err := b.listOwned(ctx, k.path, k.key)
		if err != nil {
			errs = append(errs, fmt.Errorf("list %s: %w", k.path, err))
			continue
		}
		for _, o := range all {
			err := b.api.do(ctx, http.MethodDelete, "/"+k.path+"/"+strconv.FormatInt(o.ID, 10), nil, nil, nil)
			if err != nil && !hasCode(err, "not_found") {
				errs = append(errs, fmt.Errorf("%s %s (%d): %w", k.key, o.Name, o.ID, err))
				continue
			}
			b.log.Info("deleted "+k.key, "name", o.Name, "id", o.ID)
		}
	}
	b.stackMu.Lock()
	b.stackIDs = nil
	b.stackMu.Unlock()
	return errors.Join(errs...)
}
