package probe

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// LoadOptions is a fixed-rate load, as fortio's `load -qps -c -t
// -payload-size -uniform` (METHODS.md's mesh overhead method): QPS calls per
// second in all, spread evenly over Connections concurrent callers, for
// Duration, each request and answer carrying PayloadBytes.
type LoadOptions struct {
	QPS          int           `json:"qps"`
	Connections  int           `json:"connections"`
	Duration     time.Duration `json:"duration"`
	PayloadBytes int           `json:"payloadBytes"`
}

// Load bounds: the client keeps every call's duration in memory.
const (
	maxLoadQPS     = 20_000
	maxLoadCallers = 256
	maxLoadPayload = 1 << 20
	maxLoadCalls   = 5_000_000
)

// Validate says what is wrong with o, before any call is made.
func (o LoadOptions) Validate() error {
	switch {
	case o.QPS < 1 || o.QPS > maxLoadQPS:
		return fmt.Errorf("qps %d is outside 1..%d", o.QPS, maxLoadQPS)
	case o.Connections < 1 || o.Connections > maxLoadCallers || o.Connections > o.QPS:
		return fmt.Errorf("connections %d is outside 1..%d (and at most qps)", o.Connections, maxLoadCallers)
	case o.Duration < time.Second || o.Duration > 30*time.Minute:
		return fmt.Errorf("duration %s is outside 1s..30m", o.Duration)
	case o.PayloadBytes < 0 || o.PayloadBytes > maxLoadPayload:
		return fmt.Errorf("payload %d bytes is outside 0..%d", o.PayloadBytes, maxLoadPayload)
	case float64(o.QPS)*o.Duration.Seconds() > maxLoadCalls:
		return fmt.Errorf("qps × duration is more than %d calls", maxLoadCalls)
	}
	return nil
}

// LoadResult is what a load found. Latencies are every call's duration,
// failed ones included (as fortio's histogram), nearest-rank percentiles.
type LoadResult struct {
	Options LoadOptions `json:"options"`
	Target  string      `json:"target"`
	// Elapsed is from the first call's start to the last call's end.
	Elapsed    time.Duration `json:"elapsed"`
	Calls      int64         `json:"calls"`
	OK         int64         `json:"ok"`
	FirstError string        `json:"firstError,omitempty"`
	ActualQPS  float64       `json:"actualQPS"`
	P50        time.Duration `json:"p50"`
	P90        time.Duration `json:"p90"`
	P99        time.Duration `json:"p99"`
	P999       time.Duration `json:"p999"`
	Max        time.Duration `json:"max"`
	// Runtime is what made the calls (the gRPC library and its version).
	Runtime string `json:"runtime"`
}

// Summarize fills the figures of r from the calls' durations (sorted in place).
func Summarize(r LoadResult, durations []time.Duration) LoadResult {
	slices.Sort(durations)
	r.Calls = int64(len(durations))
	if r.Elapsed > 0 {
		r.ActualQPS = float64(r.Calls) / r.Elapsed.Seconds()
	}
	r.P50, r.P90, r.P99, r.P999 = rank(durations, 0.50), rank(durations, 0.90), rank(durations, 0.99), rank(durations, 0.999)
	if n := len(durations); n > 0 {
		r.Max = durations[n-1]
	}
	return r
}

// rank is the nearest-rank percentile q of sorted d: the smallest value
// with at least q of the values at or below it.
func rank(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	// The epsilon keeps 0.99 × 100 from rounding up to the 100th value.
	i := int(math.Ceil(float64(len(d))*q-1e-9)) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// Schedule is when caller i of n makes its k-th call for a load of qps in
// all: each caller runs at qps/n, the callers' phases spread evenly over
// one caller's period (fortio's -uniform), so the calls are evenly spaced.
func Schedule(start time.Time, qps, n, i, k int) time.Time {
	period := time.Duration(float64(time.Second) * float64(n) / float64(qps))
	return start.Add(period*time.Duration(k) + period*time.Duration(i)/time.Duration(n))
}
