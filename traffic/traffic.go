// Package traffic keeps a steady load on a Service of a cluster while the
// cluster changes under it (a Kubernetes upgrade: nodes drained, kubelets
// restarted, the control plane and kube-proxy replaced), and says what the
// change did to the requests: how many were sent and failed, and the
// longest window in which they failed.
//
// The requests leave from every node, through the SSH connection meshready
// already holds to it (a direct-tcpip channel: the node's own kernel
// connects to the Service's ClusterIP, through its kube-proxy rules), one
// new connection per request so that each one takes the Service's routing
// as it is at that moment. The target is a workload of two replicas with a
// PodDisruptionBudget (Workload), which is what "0 failed requests" is
// promised for.
package traffic

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Client is where requests leave from: a node, and how to open a TCP
// connection from it.
type Client struct {
	Name string
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Load is the steady load: QPS requests a second from every client to
// http://Target/Path, each failed when it takes longer than Timeout or
// answers other than 200.
type Load struct {
	Target, Path string
	QPS          int
	Timeout      time.Duration
}

// Validate refuses a load that cannot be run as asked.
func (l Load) Validate() error {
	if _, _, err := net.SplitHostPort(l.Target); err != nil {
		return fmt.Errorf("traffic target %q: %w", l.Target, err)
	}
	if !strings.HasPrefix(l.Path, "/") {
		return fmt.Errorf("traffic path %q does not start with /", l.Path)
	}
	if l.QPS < 1 || l.QPS > 1000 {
		return fmt.Errorf("traffic: %d requests a second per client is outside 1-1000", l.QPS)
	}
	if l.Timeout <= 0 || l.Timeout > maxTimeout {
		return fmt.Errorf("traffic: timeout %v is outside (0, %v]", l.Timeout, maxTimeout)
	}
	return nil
}

// maxTimeout keeps a request's answer within what a steady load means, and
// the requests waiting for answers (Load.inFlight) few.
const maxTimeout = 30 * time.Second

// Sample is one request: when it was sent (since the load started), who
// sent it, how long it took, and why it failed ("" = it did not).
type Sample struct {
	Client  string
	At      time.Duration
	Latency time.Duration
	Err     string
}

// inFlight bounds each client's requests still waiting for an answer: a
// second's worth more than can be waiting when every request ends by its
// timeout, so that slow answers never reach it. A request that would pass
// it is not sent and counts as failed: the load itself could not keep its
// rate, which must not pass for a quiet window.
func (l Load) inFlight() int {
	return l.QPS*int(math.Ceil(l.Timeout.Seconds())) + l.QPS
}

// Recorder runs a Load until Stop.
type Recorder struct {
	load    Load
	start   time.Time
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	samples []Sample
	clients []string
}

// Reachable waits until every client got a 200 from the target (a load
// measures what a change does to a Service that answered before it), and
// says which did not within timeout.
func Reachable(ctx context.Context, l Load, clients []Client, timeout time.Duration) error {
	if err := l.Validate(); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for _, c := range clients {
		hc := &http.Client{Timeout: l.Timeout, Transport: &http.Transport{DialContext: c.Dial, DisableKeepAlives: true}}
		for {
			s := request(hc, "http://"+l.Target+l.Path, c.Name, 0)
			if s.Err == "" {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("traffic: %s did not answer from %s in %s, before anything changed (%s)", l.Target, c.Name, timeout, s.Err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

// Start starts the load from every client; Stop ends it.
func Start(ctx context.Context, l Load, clients []Client) (*Recorder, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if len(clients) == 0 {
		return nil, fmt.Errorf("traffic: no client to send from")
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Recorder{load: l, start: time.Now(), cancel: cancel}
	for _, c := range clients {
		r.clients = append(r.clients, c.Name)
		r.wg.Add(1)
		go r.run(ctx, c)
	}
	return r, nil
}

func (r *Recorder) run(ctx context.Context, c Client) {
	defer r.wg.Done()
	hc := &http.Client{
		Timeout: r.load.Timeout,
		Transport: &http.Transport{
			DialContext: c.Dial, DisableKeepAlives: true, Proxy: nil,
			ResponseHeaderTimeout: r.load.Timeout,
		},
	}
	url := "http://" + r.load.Target + r.load.Path
	tick := time.NewTicker(time.Second / time.Duration(r.load.QPS))
	defer tick.Stop()
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	sem := make(chan struct{}, r.load.inFlight())
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		at := time.Since(r.start)
		select {
		case sem <- struct{}{}:
		default:
			r.add(Sample{Client: c.Name, At: at, Err: fmt.Sprintf("not sent: %d requests of this client unanswered", cap(sem))})
			continue
		}
		inFlight.Add(1)
		go func() {
			defer inFlight.Done()
			defer func() { <-sem }()
			r.add(request(hc, url, c.Name, at))
		}()
	}
}

// request sends one GET; it is not cancelled by Stop, so that a request
// sent is always answered or timed out, never dropped uncounted.
func request(hc *http.Client, url, client string, at time.Duration) Sample {
	s := Sample{Client: client, At: at}
	sent := time.Now()
	resp, err := hc.Get(url)
	s.Latency = time.Since(sent)
	if err != nil {
		s.Err = errorClass(err)
		return s
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.Err = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return s
}

// errorClass is an error without what differs between requests (ports,
// channel numbers), so that the report can count them by kind.
func errorClass(err error) string {
	msg := err.Error()
	lower := strings.ToLower(msg)
	for _, known := range []string{"connection refused", "connection reset", "no route to host", "deadline exceeded", "timeout", "eof", "open failed"} {
		if strings.Contains(lower, known) {
			return known
		}
	}
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

func (r *Recorder) add(s Sample) {
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

// Stop ends the load, waits for every request sent, and summarizes them.
func (r *Recorder) Stop() Result {
	r.cancel()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	res := Summarize(r.samples, r.load)
	res.Clients = slices.Clone(r.clients)
	res.Started = r.start.UTC()
	return res
}

// Result is what a load saw.
type Result struct {
	Clients    []string  `json:"clients"`
	QPS        int       `json:"qpsPerClient"`
	Target     string    `json:"target"`
	Started    time.Time `json:"started"`
	Seconds    float64   `json:"seconds"`
	Sent       int       `json:"sent"`
	Failed     int       `json:"failed"`
	P99Ms      float64   `json:"p99Ms"`
	MaxMs      float64   `json:"maxMs"`
	Windows    []Window  `json:"failureWindows,omitempty"`
	LongestSec float64   `json:"longestFailureWindowSeconds"`
	// Errors counts the failures by kind.
	Errors map[string]int `json:"errors,omitempty"`
}

// Window is a stretch of time with failed requests, none of them further
// than windowGap from the next: from the first failed request sent to the
// last one, and how many failed in it.
type Window struct {
	FromSec float64 `json:"fromSeconds"`
	ToSec   float64 `json:"toSeconds"`
	Failed  int     `json:"failed"`
}

// windowGap joins failures into one window: closer than this, they are
// one outage as a user of the Service sees it.
const windowGap = time.Second

// Summarize counts samples and finds the windows in which requests failed
// (the longest first, at most 5 kept).
func Summarize(samples []Sample, l Load) Result {
	res := Result{QPS: l.QPS, Target: l.Target, Sent: len(samples)}
	var failed []time.Duration
	var lat []time.Duration
	for _, s := range samples {
		if s.At+s.Latency > time.Duration(res.Seconds*float64(time.Second)) {
			res.Seconds = (s.At + s.Latency).Seconds()
		}
		if s.Err != "" {
			failed = append(failed, s.At)
			if res.Errors == nil {
				res.Errors = map[string]int{}
			}
			res.Errors[s.Err]++
			continue
		}
		lat = append(lat, s.Latency)
	}
	res.Failed = len(failed)
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P99Ms = ms(lat[(len(lat)*99+99)/100-1])
		res.MaxMs = ms(lat[len(lat)-1])
	}
	slices.Sort(failed)
	for i, at := range failed {
		if i == 0 || at-failed[i-1] > windowGap {
			res.Windows = append(res.Windows, Window{FromSec: at.Seconds()})
		}
		w := &res.Windows[len(res.Windows)-1]
		w.ToSec, w.Failed = at.Seconds(), w.Failed+1
	}
	sort.SliceStable(res.Windows, func(i, j int) bool {
		return res.Windows[i].ToSec-res.Windows[i].FromSec > res.Windows[j].ToSec-res.Windows[j].FromSec
	})
	if len(res.Windows) > 0 {
		// One failed request alone is a window of one request's slot.
		res.LongestSec = max(res.Windows[0].ToSec-res.Windows[0].FromSec, 1/float64(max(l.QPS, 1)))
	}
	if len(res.Windows) > 5 {
		res.Windows = res.Windows[:5]
	}
	return res
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
