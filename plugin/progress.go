package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The plugin's logs go to stderr, which the engine shows only with -v. A
// long step's progress ("local-worker-1: kubeadm join") must reach the
// user in Pulumi's normal display: Progress sends the Info and Warn
// records logged while an operation on a resource runs (their context
// carries its URN, see withURN) to the engine's log channel for that
// resource, as well as to stderr.

type urnKey struct{}

// withURN marks ctx as an operation on urn.
func withURN(ctx context.Context, urn resource.URN) context.Context {
	return context.WithValue(ctx, urnKey{}, urn)
}

// EngineLog sends a message to the engine's log for a resource
// (provider.HostClient.Log in the real plugin).
type EngineLog func(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error

// Progress is the slog handler described above; SetEngine connects it
// once the engine's host is known.
type Progress struct {
	next   slog.Handler
	engine *atomic.Pointer[EngineLog]
	attrs  []slog.Attr
}

// NewProgress wraps next.
func NewProgress(next slog.Handler) *Progress {
	return &Progress{next: next, engine: &atomic.Pointer[EngineLog]{}}
}

// SetEngine connects the handler to the engine.
func (p *Progress) SetEngine(l EngineLog) { p.engine.Store(&l) }

func (p *Progress) Enabled(ctx context.Context, l slog.Level) bool { return p.next.Enabled(ctx, l) }

func (p *Progress) WithAttrs(as []slog.Attr) slog.Handler {
	return &Progress{next: p.next.WithAttrs(as), engine: p.engine, attrs: append(append([]slog.Attr{}, p.attrs...), as...)}
}

func (p *Progress) WithGroup(name string) slog.Handler {
	return &Progress{next: p.next.WithGroup(name), engine: p.engine, attrs: p.attrs}
}

func (p *Progress) Handle(ctx context.Context, r slog.Record) error {
	err := p.next.Handle(ctx, r)
	urn, _ := ctx.Value(urnKey{}).(resource.URN)
	engine := p.engine.Load()
	if urn == "" || engine == nil || r.Level < slog.LevelInfo {
		return err
	}
	sev := diag.Info
	if r.Level >= slog.LevelWarn {
		sev = diag.Warning
	}
	(*engine)(ctx, sev, urn, progressLine(r, p.attrs))
	return err
}

// progressLine is "host: message (key=value ...)".
func progressLine(r slog.Record, bound []slog.Attr) string {
	host := ""
	var rest []string
	add := func(a slog.Attr) bool {
		if a.Key == "host" {
			host = a.Value.String()
		} else {
			rest = append(rest, fmt.Sprintf("%s=%v", a.Key, a.Value.Any()))
		}
		return true
	}
	for _, a := range bound {
		add(a)
	}
	r.Attrs(add)
	msg := r.Message
	if host != "" {
		msg = host + ": " + msg
	}
	if len(rest) > 0 {
		msg += " (" + strings.Join(rest, ", ") + ")"
	}
	return msg
}
