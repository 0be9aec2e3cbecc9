package traffic

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshready/meshready/internal/golden"
)

func TestSummarize(t *testing.T) {
	s := func(at float64, err string) Sample {
		return Sample{Client: "n", At: time.Duration(at * float64(time.Second)), Latency: time.Millisecond, Err: err}
	}
	samples := []Sample{s(0, ""), s(0.01, ""), s(1.0, "connection refused"), s(1.5, "connection refused"), s(2.4, "timeout"),
		s(3, ""), s(5, "HTTP 503"), s(9, "")}
	got := Summarize(samples, Load{Target: "10.96.0.10:8080", QPS: 100})
	if got.Sent != 8 || got.Failed != 4 {
		t.Errorf("sent %d failed %d, want 8 and 4", got.Sent, got.Failed)
	}
	// 1.0, 1.5, 2.4 are one window (gaps within 1 s); 5 is a window of one request.
	if len(got.Windows) != 2 || got.Windows[0] != (Window{1, 2.4, 3}) || got.Windows[1] != (Window{5, 5, 1}) {
		t.Errorf("windows %+v", got.Windows)
	}
	if got.LongestSec < 1.39 || got.LongestSec > 1.41 {
		t.Errorf("longest window %v s, want 1.4", got.LongestSec)
	}
	if got.Errors["connection refused"] != 2 || got.Errors["timeout"] != 1 || got.Errors["HTTP 503"] != 1 {
		t.Errorf("errors %v", got.Errors)
	}
	if got.P99Ms != 1 || got.Seconds < 9 {
		t.Errorf("p99 %v ms, %v s", got.P99Ms, got.Seconds)
	}
	one := Summarize([]Sample{s(3, "EOF")}, Load{QPS: 100})
	if one.LongestSec != 0.01 {
		t.Errorf("one failed request: longest %v s, want one slot (0.01 s)", one.LongestSec)
	}
	if none := Summarize([]Sample{s(1, "")}, Load{QPS: 100}); none.LongestSec != 0 || none.Windows != nil || none.Failed != 0 {
		t.Errorf("no failure: %+v", none)
	}
}

func TestLoadValidate(t *testing.T) {
	for _, l := range []Load{
		{Target: "10.0.0.1", Path: "/", QPS: 1, Timeout: time.Second},
		{Target: "10.0.0.1:80", Path: "x", QPS: 1, Timeout: time.Second},
		{Target: "10.0.0.1:80", Path: "/", QPS: 0, Timeout: time.Second},
		{Target: "10.0.0.1:80", Path: "/", QPS: 1},
		{Target: "10.0.0.1:80", Path: "/", QPS: 1, Timeout: time.Minute},
	} {
		if l.Validate() == nil {
			t.Errorf("%+v accepted", l)
		}
	}
}

// A server that fails for a while in the middle of the load: the recorder
// counts every request and finds the window, from two clients.
func TestRecorderFindsTheOutage(t *testing.T) {
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != Path {
			http.NotFound(w, r)
			return
		}
		if down.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("OK"))
	}))
	defer srv.Close()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	clients := []Client{{"a", dial}, {"b", dial}}
	must := Load{Target: "10.96.0.10:8080", Path: Path, QPS: 50, Timeout: time.Second}
	if err := Reachable(t.Context(), must, clients, time.Second); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	if err := Reachable(t.Context(), must, clients, 300*time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not answer from a") {
		t.Errorf("a Service that does not answer: %v", err)
	}
	down.Store(false)
	r, err := Start(t.Context(), Load{Target: "10.96.0.10:8080", Path: Path, QPS: 50, Timeout: time.Second}, clients)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	down.Store(true)
	time.Sleep(300 * time.Millisecond)
	down.Store(false)
	time.Sleep(400 * time.Millisecond)
	res := r.Stop()
	// About 55 per client in 1.1 s; a loaded machine sends fewer, never more.
	if res.Sent < 40 || res.Sent > 112 {
		t.Errorf("sent %d, want about 110", res.Sent)
	}
	if res.Failed == 0 || res.Failed >= res.Sent || res.Errors["HTTP 503"] != res.Failed {
		t.Errorf("failed %d of %d, errors %v", res.Failed, res.Sent, res.Errors)
	}
	if len(res.Windows) != 1 || res.LongestSec < 0.15 || res.LongestSec > 0.5 {
		t.Errorf("windows %+v, longest %v s; want one of about 0.3 s", res.Windows, res.LongestSec)
	}
	if len(res.Clients) != 2 || res.Target != "10.96.0.10:8080" {
		t.Errorf("%+v", res)
	}
}

// Answers that come late but inside the timeout are answers: a second of
// 1.2 s answers at 200/s keeps about 240 requests waiting, and none of
// them is refused by the recorder's own bound.
func TestRecorderWaitsForSlowAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(1200 * time.Millisecond)
		w.Write([]byte("OK"))
	}))
	defer srv.Close()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	r, err := Start(t.Context(), Load{Target: "10.96.0.10:8080", Path: Path, QPS: 200, Timeout: 2 * time.Second}, []Client{{"a", dial}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	res := r.Stop()
	if res.Sent < 100 || res.Failed != 0 || res.P99Ms < 1200 {
		t.Errorf("sent %d, failed %d (%v), p99 %v ms; want every slow answer counted as one", res.Sent, res.Failed, res.Errors, res.P99Ms)
	}
}

// A client whose connections cannot be opened fails every request, each counted.
func TestRecorderCountsUnreachable(t *testing.T) {
	dial := func(context.Context, string, string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Err: errRefused{}}
	}
	r, err := Start(t.Context(), Load{Target: "10.96.0.10:8080", Path: Path, QPS: 100, Timeout: time.Second}, []Client{{"a", dial}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	res := r.Stop()
	if res.Sent == 0 || res.Failed != res.Sent || res.Errors["connection refused"] != res.Sent {
		t.Errorf("%+v", res)
	}
}

type errRefused struct{}

func (errRefused) Error() string { return "connect: connection refused" }

func TestWorkloadGolden(t *testing.T) {
	b, err := Workload("registry.k8s.io/coredns/coredns:v1.12.1")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/workload.json", append(b, '\n'))
	for _, bad := range []string{"", "a b", "x\"y", "img'; rm"} {
		if _, err := Workload(bad); err == nil {
			t.Errorf("image %q taken", bad)
		}
	}
}

func TestErrorClass(t *testing.T) {
	for msg, want := range map[string]string{
		`Get "http://10.1.2.3:8080/health": d2-cp-1: tunnel to 10.1.2.3:8080: ssh: rejected: connect failed ("Connection refused")`: "connection refused",
		`Get "http://10.1.2.3:8080/health": EOF`:                                        "eof",
		`Get "http://10.1.2.3:8080/health": context deadline exceeded (Client.Timeout)`: "deadline exceeded",
		`ssh: rejected: administratively prohibited (open failed)`:                      "open failed",
	} {
		if got := errorClass(errString(msg)); got != want {
			t.Errorf("%s: %q, want %q", msg, got, want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
