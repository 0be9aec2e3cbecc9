package hetzner

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/meshready/meshready/infra"
)

// maxCreateAttempts bounds the POSTs of one Create (or one SSH key upload):
// the first, and one more each time a lookup proved the last one made nothing.
const maxCreateAttempts = 3

// Create makes the server for spec and waits until Hetzner reports it
// running. It never makes two servers for one spec: after a POST whose
// outcome is unknown (lost answer, timeout, 5xx) it looks the server up by
// its labels and adopts it, and only POSTs again when none exists; a name
// already taken is resolved the same way, and a server of that name that
// meshready does not own is an error, never adopted.
func (b *Backend) Create(ctx context.Context, spec infra.ServerSpec) (infra.Server, error) {
	fail := func(err error) (infra.Server, error) {
		return infra.Server{}, fmt.Errorf("hetzner: create server %s: %w", spec.Name, err)
	}
	if spec.Name == "" || spec.ServerType == "" || spec.Image == "" {
		return fail(errors.New("spec needs a name, a server type and an image"))
	}
	labels, err := b.serverLabels(spec)
	if err != nil {
		return fail(err)
	}
	userData, err := RenderUserData(spec.HostKey)
	if err != nil {
		return fail(err)
	}
	keyID, err := b.ensureSSHKey(ctx, spec.SSHPublicKey)
	if err != nil {
		return fail(err)
	}
	stack, err := b.ensureStack(ctx, spec.Region)
	if err != nil {
		return fail(err)
	}
	log := b.log.With("host", spec.Name)
	req := createServerRequest{
		Name:       spec.Name,
		ServerType: spec.ServerType,
		Image:      spec.Image,
		Location:   spec.Region,
		SSHKeys:    []int64{keyID},
		Labels:     labels,
		UserData:   userData,
		Networks:   []int64{stack.network},
		Firewalls:  []wireFirewallRef{{Firewall: stack.firewall}},
	}
	if spec.Role == "control-plane" {
		req.PlacementGroup = stack.placement
	}
	srv, actions, adopted, err := b.createOrAdopt(ctx, log, req)
	if err == nil && adopted {
		actions, err = b.runningActions(ctx, srv.ID)
	}
	if err != nil {
		return fail(err)
	}
	if err := b.waitActions(ctx, actions...); err != nil {
		return fail(fmt.Errorf("server %d: %w", srv.ID, err))
	}
	srv, err = b.waitRunning(ctx, srv, len(actions) > 0)
	if err != nil {
		return fail(err)
	}
	s := toServer(srv)
	log.Info("server running", "id", s.ID, "ipv4", s.PublicIPv4)
	return s, nil
}

// createOrAdopt POSTs the server, or finds the one an earlier POST made. It
// returns the actions to wait for, or adopted without them.
func (b *Backend) createOrAdopt(ctx context.Context, log *slog.Logger, req createServerRequest) (srv wireServer, actions []wireAction, adopted bool, err error) {
	var lastErr error
	for attempt := range maxCreateAttempts {
		if attempt > 0 {
			if err := sleep(ctx, b.api.backoff(attempt-1)); err != nil {
				return wireServer{}, nil, false, fmt.Errorf("%w (after: %w)", err, lastErr)
			}
		}
		log.Info("creating server", "attempt", attempt+1)
		var out createServerResponse
		err = b.api.do(ctx, http.MethodPost, "/servers", nil, req, &out)
		if err == nil {
			log.Info("server created", "id", out.Server.ID)
			return out.Server, append([]wireAction{out.Action}, out.NextActions...), false, nil
		}
		nameTaken := hasCode(err, "uniqueness_error")
		if !nameTaken && !ambiguous(ctx, err) {
			return wireServer{}, nil, false, err
		}
		if nameTaken {
			log.Info("server name taken; looking for our server by its labels")
		} else {
			log.Warn("create outcome unknown; looking the server up by its labels before asking again", "error", err)
		}
		found, ok, ferr := b.findOwned(ctx, req.Name)
		if ferr != nil {
			return wireServer{}, nil, false, fmt.Errorf("%w; looking it up by labels: %w", err, ferr)
		}
		if ok {
			log.Info("adopting server", "id", found.ID, "status", found.Status)
			return found, nil, true, nil
		}
		if nameTaken {
			return wireServer{}, nil, false, b.notOurs(ctx, req.Name, err)
		}
		lastErr = err
	}
	return wireServer{}, nil, false, fmt.Errorf("gave up after %d attempts, none made a server: %w", maxCreateAttempts, lastErr)
}

