package grpcprobe

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"

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

// TestLoadOverLoopback: a fixed-rate load against a real gRPC echo on
// loopback makes the calls asked for, every one answered with the payload
// asked back, through the client's HTTP API; bad knobs are refused there
// before any call.
func TestLoadOverLoopback(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ServePlain(ctx, addr, "v1", "pod-a") }()
	t.Cleanup(func() { cancel(); <-done })
	c, err := NewClient("dns:///"+addr, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Count(t.Context(), 1).Errors > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the echo server never answered")
		}
	}
	r, err := c.stub.UnaryCall(t.Context(), &testpb.SimpleRequest{ResponseSize: 1024})
	if err != nil || len(r.GetPayload().GetBody()) != 1024 {
		t.Fatalf("echo of 1024 bytes: %d bytes, %v", len(r.GetPayload().GetBody()), err)
	}

	srv := httptest.NewServer(Handler(c, nil))
	defer srv.Close()
	get := func(q string) (*http.Response, []byte) {
		res, err := http.Get(srv.URL + "/load?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, body := get("qps=200&c=4&t=1s&payload=1024")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("load: %s %s", res.Status, body)
	}
	var l probe.LoadResult
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	if l.Calls < 190 || l.Calls > 200 || l.OK != l.Calls || l.FirstError != "" || l.ActualQPS < 150 || l.ActualQPS > 210 ||
		l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max || l.Options.PayloadBytes != 1024 || l.Target != "dns:///"+addr ||
		!strings.HasPrefix(l.Runtime, "grpc-go 1.") {
		t.Errorf("load result %+v", l)
	}
	for _, q := range []string{"qps=0&c=1&t=1s&payload=0", "qps=10&c=1&t=forever&payload=0", "qps=10&c=1&t=1s&payload=-5", "qps=x&c=1&t=1s&payload=0"} {
		if res, body := get(q); res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s %s", q, res.Status, body)
		}
	}
}
