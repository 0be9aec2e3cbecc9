package probe

import (
	"math"
	"testing"
	"time"
)

func TestDeviation(t *testing.T) {
	w := map[string]int{"v1": 90, "v2": 10}
	if d := Deviation(Split{Calls: 2000, Versions: map[string]int{"v1": 1790, "v2": 210}}, w); math.Abs(d-0.5) > 1e-9 {
		t.Errorf("deviation %v, want 0.5", d)
	}
	// Failures lower every share; an unknown version counts against its weight 0.
	if d := Deviation(Split{Calls: 100, Versions: map[string]int{"v1": 80, "v3": 5}, Errors: 15}, w); d != 10 {
		t.Errorf("deviation %v, want 10", d)
	}
	if d := Deviation(Split{}, w); !math.IsInf(d, 1) {
		t.Errorf("no calls: %v", d)
	}
}

func TestConverged(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	var s []Sample
	s = append(s, Sample{At: ms(-500), Version: "v2"}) // before t0: ignored
	for i := 0; i < 3000; i += 10 {
		v := "v1"
		switch {
		case i == 1200:
			v = "v2" // first answer from v2
		case i == 1500:
			v = "" // a failed call resets the window
		case i > 1500:
			v = "v2"
		}
		s = append(s, Sample{At: ms(i), Version: v})
	}
	first, conv, ok := Converged(s, t0, "v2", time.Second)
	if !ok || !first.Equal(ms(1200)) || !conv.Equal(ms(1510)) {
		t.Errorf("first %v conv %v ok %v", first.Sub(t0), conv.Sub(t0), ok)
	}
	// A window not yet seen whole is not converged.
	if _, _, ok := Converged(s[:len(s)-60], t0, "v2", time.Second); ok {
		t.Error("converged on a window cut short")
	}
	if _, _, ok := Converged(s, t0, "v9", time.Second); ok {
		t.Error("converged to a version that never answered")
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 20; i++ {
		ds = append(ds, time.Duration(i)*time.Second)
	}
	if p, _ := Percentile(ds, 99); p != 20*time.Second {
		t.Errorf("p99 of 20 = %v", p)
	}
	if p, _ := Percentile(ds, 50); p != 10*time.Second {
		t.Errorf("p50 = %v", p)
	}
	if _, err := Percentile(nil, 99); err == nil {
		t.Error("no samples must be an error")
	}
}

func TestClassifyRefusal(t *testing.T) {
	for err, want := range map[string]string{
		`rpc error: code = Unavailable desc = connection error: desc = "error reading server preface: http2: failed reading the frame payload: http2: frame too large, note that the frame header looked like an HTTP/1.1 header"`: RefusedByTLS,
		`rpc error: code = Unavailable desc = connection error: desc = "error reading server preface: EOF"`:                                                                                                                        RefusedByTLS,
		`rpc error: code = Unavailable desc = connection error: desc = "error reading server preface: read tcp 10.244.1.5:40000->10.96.0.12:7070: read: connection reset by peer"`:                                                 RefusedByTLS,
		`rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.96.0.12:7070: connect: connection refused"`:                                                                    NotConnected,
		`rpc error: code = Unavailable desc = name resolver error: produced zero addresses`:                                                                                                                                        NotConnected,
		`rpc error: code = Unavailable desc = dial tcp: lookup echo.demo.svc.cluster.local: no such host`:                                                                                                                          NotConnected,
		`rpc error: code = DeadlineExceeded desc = context deadline exceeded`:                                                                                                                                                      "",
		``: "",
	} {
		if got := ClassifyRefusal(err); got != want {
			t.Errorf("ClassifyRefusal(%q) = %q, want %q", err, got, want)
		}
	}
}