// findOwned looks up the server carrying our labels for name.
func (b *Backend) findOwned(ctx context.Context, name string) (wireServer, bool, error) {
	want := b.nameLabels(name)
	ws, err := b.listServers(ctx, url.Values{"label_selector": {selector(want)}})
	if err != nil {
		return wireServer{}, false, err
	}
	var mine []wireServer
	for _, w := range ws {
		if hasLabels(w.Labels, want) {
			mine = append(mine, w)
		}
	}
	switch len(mine) {
	case 0:
		return wireServer{}, false, nil
	case 1:
		return mine[0], true, nil
	}
	ids := make([]int64, len(mine))
	for i, w := range mine {
		ids[i] = w.ID
	}
	return wireServer{}, false, fmt.Errorf("servers %v all carry the labels %s", ids, selector(want))
}

// notOurs names the server that holds the name without our labels.
func (b *Backend) notOurs(ctx context.Context, name string, cause error) error {
	ws, err := b.listServers(ctx, url.Values{"name": {name}})
	if err == nil && len(ws) > 0 {
		return fmt.Errorf("the name is taken by server %d (labels %q), which meshready does not own for stack %s; not adopting it: %w",
			ws[0].ID, selector(ws[0].Labels), b.stack, cause)
	}
	return fmt.Errorf("the name is taken by a server meshready does not own for stack %s; not adopting it: %w", b.stack, cause)
}

// ensureSSHKey returns the id of the SSH key resource for pub, uploading it
// once per Backend. Hetzner keeps one resource per fingerprint, so a key that
// exists (uploaded by an earlier run, another stack or a person) is reused.
func (b *Backend) ensureSSHKey(ctx context.Context, pub string) (int64, error) {
	fp, err := fingerprint(pub)
	if err != nil {
		return 0, err
	}
	b.keyMu.Lock()
	defer b.keyMu.Unlock()
	if id, ok := b.keys[fp]; ok {
		return id, nil
	}
	name := "meshready-" + b.stack + "-" + strings.ReplaceAll(fp, ":", "")[:16]
	req := createSSHKeyRequest{Name: name, PublicKey: strings.TrimSpace(pub), Labels: b.createLabels()}
	var lastErr error
	for attempt := range maxCreateAttempts {
		if attempt > 0 {
			if err := sleep(ctx, b.api.backoff(attempt-1)); err != nil {
				return 0, fmt.Errorf("ssh key %s: %w (after: %w)", name, err, lastErr)
			}
		}
		var out sshKeyResponse
		err := b.api.do(ctx, http.MethodPost, "/ssh_keys", nil, req, &out)
		if err == nil {
			b.keys[fp] = out.SSHKey.ID
			b.log.Info("ssh key uploaded", "name", name, "id", out.SSHKey.ID)
			return out.SSHKey.ID, nil
		}
		taken := hasCode(err, "uniqueness_error")
		if !taken && !ambiguous(ctx, err) {
			return 0, fmt.Errorf("ssh key %s: %w", name, err)
		}
		id, ok, ferr := b.findKey(ctx, fp)
		if ferr != nil {
			return 0, fmt.Errorf("ssh key %s: %w; looking it up by fingerprint: %w", name, err, ferr)
		}
		if ok {
			b.keys[fp] = id
			b.log.Info("ssh key reused", "fingerprint", fp, "id", id)
			return id, nil
		}
		if taken {
			return 0, fmt.Errorf("ssh key %s: the name is taken by another key: %w", name, err)
		}
		lastErr = err
	}
	return 0, fmt.Errorf("ssh key %s: gave up after %d attempts: %w", name, maxCreateAttempts, lastErr)
}

func (b *Backend) findKey(ctx context.Context, fp string) (int64, bool, error) {
	var out sshKeyListResponse
	if err := b.api.do(ctx, http.MethodGet, "/ssh_keys", url.Values{"fingerprint": {fp}}, nil, &out); err != nil {
		return 0, false, err
	}
	for _, k := range out.SSHKeys {
		if k.Fingerprint == fp {
			return k.ID, true, nil
		}
	}
	return 0, false, nil
}

// fingerprint is the key's fingerprint as Hetzner writes it: the MD5 of the
// key blob in colon-separated hex.
func fingerprint(pub string) (string, error) {
	fields := strings.Fields(pub)
	if len(fields) < 2 {
		return "", fmt.Errorf("ssh public key is not in authorized_keys format")
	}
	blob, err := base64.StdEncoding.DecodeString(fields[1])
	if err != nil {
		return "", fmt.Errorf("ssh public key %s: bad base64: %w", fields[0], err)
	}
	sum := md5.Sum(blob)
	parts := make([]string, len(sum))
	for i, c := range sum {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":"), nil
}
