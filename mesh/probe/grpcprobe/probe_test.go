package grpcprobe

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshready/meshready/mesh/probe"
)

// TestPlainEchoOverLoopback: the sidecar mode's server and client over a
// real gRPC connection on loopback: every call answered with the server's
// version, and the plaintext tally of a server that is not there.
func TestPlainEchoOverLoopback(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ServePlain(ctx, addr, "v2", "pod-a") }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)

	c, err := NewClient("dns:///"+addr, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var split probe.Split
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if split = c.Count(t.Context(), 50); split.Errors == 0 {
			break
		}
	}
	if split.Calls != 50 || split.Versions["v2"] != 50 || split.Errors != 0 {
		t.Errorf("split %+v", split)
	}
	if p := Plaintext(t.Context(), addr, 3); p.Versions["v2"] != 3 {
		t.Errorf("a plaintext client of a plain server: %+v", p)
	}
	stop()
	if p := Plaintext(t.Context(), addr, 2); p.Errors != 2 || !strings.Contains(p.FirstError, "Unavailable") && !strings.Contains(p.FirstError, "refused") {
		t.Errorf("a stopped server: %+v", p)
	}
}
