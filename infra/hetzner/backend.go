// Package hetzner is the infra.Backend for Hetzner Cloud, on its documented
// REST API (https://docs.hetzner.cloud): servers made with a known SSH host
// key, found again by labels, never made twice.
package hetzner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/meshready/meshready/infra"
)

// DefaultEndpoint is Hetzner Cloud's API; Options.Endpoint overrides it (tests
// point it at an httptest server).
const DefaultEndpoint = "https://api.hetzner.cloud/v1"

// Options configure a Backend. Only Token and Stack are required; the timing
// knobs exist so that tests run in milliseconds.
type Options struct {
	// Token is the project's API token. It is sent in the Authorization
	// header and appears nowhere else: not in errors, not in logs.
	Token string
	// Endpoint is the API base URL, DefaultEndpoint when empty.
	Endpoint string
	// Log receives progress (Info) and request traces (Debug); discarded when nil.
	Log *slog.Logger
	// Backoff is the wait before retry number attempt (0-based) of a failed
	// request; exponential from 500 ms with jitter, capped at 30 s, when nil.
	Backoff func(attempt int) time.Duration
	// MaxRetryWait caps a wait the API asks for in a 429 (Retry-After,
	// RateLimit-Reset); 60 s when zero.
	MaxRetryWait time.Duration
	// PollInterval is the first wait between polls of an action or a server's
	// status; later polls wait up to 8 times longer. 1 s when zero.
	PollInterval time.Duration
	// HTTPTimeout bounds one HTTP attempt; 30 s when zero.
	HTTPTimeout time.Duration
	// Stack is the meshready stack: the value of the meshready-stack label on
	// everything this Backend makes, and the scope of DeleteAll.
	Stack string
	// Identity is the stack's own label value (meshready-identity), made
	// from what only this stack's state holds: "" for none (servers made
	// before identities).
	Identity string
	// AllowedCIDRs may reach SSH and the API server through the stack's
	// firewall (0.0.0.0/0 and ::/0 when empty); nothing else is open
	// from outside.
	AllowedCIDRs []string
	// Owner is the meshready-backend label value put on everything made
	// (infra.LabelBackend); "" puts none. Not a selector: what was made
	// before it existed is still found and adopted.
	Owner string
}

// String keeps the token out of anything that prints Options.
func (o Options) String() string {
	return fmt.Sprintf("hetzner.Options{Endpoint: %q, Stack: %q, Token: [redacted]}", o.Endpoint, o.Stack)
}

// LogValue keeps the token out of logs that record Options.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(slog.String("endpoint", o.Endpoint), slog.String("stack", o.Stack))
}

// Backend makes, finds and removes one stack's servers in a Hetzner Cloud
// project. It is safe for concurrent use.
type Backend struct {
	api          *apiClient
	log          *slog.Logger
	stack        string
	identity     string
	owner        string
	pollInterval time.Duration

	keyMu sync.Mutex
	keys  map[string]int64 // SSH key fingerprint -> id, once ensured

	allowed  []string
	stackMu  sync.Mutex
	stackIDs *stackIDs // the stack's network, firewall, placement group, once ensured

	// watch polls the actions of every Create and Delete under way; looks
	// shares one list of the stack's servers among the waits for running.
	watch actionWatch
	looks singleflight.Group
}

var _ infra.Backend = (*Backend)(nil)

