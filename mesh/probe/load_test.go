package probe

import (
	"strings"
	"testing"
	"time"
)

// TestSummarize: nearest-rank percentiles of 1000 calls of 1..1000 µs, the
// rate from the elapsed time, and no calls at all.
func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 1000; i >= 1; i-- { // unsorted on purpose
		d = append(d, time.Duration(i)*time.Microsecond)
	}
	r := Summarize(LoadResult{Elapsed: 2 * time.Second, OK: 999}, d)
	want := LoadResult{Elapsed: 2 * time.Second, OK: 999, Calls: 1000, ActualQPS: 500,
		P50: 500 * time.Microsecond, P90: 900 * time.Microsecond, P99: 990 * time.Microsecond, P999: 999 * time.Microsecond, Max: 1000 * time.Microsecond}
	if r != want {
		t.Errorf("summary\n got %+v\nwant %+v", r, want)
	}
	if r := Summarize(LoadResult{}, nil); r.Calls != 0 || r.P50 != 0 || r.Max != 0 || r.ActualQPS != 0 {
		t.Errorf("no calls: %+v", r)
	}
	if r := Summarize(LoadResult{}, []time.Duration{7}); r.P50 != 7 || r.P999 != 7 || r.Max != 7 {
		t.Errorf("one call: %+v", r)
	}
}

// TestSchedule: 4 callers at 1000 qps in all call every 4 ms each, their
// phases 1 ms apart, so that the calls are evenly spaced.
func TestSchedule(t *testing.T) {
	start := time.Unix(0, 0)
	var got []time.Duration
	for k := range 2 {
		for i := range 4 {
			got = append(got, Schedule(start, 1000, 4, i, k).Sub(start))
		}
	}
	for j, g := range got {
		if want := time.Duration(j) * time.Millisecond; g != want {
			t.Errorf("call %d at %s, want %s", j, g, want)
		}
	}
}

func TestLoadOptionsValidate(t *testing.T) {
	ok := LoadOptions{QPS: 1000, Connections: 16, Duration: time.Minute, PayloadBytes: 1024}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		change func(*LoadOptions)
		want   string
	}{
		{func(o *LoadOptions) { o.QPS = 0 }, "qps 0 is outside"},
		{func(o *LoadOptions) { o.QPS = 1_000_000 }, "qps 1000000 is outside"},
		{func(o *LoadOptions) { o.Connections = 0 }, "connections 0"},
		{func(o *LoadOptions) { o.QPS, o.Connections = 4, 8 }, "at most qps"},
		{func(o *LoadOptions) { o.Duration = time.Millisecond }, "duration 1ms"},
		{func(o *LoadOptions) { o.Duration = time.Hour }, "duration 1h0m0s"},
		{func(o *LoadOptions) { o.PayloadBytes = -1 }, "payload -1"},
		{func(o *LoadOptions) { o.PayloadBytes = 1 << 21 }, "payload 2097152"},
		{func(o *LoadOptions) { o.QPS, o.Duration = 20_000, 10*time.Minute }, "more than 5000000 calls"},
	} {
		o := ok
		c.change(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", o, err, c.want)
		}
	}
}
