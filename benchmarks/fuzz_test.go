package benchmarks

import (
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The parsers read what a remote host printed: each is fuzzed (go test
// -fuzz, seeds from testdata/) for panics and for numbers no verdict may
// see. make test runs each for a few seconds; the seeds run in every go test.

func seeds(f *testing.F, glob string) {
	files, err := filepath.Glob(filepath.Join("testdata", glob))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds %s: %v", glob, err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func checkLatency(t *testing.T, what string, l Latency) {
	t.Helper()
	for _, d := range []time.Duration{l.P50, l.P99, l.Max} {
		if d < 0 || d > maxLatency {
			t.Fatalf("%s: latency %v out of range: %+v", what, d, l)
		}
	}
	if l.Samples < 0 {
		t.Fatalf("%s: %d samples", what, l.Samples)
	}
}

func FuzzParseFio(f *testing.F) {
	seeds(f, "fio/*.json")
	f.Add([]byte(`{"jobs":[{"sync":{"lat_ns":{"N":10,"max":-5,"percentile":{"99.000000":-1}}}}]}`))
	f.Add([]byte(`{"jobs":[{"write":{"iops":1e400,"clat_ns":{"N":1,"percentile":{"99.000000":1e300}}}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		run, err := ParseFio(b)
		if err != nil {
			return
		}
		for _, j := range run.Jobs {
			checkLatency(t, "read", j.Read)
			checkLatency(t, "write", j.Write)
			checkLatency(t, "sync", j.Sync)
			for _, r := range []float64{j.ReadIOPS, j.WriteIOPS, float64(j.ReadBWBytes), float64(j.WriteBWBytes)} {
				if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
					t.Fatalf("rate %v", r)
				}
			}
		}
	})
}

func FuzzParseFortio(f *testing.F) {
	seeds(f, "fortio/*.json")
	f.Add([]byte(`{"DurationHistogram":{"Count":10,"Max":-1,"Percentiles":[{"Percentile":50,"Value":-0.5}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseFortio("baseline", b)
		if err != nil {
			return
		}
		for _, d := range []time.Duration{r.P50, r.P90, r.P99, r.P999, r.Max, r.Duration} {
			if d < 0 {
				t.Fatalf("negative duration in %+v", r)
			}
		}
		if r.Calls < 0 || r.OK < 0 || r.OK > r.Calls || r.ActualQPS < 0 || math.IsNaN(r.ActualQPS) {
			t.Fatalf("counts %+v", r)
		}
	})
}

func FuzzStealFromProcStat(f *testing.F) {
	for _, pair := range [][2]string{{"real-0.txt", "real-1.txt"}, {"backwards-0.txt", "backwards-1.txt"}, {"offline-0.txt", "offline-1.txt"}} {
		a, err := os.ReadFile(filepath.Join("testdata", "procstat", pair[0]))
		if err != nil {
			f.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join("testdata", "procstat", pair[1]))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(a, b)
	}
	// Counters that wrap: a sum past 2^64 must not make a small total.
	f.Add([]byte("cpu  0 0 0 18446744073709551615 0 0 0 0 0 0\n"), []byte("cpu  0 0 0 18446744073709551615 1 0 0 18446744073709551615 0 0\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		at := time.Unix(1000, 0)
		sa, err := ParseProcStat(a, at)
		if err != nil {
			return
		}
		sb, err := ParseProcStat(b, at.Add(time.Second))
		if err != nil {
			return
		}
		if p, ok := StealPercent(sa.All, sb.All); ok && (p < 0 || p > 100 || math.IsNaN(p)) {
			t.Fatalf("steal %v %%", p)
		}
		phase, err := StealStatsFrom([]StatSample{sa, sb})
		if err != nil {
			return
		}
		if s := phase.Stats; s.MeanPercent < 0 || s.MeanPercent > 100 || s.MaxPercent > 100 || s.P95Percent > 100 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func FuzzParsePing(f *testing.F) {
	seeds(f, "ping/*.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		l, loss, err := ParsePing(b)
		if err != nil {
			return
		}
		checkLatency(t, "ping", l)
		if loss < 0 || loss > 100 || math.IsNaN(loss) {
			t.Fatalf("loss %v", loss)
		}
	})
}

func FuzzParseFacts(f *testing.F) {
	f.Add([]byte("device=nvme0n1\nmodel=Samsung\nrotational=0\nfstype=ext4\nvirt=kvm\n"))
	f.Add([]byte("rotational=x\n=\n\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseFacts("/var/lib", b) // must not panic
	})
}