// New checks the options and returns a Backend; it makes no request.
func New(o Options) (*Backend, error) {
	if o.Token == "" {
		return nil, errors.New("hetzner: no API token")
	}
	if err := checkLabelValue(labelStack, o.Stack); err != nil || o.Stack == "" {
		return nil, fmt.Errorf("hetzner: stack %q is not a usable label value", o.Stack)
	}
	if err := checkLabelValue(infra.LabelBackend, o.Owner); err != nil {
		return nil, fmt.Errorf("hetzner: owner %q is not a usable label value", o.Owner)
	}
	if err := checkLabelValue(labelIdentity, o.Identity); err != nil {
		return nil, fmt.Errorf("hetzner: identity %q is not a usable label value", o.Identity)
	}
	if err := CheckAllowedCIDRs(o.AllowedCIDRs); err != nil {
		return nil, fmt.Errorf("hetzner: %w", err)
	}
	allowed := slices.Clone(o.AllowedCIDRs)
	if len(allowed) == 0 {
		allowed = []string{"0.0.0.0/0", "::/0"}
	}
	endpoint := strings.TrimRight(o.Endpoint, "/")
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("hetzner: endpoint %q is not an http(s) URL", endpoint)
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("backend", "hetzner", "stack", o.Stack)
	backoff := o.Backoff
	if backoff == nil {
		backoff = defaultBackoff
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	return &Backend{
		api: &apiClient{
			endpoint:     endpoint,
			token:        o.Token,
			httpClient:   &http.Client{Transport: transport, Timeout: orDefault(o.HTTPTimeout, 30*time.Second)},
			log:          log,
			backoff:      backoff,
			maxRetryWait: orDefault(o.MaxRetryWait, time.Minute),
			now:          time.Now,
		},
		log:          log,
		stack:        o.Stack,
		identity:     o.Identity,
		owner:        o.Owner,
		allowed:      allowed,
		pollInterval: orDefault(o.PollInterval, time.Second),
		keys:         map[string]int64{},
	}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// defaultBackoff: 0.5 s, 1 s, 2 s, ... up to 30 s, with up to 50% jitter so
// that parallel creates do not retry in lockstep.
func defaultBackoff(attempt int) time.Duration {
	d := min(500*time.Millisecond<<min(attempt, 6), 30*time.Second)
	return d/2 + rand.N(d/2+1)
}

// Get returns the server; a server that does not exist is an error wrapping
// infra.ErrNotFound.
func (b *Backend) Get(ctx context.Context, id string) (infra.Server, error) {
	n, err := parseID(id)
	if err != nil {
		return infra.Server{}, err
	}
	var out serverResponse
	if err := b.api.do(ctx, http.MethodGet, "/servers/"+strconv.FormatInt(n, 10), nil, nil, &out); err != nil {
		if hasCode(err, "not_found") {
			return infra.Server{}, fmt.Errorf("hetzner: get server %s: %w (%w)", id, infra.ErrNotFound, err)
		}
		return infra.Server{}, fmt.Errorf("hetzner: get server %s: %w", id, err)
	}
	return toServer(out.Server), nil
}

// Delete removes the server and waits for the API to finish; a server that
// is already gone is not an error, so Delete can be repeated.
func (b *Backend) Delete(ctx context.Context, id string) error {
	n, err := parseID(id)
	if err != nil {
		return err
	}
	// The labels are read first: a server of another stack or identity is
	// never deleted, whatever state names its id.
	var got serverResponse
	switch err := b.api.do(ctx, http.MethodGet, "/servers/"+id, nil, nil, &got); {
	case hasCode(err, "not_found"):
		return nil
	case err != nil:
		return fmt.Errorf("hetzner: delete server %s: %w", id, err)
	}
	if why := b.notOursToDelete(got.Server.Labels); why != "" {
		return fmt.Errorf("hetzner: not deleting server %s (%s): %s", id, got.Server.Name, why)
	}
	action, err := b.startDelete(ctx, n)
	if err == nil && action != nil {
		err = b.waitActions(ctx, *action)
	}
	if err != nil {
		return fmt.Errorf("hetzner: delete server %s: %w", id, err)
	}
	// The stack's last server gone, its uploaded SSH key, network,
	// firewall and placement group go too.
	left, err := b.List(ctx, b.ownerLabels())
	if err == nil && len(left) == 0 {
		err = errors.Join(b.deleteKeys(ctx), b.deleteStack(ctx))
	}
	if err != nil {
		return fmt.Errorf("hetzner: delete server %s: %w", id, err)
	}
	return nil
}

// List returns the servers carrying all of the given labels, every page.
func (b *Backend) List(ctx context.Context, labels map[string]string) ([]infra.Server, error) {
	q := url.Values{}
	if len(labels) > 0 {
		q.Set("label_selector", selector(labels))
	}
	ws, err := b.listServers(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("hetzner: list servers: %w", err)
	}
	out := make([]infra.Server, 0, len(ws))
	for _, w := range ws {
		if hasLabels(w.Labels, labels) {
			out = append(out, toServer(w))
		}
	}
	return out, nil
}

// listServers follows meta.pagination.next_page through every page.
func (b *Backend) listServers(ctx context.Context, q url.Values) ([]wireServer, error) {
	var all []wireServer
	err := paginate(q, func(q url.Values) (wireMeta, error) {
		var page serverListResponse
		err := b.api.do(ctx, http.MethodGet, "/servers", q, nil, &page)
		all = append(all, page.Servers...)
		return page.Meta, err
	})
	return all, err
}

// paginate calls get for page 1, 2, ... while the API names a next page.
func paginate(q url.Values, get func(url.Values) (wireMeta, error)) error {
	q.Set("per_page", "50")
	for page := 1; ; {
		q.Set("page", strconv.Itoa(page))
		meta, err := get(q)
		if err != nil {
			return fmt.Errorf("page %d: %w", page, err)
		}
		if meta.Pagination == nil || meta.Pagination.NextPage == 0 {
			return nil
		}
		if meta.Pagination.NextPage <= page {
			return fmt.Errorf("page %d: next page %d goes backwards", page, meta.Pagination.NextPage)
		}
		page = meta.Pagination.NextPage
	}
}

func parseID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("hetzner: server id %q is not a Hetzner server id", id)
	}
	return n, nil
}

// toServer is the one place wire servers become infra servers.
func toServer(w wireServer) infra.Server {
	s := infra.Server{
		ID:             strconv.FormatInt(w.ID, 10),
		Name:           w.Name,
		Status:         w.Status,
		SSHPort:        22,
		SSHUser:        "root",
		Labels:         w.Labels,
		Virtualization: "kvm (Hetzner Cloud)",
	}
	if w.PublicNet.IPv4 != nil {
		s.PublicIPv4 = w.PublicNet.IPv4.IP
	}
	if len(w.PrivateNet) > 0 {
		s.PrivateIPv4 = w.PrivateNet[0].IP
	}
	return s
}
