package grpcprobe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/xds"

	"github.com/meshready/meshready/mesh/probe"
)

// The echo service is gRPC's own interop TestService (UnaryCall); the
// answer's server_id carries the version label, its hostname the pod. A
// well-kept generated service beats a proto of our own for one call.

type echo struct {
	testpb.UnimplementedTestServiceServer
	version, hostname string
}

// UnaryCall answers with the version, the pod and response_size bytes of
// payload (the load's echo: fortio's echo returns its request's payload).
func (e echo) UnaryCall(_ context.Context, r *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	res := &testpb.SimpleResponse{ServerId: e.version, Hostname: e.hostname}
	if n := r.GetResponseSize(); n > 0 {
		if n > maxPayload {
			return nil, status.Errorf(codes.InvalidArgument, "response_size %d is above %d", n, maxPayload)
		}
		res.Payload = &testpb.Payload{Body: make([]byte, n)}
	}
	return res, nil
}

// maxPayload bounds what one call may ask the echo to send back.
const maxPayload = 1 << 20

// Serve runs the echo server on addr as an xDS-managed gRPC server: istiod
// sends it the inbound listener, and with a STRICT PeerAuthentication the
// listener demands mTLS with the workload certificate pilot-agent keeps in
// the pod. Plaintext is accepted only where the mesh's policy allows it
// (the xDS credentials fall back to insecure only for PERMISSIVE/DISABLE).
func Serve(ctx context.Context, addr, version, hostname string, log *slog.Logger) error {
	creds, err := xdscreds.NewServerCredentials(xdscreds.ServerOptions{FallbackCreds: insecure.NewCredentials()})
	if err != nil {
		return err
	}
	srv, err := xds.NewGRPCServer(grpc.Creds(creds), xds.ServingModeCallback(func(a net.Addr, args xds.ServingModeChangeArgs) {
		log.Info("serving mode", "addr", a.String(), "mode", args.Mode.String(), "err", args.Err)
	}))
	if err != nil {
		return fmt.Errorf("xds server: %w", err)
	}
	testpb.RegisterTestServiceServer(srv, echo{version: version, hostname: hostname})
	return serve(ctx, srv, addr)
}

// ServePlain runs the echo server without xDS, in plaintext: behind an
// Envoy sidecar, which terminates the mesh's mTLS and applies its policy.
func ServePlain(ctx context.Context, addr, version, hostname string) error {
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, echo{version: version, hostname: hostname})
	return serve(ctx, srv, addr)
}

// grpcServer is what Serve and ServePlain run: an xDS-managed or a plain gRPC server.
type grpcServer interface {
	Serve(net.Listener) error
	GracefulStop()
}

func serve(ctx context.Context, srv grpcServer, addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// Calls under way finish; the caller delays ctx's end to drain (meshprobe serve -drain).
	go func() { <-ctx.Done(); srv.GracefulStop() }()
	return srv.Serve(lis)
}

// Client calls target (xds:///host:port) through the mesh and keeps its
// recent samples.
type Client struct {
	conn *grpc.ClientConn
	stub testpb.TestServiceClient
	log  *slog.Logger

	mu      sync.Mutex
	samples []probe.Sample // a ring of the last keep samples
	keep    int
}

// NewClient dials target with xDS credentials: mTLS with the pod's
// workload certificate where istiod's cluster config says so. A target
// that is not xds:/// (dns:///host:port, behind an Envoy sidecar) gets the
// credentials' fallback: plaintext to the sidecar, which does the mTLS.
func NewClient(target string, log *slog.Logger) (*Client, error) {
	creds, err := xdscreds.NewClientCredentials(xdscreds.ClientOptions{FallbackCreds: insecure.NewCredentials()})
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	return &Client{conn: conn, stub: testpb.NewTestServiceClient(conn), log: log, keep: 200_000}, nil
}

// Call makes one call and returns its sample.
func (c *Client) Call(ctx context.Context) probe.Sample {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r, err := c.stub.UnaryCall(ctx, &testpb.SimpleRequest{})
	s := probe.Sample{At: time.Now()}
	if err != nil {
		s.Err = err.Error()
	} else {
		s.Version = r.GetServerId()
	}
	return s
}

// Run calls at rate per second until ctx ends, recording every sample.
func (c *Client) Run(ctx context.Context, rate int) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s := c.Call(ctx)
			c.mu.Lock()
			if len(c.samples) >= c.keep {
				c.samples = c.samples[c.keep/2:]
			}
			c.samples = append(c.samples, s)
			c.mu.Unlock()
		}
	}
}

// Since returns the recorded samples at or after t.
func (c *Client) Since(t time.Time) []probe.Sample {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []probe.Sample
	for _, s := range c.samples {
		if !s.At.Before(t) {
			out = append(out, s)
		}
	}
	return out
}

