package benchmarks

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// LoadRun is what meshready reads from one `fortio load -json -` run: the
// latency percentiles of every call at the rate asked for (METHODS.md, mesh
// overhead: -qps 1000 -c N -payload-size 1024 -uniform -p 50,90,99,99.9).
type LoadRun struct {
	// Variant names the setup measured: baseline, mtls or plaintext (mesh.LatencyVariants).
	Variant string `json:"variant"`
	// URL is what the client called.
	URL          string        `json:"url"`
	RequestedQPS float64       `json:"requestedQPS"`
	ActualQPS    float64       `json:"actualQPS"`
	Connections  int           `json:"connections"`
	Duration     time.Duration `json:"duration"`
	// Calls is every call made; OK those answered 200, the rest count as errors.
	Calls int64 `json:"calls"`
	OK    int64 `json:"ok"`
	// P50 .. P999 and Max are the calls' durations (fortio's histogram, in seconds on the wire).
	P50  time.Duration `json:"p50"`
	P90  time.Duration `json:"p90"`
	P99  time.Duration `json:"p99"`
	P999 time.Duration `json:"p999"`
	Max  time.Duration `json:"max"`
	// Version is the fortio that ran the load.
	Version string `json:"version"`
}

// fortioJSON is the part of fortio's HTTPRunnerResults meshready reads
// (fortio 1.67: RetCodes keyed by the HTTP status, durations in seconds).
type fortioJSON struct {
	Version           string          `json:"Version"`
	URL               string          `json:"URL"`
	RequestedQPS      json.RawMessage `json:"RequestedQPS"`
	ActualQPS         float64         `json:"ActualQPS"`
	ActualDuration    int64           `json:"ActualDuration"`
	NumThreads        int             `json:"NumThreads"`
	DurationHistogram *struct {
		Count       int64   `json:"Count"`
		Max         float64 `json:"Max"`
		Percentiles []struct {
			Percentile float64 `json:"Percentile"`
			Value      float64 `json:"Value"`
		} `json:"Percentiles"`
	} `json:"DurationHistogram"`
	RetCodes map[string]int64 `json:"RetCodes"`
}

// ParseFortio reads fortio's JSON result. It fails when a percentile meshready
// judges by (50, 90, 99, 99.9) is missing, rather than reading it as zero.
func ParseFortio(variant string, data []byte) (LoadRun, error) {
	var f fortioJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return LoadRun{}, fmt.Errorf("fortio json: %w", err)
	}
	if f.DurationHistogram == nil {
		return LoadRun{}, fmt.Errorf("fortio json: no DurationHistogram (not a load result?)")
	}
	max, err := inUnit("fortio max", f.DurationHistogram.Max, time.Second)
	if err != nil {
		return LoadRun{}, err
	}
	r := LoadRun{
		Variant: variant, URL: f.URL, ActualQPS: f.ActualQPS, Connections: f.NumThreads,
		Duration: time.Duration(f.ActualDuration), Calls: f.DurationHistogram.Count,
		OK: f.RetCodes["200"], Max: max, Version: f.Version,
	}
	if err := rate("fortio qps", f.ActualQPS); err != nil {
		return LoadRun{}, err
	}
	if err := count("fortio calls", r.Calls); err != nil {
		return LoadRun{}, err
	}
	if err := count("fortio calls answered 200", r.OK); err != nil || r.OK > r.Calls {
		return LoadRun{}, fmt.Errorf("fortio: %d calls answered 200 of %d", r.OK, r.Calls)
	}
	if r.Duration < 0 || r.Connections < 0 {
		return LoadRun{}, fmt.Errorf("fortio: duration %d, %d connections", f.ActualDuration, f.NumThreads)
	}
	// RequestedQPS is a string ("1000", or "max" for no rate limit).
	var q string
	if err := json.Unmarshal(f.RequestedQPS, &q); err == nil {
		r.RequestedQPS, _ = strconv.ParseFloat(q, 64)
	} else {
		_ = json.Unmarshal(f.RequestedQPS, &r.RequestedQPS)
	}
	want := map[float64]*time.Duration{50: &r.P50, 90: &r.P90, 99: &r.P99, 99.9: &r.P999}
	for _, p := range f.DurationHistogram.Percentiles {
		if d, ok := want[p.Percentile]; ok {
			if *d, err = inUnit(fmt.Sprintf("fortio p%v", p.Percentile), p.Value, time.Second); err != nil {
				return LoadRun{}, err
			}
			delete(want, p.Percentile)
		}
	}
	if len(want) > 0 {
		for p := range want {
			return LoadRun{}, fmt.Errorf("fortio json: no p%v in DurationHistogram.Percentiles (run with -p 50,90,99,99.9)", p)
		}
	}
	return r, nil
}

// Problem says why a run cannot be trusted for an overhead figure: too many
// failed calls, or a rate well short of the one asked for (the client or the
// mesh was saturated, so latencies are queueing, not the proxy). "" when fine.
func (r LoadRun) Problem() string {
	switch {
	case r.Calls == 0:
		return fmt.Sprintf("%s: no calls were made", r.Variant)
	case float64(r.Calls-r.OK) > 0.001*float64(r.Calls):
		return fmt.Sprintf("%s: %d of %d calls failed", r.Variant, r.Calls-r.OK, r.Calls)
	case r.RequestedQPS > 0 && r.ActualQPS < 0.95*r.RequestedQPS:
		return fmt.Sprintf("%s: reached %.0f of the %.0f qps asked for", r.Variant, r.ActualQPS, r.RequestedQPS)
	}
	return ""
}
