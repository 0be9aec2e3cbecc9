package plugin

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// TestProgressReachesTheEngine: Info and Warn records logged during an
// operation on a resource go to the engine's log for it, as "host: step";
// Debug records, and records outside an operation, stay on stderr only.
func TestProgressReachesTheEngine(t *testing.T) {
	var mu sync.Mutex
	var got []string
	var stderr strings.Builder
	p := NewProgress(slog.NewTextHandler(&stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log := slog.New(p)
	log.InfoContext(context.Background(), "before the engine is known", "host", "cp-1")
	p.SetEngine(func(_ context.Context, sev diag.Severity, urn resource.URN, msg string) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(sev)+" "+string(urn)+" "+msg)
		return nil
	})
	ctx := withURN(context.Background(), "urn:pulumi:s::p::meshready:bootstrap:Member::w-1")
	log.With("host", "w-1").InfoContext(ctx, "step", "step", "kubeadm join")
	log.WarnContext(ctx, "not drained", "host", "w-2")
	log.DebugContext(ctx, "step done", "host", "w-1")
	log.Info("no operation", "host", "w-1")
	want := []string{
		"info urn:pulumi:s::p::meshready:bootstrap:Member::w-1 w-1: step (step=kubeadm join)",
		"warning urn:pulumi:s::p::meshready:bootstrap:Member::w-1 w-2: not drained",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("engine got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := strings.Count(stderr.String(), "\n"); n != 5 {
		t.Errorf("stderr has %d lines, want all 5:\n%s", n, stderr.String())
	}
}