// Load runs a fixed-rate load through the client's channel (fortio's
// -uniform: o.Connections callers, each at QPS/Connections, their phases
// spread evenly) and times every call. A caller that falls behind calls
// again at once, as fortio does, so a slow server shows as a lower
// ActualQPS. Each request carries o.PayloadBytes and asks as many back.
func (c *Client) Load(ctx context.Context, o probe.LoadOptions) (probe.LoadResult, error) {
	if err := o.Validate(); err != nil {
		return probe.LoadResult{}, err
	}
	res := probe.LoadResult{Options: o, Target: c.conn.Target(), Runtime: "grpc-go " + grpc.Version}
	req := &testpb.SimpleRequest{ResponseSize: int32(o.PayloadBytes), Payload: &testpb.Payload{Body: make([]byte, o.PayloadBytes)}}
	start := time.Now()
	end := start.Add(o.Duration)
	var (
		mu        sync.Mutex
		durations = make([]time.Duration, 0, int(float64(o.QPS)*o.Duration.Seconds())+o.Connections)
		ok        int64
		firstErr  string
		last      time.Time
		wg        sync.WaitGroup
	)
	for i := range o.Connections {
		wg.Go(func() {
			var mine []time.Duration
			var good int64
			var bad string
			for k := 0; ; k++ {
				at := probe.Schedule(start, o.QPS, o.Connections, i, k)
				if !at.Before(end) || ctx.Err() != nil {
					break
				}
				if d := time.Until(at); d > 0 {
					time.Sleep(d)
				}
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				t0 := time.Now()
				_, err := c.stub.UnaryCall(cctx, req)
				mine = append(mine, time.Since(t0))
				cancel()
				if err != nil && bad == "" {
					bad = err.Error()
				} else if err == nil {
					good++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			durations = append(durations, mine...)
			ok += good
			if firstErr == "" {
				firstErr = bad
			}
			if n := time.Now(); n.After(last) {
				last = n
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Elapsed, res.OK, res.FirstError = last.Sub(start), ok, firstErr
	return probe.Summarize(res, durations), nil
}

// Count makes n calls one after the other and tallies who answered.
func (c *Client) Count(ctx context.Context, n int) probe.Split {
	s := probe.Split{Versions: map[string]int{}}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		r := c.Call(ctx)
		s.Calls++
		if r.Err != "" {
			s.Errors++
			if s.FirstError == "" {
				s.FirstError = r.Err
			}
			continue
		}
		s.Versions[r.Version]++
	}
	return s
}

// Plaintext calls addr (host:port, resolved by DNS, no xDS) n times without
// TLS, as a client outside the mesh would, and tallies the answers.
func Plaintext(ctx context.Context, addr string, n int) probe.Split {
	s := probe.Split{Versions: map[string]int{}}
	conn, err := grpc.NewClient("dns:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return probe.Split{Calls: n, Errors: n, FirstError: err.Error()}
	}
	defer conn.Close()
	stub := testpb.NewTestServiceClient(conn)
	for i := 0; i < n; i++ {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		r, err := stub.UnaryCall(cctx, &testpb.SimpleRequest{})
		cancel()
		s.Calls++
		if err != nil {
			s.Errors++
			if s.FirstError == "" {
				s.FirstError = err.Error()
			}
			continue
		}
		s.Versions[r.GetServerId()]++
	}
	return s
}

// Handler is a probe client pod's HTTP API, which the checks reach through
// the API server's pod proxy: counter makes calls on demand (the canary's
// service), watcher calls all the time (the convergence service); a pod
// runs one of them (nil for the other), as pilot-agent proxies one xDS
// stream per pod.
//
//	GET /now                       the pod's clock, {"unixNano": ...}
//	GET /samples?since=<unix ns>   watcher's samples since then, on the pod's clock (JSON)
//	GET /count?n=<calls>           n calls by counter now, tallied (JSON probe.Split)
//	GET /plaintext?addr=<host:port>&n=<calls>  plaintext calls, tallied
//	GET /load?qps=&c=&t=&payload=  a fixed-rate load by counter, timed (JSON probe.LoadResult)
func Handler(counter, watcher *Client) http.Handler {
	mux := http.NewServeMux()
	// The pod's clock: the checks read T0 on it, so that a convergence time
	// is one clock minus itself.
	mux.HandleFunc("GET /now", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]int64{"unixNano": time.Now().UnixNano()})
	})
	mux.HandleFunc("GET /samples", func(w http.ResponseWriter, r *http.Request) {
		ns, err := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		if err != nil {
			http.Error(w, "since: unix nanoseconds", http.StatusBadRequest)
			return
		}
		if watcher == nil {
			http.Error(w, "this client is not a watcher (-watch)", http.StatusNotFound)
			return
		}
		reply(w, watcher.Since(time.Unix(0, ns)))
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 1 || n > 100_000 {
			http.Error(w, "n: 1..100000 calls", http.StatusBadRequest)
			return
		}
		if counter == nil {
			http.Error(w, "this client does not count (-target)", http.StatusNotFound)
			return
		}
		reply(w, counter.Count(r.Context(), n))
	})
	mux.HandleFunc("GET /plaintext", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 1 || n > 100 {
			http.Error(w, "n: 1..100 calls", http.StatusBadRequest)
			return
		}
		reply(w, Plaintext(r.Context(), r.URL.Query().Get("addr"), n))
	})
	mux.HandleFunc("GET /load", func(w http.ResponseWriter, r *http.Request) {
		o, err := loadOptions(r.URL.Query())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if counter == nil {
			http.Error(w, "this client does not make calls on demand (-target)", http.StatusNotFound)
			return
		}
		res, err := counter.Load(r.Context(), o)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		reply(w, res)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	return mux
}

// loadOptions reads a load's knobs from a query (qps, c, t as a Go
// duration, payload in bytes), validated.
func loadOptions(q url.Values) (probe.LoadOptions, error) {
	var o probe.LoadOptions
	var err error
	for _, f := range []struct {
		name string
		to   *int
	}{{"qps", &o.QPS}, {"c", &o.Connections}, {"payload", &o.PayloadBytes}} {
		if *f.to, err = strconv.Atoi(q.Get(f.name)); err != nil {
			return o, fmt.Errorf("%s: a whole number", f.name)
		}
	}
	if o.Duration, err = time.ParseDuration(q.Get("t")); err != nil {
		return o, fmt.Errorf("t: a duration such as 60s")
	}
	return o, o.Validate()
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// Close closes the client's connection.
func (c *Client) Close() error { return c.conn.Close() }
