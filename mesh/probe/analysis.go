// Package probe is meshready's proxyless gRPC check of a mesh: an echo
// server that answers with its version label, and a client that calls it
// through Istio's xDS (no Envoy: pilot-agent in the pod serves the xDS
// bootstrap and certificates) and records what answered. The functions in
// this file are the pure analysis; probe.go runs the server and client.
package probe

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Sample is one call the client made: when it ended, and which version
// answered ("" when the call failed).
type Sample struct {
	At      time.Time `json:"at"`
	Version string    `json:"version,omitempty"`
	Err     string    `json:"err,omitempty"`
}

// Split is what a run of calls found: answers per version and failures.
type Split struct {
	Calls    int            `json:"calls"`
	Versions map[string]int `json:"versions"`
	Errors   int            `json:"errors"`
	// FirstError is one failure's message, to say why calls failed.
	FirstError string `json:"firstError,omitempty"`
}

// Deviation is the largest difference, in percentage points, between the
// share of answers of a subset and its configured weight (which sum to
// 100), over every subset. Failed calls count as answers from no subset.
func Deviation(s Split, weights map[string]int) float64 {
	if s.Calls == 0 {
		return math.Inf(1)
	}
	worst := 0.0
	names := map[string]bool{}
	for v := range weights {
		names[v] = true
	}
	for v := range s.Versions {
		names[v] = true
	}
	for v := range names {
		got := 100 * float64(s.Versions[v]) / float64(s.Calls)
		worst = math.Max(worst, math.Abs(got-float64(weights[v])))
	}
	return worst
}

// Converged finds, in one client's samples, when traffic moved to version
// after t0: First is the first answer from it, Converged the start of the
// first window of the given length from which every call was answered by it
// (the window must be covered by samples). ok is false until that happened.
func Converged(samples []Sample, t0 time.Time, version string, window time.Duration) (first, converged time.Time, ok bool) {
	var after []Sample
	for _, s := range samples {
		if !s.At.Before(t0) {
			after = append(after, s)
		}
	}
	sort.SliceStable(after, func(i, j int) bool { return after[i].At.Before(after[j].At) })
	for _, s := range after {
		if s.Version == version {
			first = s.At
			break
		}
	}
	if first.IsZero() {
		return first, converged, false
	}
	// Every candidate start is a sample of the new version; the window from
	// it is good when no sample in it is another answer and some sample lies
	// at or beyond its end (so the window is seen whole).
	for i, s := range after {
		if s.Version != version {
			continue
		}
		end := s.At.Add(window)
		good, covered := true, false
		for _, t := range after[i:] {
			if !t.At.Before(end) {
				covered = true
				break
			}
			if t.Version != version {
				good = false
				break
			}
		}
		if good && covered {
			return first, s.At, true
		}
	}
	return first, converged, false
}

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of ds.
func Percentile(ds []time.Duration, p float64) (time.Duration, error) {
	if len(ds) == 0 {
		return 0, fmt.Errorf("no samples")
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	if rank < 1 {
		rank = 1
	}
	return s[rank-1], nil
}

// Refusal classes: how a plaintext call to a mesh server failed.
const (
	// RefusedByTLS: the call reached a listener that wanted TLS (mTLS) and
	// was turned away by it: what STRICT is for.
	RefusedByTLS = "tls"
	// NotConnected: the call did not reach a server at all (DNS, a refused
	// or timed-out connection): it says nothing about mTLS.
	NotConnected = "connect"
)

// ClassifyRefusal reads a gRPC client's error for a plaintext call: the
// class, or "" when the error says neither. A TLS server reading a
// plaintext HTTP/2 preface closes the connection (or, as Go's crypto/tls
// does, answers HTTP/1.0 400), so the client fails reading the server's
// preface or sees the connection reset.
func ClassifyRefusal(err string) string {
	e := strings.ToLower(err)
	for _, s := range []string{"connection refused", "no such host", "produced zero addresses", "name resolver",
		"no route to host", "network is unreachable", "i/o timeout"} {
		if strings.Contains(e, s) {
			return NotConnected
		}
	}
	for _, s := range []string{"server preface", "http/1", "connection reset", "eof", "tls", "handshake", "frame too large"} {
		if strings.Contains(e, s) {
			return RefusedByTLS
		}
	}
	return ""
}
