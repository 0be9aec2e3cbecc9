// Package envs is the model of CI environments: throw-away stacks made from a
// region stack, with an owner and an expiry, created and destroyed from CI.
// What is pure lives here (names, TTLs, the env's stack file, status, which
// envs gc takes); the Pulumi side is the engine's, reached through Store.
package envs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Tag names an env's stack carries in the backend (Pulumi stack tags), so that
// any machine with the backend (a nightly gc job) sees what the creator saw.
const (
	TagEnv     = "meshready:env"
	TagBase    = "meshready:base"
	TagCreator = "meshready:creator"
	TagCreated = "meshready:created"
	TagExpires = "meshready:expires"
)

// MaxNameLen keeps node names (NAME-worker-NN), hostnames and local machine
// names (mr-NAME-worker-NN) well inside their limits.
const MaxNameLen = 24

var nameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)

// CheckName refuses names that cannot become node hostnames, and names of
// region stacks (an env must never be mistaken for, or destroy, one of them).
func CheckName(name string, regions []string) error {
	switch {
	case name == "":
		return errors.New("--name is required")
	case len(name) > MaxNameLen:
		return fmt.Errorf("env name %q is longer than %d characters (it becomes part of every node's hostname)", name, MaxNameLen)
	case !nameRE.MatchString(name) || strings.Contains(name, "--"):
		return fmt.Errorf("env name %q: use lowercase letters, digits and single dashes, starting with a letter (it becomes part of every node's hostname)", name)
	case slices.Contains(regions, name):
		return fmt.Errorf("env name %q is a region stack's name (stacks/Pulumi.%s.yaml): pick another", name, name)
	}
	return nil
}

// MaxTTL bounds how long an env may live: a forgotten one costs money.
const MaxTTL = 30 * 24 * time.Hour

// ParseTTL reads a TTL: Go durations (90m, 4h, 1h30m) and whole days (2d).
func ParseTTL(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" && !strings.ContainsAny(days, "hms") {
		var n int
		if _, err = fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days {
			d = time.Duration(n) * 24 * time.Hour
		} else {
			err = fmt.Errorf("not a number of days")
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	switch {
	case err != nil:
		return 0, fmt.Errorf("--ttl %q: want a duration such as 45m, 4h or 2d", s)
	case d <= 0:
		return 0, fmt.Errorf("--ttl %q: must be positive", s)
	case d > MaxTTL:
		return 0, fmt.Errorf("--ttl %q: at most %s (30 days)", s, MaxTTL)
	}
	return d, nil
}

// Meta is what an env's tags say about it.
type Meta struct {
	Name    string    `json:"name"`
	Base    string    `json:"base"`
	Creator string    `json:"creator"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// Tags renders m as stack tags.
func (m Meta) Tags() map[string]string {
	return map[string]string{
		TagEnv:     "true",
		TagBase:    m.Base,
		TagCreator: m.Creator,
		TagCreated: m.Created.UTC().Format(time.RFC3339),
		TagExpires: m.Expires.UTC().Format(time.RFC3339),
	}
}

// FromTags reads an env's metadata back; ok is false for stacks that are not
// envs (region stacks share the backend). An env whose expiry cannot be read
// is reported as expired at its creation (or the zero time): gc must never
// keep a stack forever because a tag was mangled.
func FromTags(name string, tags map[string]string) (m Meta, ok bool) {
	if tags[TagEnv] != "true" {
		return m, false
	}
	m = Meta{Name: name, Base: tags[TagBase], Creator: tags[TagCreator]}
	m.Created, _ = time.Parse(time.RFC3339, tags[TagCreated])
	exp, err := time.Parse(time.RFC3339, tags[TagExpires])
	if err != nil {
		exp = m.Created
	}
	m.Expires = exp
	return m, true
}

// NewMeta is the metadata of an env created now, or re-created: a re-run
// keeps the first creation time (and creator), and the expiry follows the TTL
// given this time, counted from that creation.
func NewMeta(name, base, creator string, ttl time.Duration, now time.Time, previous *Meta) Meta {
	m := Meta{Name: name, Base: base, Creator: creator, Created: now.UTC().Truncate(time.Second)}
	if previous != nil && !previous.Created.IsZero() {
		m.Created, m.Creator = previous.Created, previous.Creator
	}
	m.Expires = m.Created.Add(ttl)
	return m
}

// Status values env list shows.
const (
	StatusReady    = "ready"
	StatusFailed   = "failed"
	StatusUpdating = "updating"
	StatusExpired  = "expired"
	StatusNew      = "new" // created, no update finished yet
)

// Env is one environment as env list shows it.
type Env struct {
	Meta
	Status string `json:"status"`
	Age    string `json:"age"`
}

// Observed is what the backend says of an env's stack beyond its tags.
type Observed struct {
	UpdateInProgress bool
	// LastResult is the last update's result: succeeded, failed, in-progress, or "" if none.
	LastResult string
	// LastKind is that update's kind (update, destroy, refresh, ...).
	LastKind string
}

// StatusOf: an expired env is expired whatever else is true (gc takes it);
// otherwise the state of the last update.
func StatusOf(m Meta, o Observed, now time.Time) string {
	switch {
	case !now.Before(m.Expires):
		return StatusExpired
	case o.UpdateInProgress || o.LastResult == "in-progress":
		return StatusUpdating
	case o.LastResult == "succeeded" && o.LastKind == "update":
		return StatusReady
	case o.LastResult == "failed" || o.LastResult == "succeeded":
		// a failed update, or a last operation that was not an up (a destroy
		// that ended half-way leaves a stack that is not ready)
		return StatusFailed
	}
	return StatusNew
}

// Store is what envs needs of the backend: list envs, destroy one.
type Store interface {
	List(ctx context.Context) ([]Env, error)
	// Destroy deletes an env's resources and its stack; an env already gone is not an error.
	Destroy(ctx context.Context, name string) error
}

// GCResult says what gc did: every expired env is either destroyed or failed.
type GCResult struct {
	Destroyed []string          `json:"destroyed"`
	Failed    map[string]string `json:"failed"`
	Kept      []string          `json:"kept"`
}

// GC destroys every env that has expired at now, one after the other (envs
// on the local stack share one host), going on past failures. With dryRun it
// only lists them in Destroyed.
func GC(ctx context.Context, s Store, now time.Time, dryRun bool, progress func(name string, err error)) (GCResult, error) {
	res := GCResult{Failed: map[string]string{}}
	all, err := s.List(ctx)
	if err != nil {
		return res, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	for _, e := range all {
		if now.Before(e.Expires) {
			res.Kept = append(res.Kept, e.Name)
			continue
		}
		if dryRun {
			res.Destroyed = append(res.Destroyed, e.Name)
			continue
		}
		if ctx.Err() != nil {
			res.Failed[e.Name] = ctx.Err().Error()
			continue
		}
		err := s.Destroy(ctx, e.Name)
		if progress != nil {
			progress(e.Name, err)
		}
		if err != nil {
			res.Failed[e.Name] = err.Error()
			continue
		}
		res.Destroyed = append(res.Destroyed, e.Name)
	}
	return res, nil
}
