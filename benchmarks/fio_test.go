package benchmarks

import (
	"github.com/meshready/meshready/internal/golden"

	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fioGolden parses testdata/fio/<file> and compares it with <name>.golden.json.
func fioGolden(t *testing.T, file string) FioRun {
	t.Helper()
	run, err := ParseFio(readTestdata(t, filepath.Join("testdata", "fio", file)))
	if err != nil {
		t.Fatalf("ParseFio(%s): %v", file, err)
	}
	out, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSuffix(file, filepath.Ext(file))
	golden.Check(t, filepath.Join("testdata", "fio", name+".golden.json"), out)
	return run
}

func oneJob(t *testing.T, run FioRun, name string) FioJob {
	t.Helper()
	if len(run.Jobs) != 1 || run.Jobs[0].Name != name {
		t.Fatalf("jobs = %+v, want one job %q", run.Jobs, name)
	}
	return run.Jobs[0]
}

// sane checks the ordering every real latency distribution must have.
func sane(t *testing.T, what string, l Latency) {
	t.Helper()
	if l.Samples <= 0 || l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P99 {
		t.Errorf("%s = %+v, want Samples > 0 and 0 < p50 <= p99 <= max", what, l)
	}
}

// Real fio 3.33 output of etcd's test (Debian, ext4 on virtio).
func TestParseFioEtcdWAL(t *testing.T) {
	j := oneJob(t, fioGolden(t, "etcd-wal.json"), "etcd-wal")
	sane(t, "sync", j.Sync)
	sane(t, "write", j.Write)
	// 22 MiB in 2300-byte writes, one fdatasync each. fio 3.33 prints
	// sync.total_ios = 0, so the count must come from lat_ns.N.
	if j.Sync.Samples != 10029 || j.Write.Samples != 10029 {
		t.Errorf("samples sync=%d write=%d, want 10029", j.Sync.Samples, j.Write.Samples)
	}
	if j.Sync.P99 != 1499136*time.Nanosecond || j.Sync.P50 != 175104*time.Nanosecond {
		t.Errorf("sync p50/p99 = %v/%v, want 175.104µs/1.499136ms", j.Sync.P50, j.Sync.P99)
	}
	if j.Read != (Latency{}) || j.ReadIOPS != 0 || j.Error != 0 {
		t.Errorf("read = %+v iops %v error %d, want all zero", j.Read, j.ReadIOPS, j.Error)
	}
	if j.WriteBWBytes != 10116973 || j.WriteIOPS < 4398 || j.WriteIOPS > 4399 {
		t.Errorf("write bw=%d iops=%v", j.WriteBWBytes, j.WriteIOPS)
	}
}

// Real fio 3.33 output of 4k random reads, O_DIRECT, QD1.
func TestParseFioRandRead(t *testing.T) {
	for _, file := range []string{"randread.json", "randread-tmpfs.json"} {
		run := fioGolden(t, file)
		j := oneJob(t, run, "randread")
		sane(t, file+" read", j.Read)
		if run.Version != "fio-3.33" || j.ReadIOPS <= 0 || j.ReadBWBytes <= 0 {
			t.Errorf("%s: version %q iops %v bw %d", file, run.Version, j.ReadIOPS, j.ReadBWBytes)
		}
		// A read job still carries an (empty) sync section in 3.33.
		if j.Sync != (Latency{}) || j.Write != (Latency{}) {
			t.Errorf("%s: sync %+v write %+v, want zero", file, j.Sync, j.Write)
		}
	}
}

// Real failure: O_DIRECT with a 1000-byte block size gets EINVAL; stdout and
// stderr were captured together, so "fio: ..." lines precede the JSON.
func TestParseFioJobError(t *testing.T) {
	j := oneJob(t, fioGolden(t, "randread-direct-einval.txt"), "randread")
	if j.Error != 22 || j.Read != (Latency{}) {
		t.Errorf("error %d read %+v, want 22 and no latency", j.Error, j.Read)
	}
}

func TestParseFioHandMade(t *testing.T) {
	// fio 2.x: clat in µs, no N (count from total_ios), bw in KiB/s only.
	j := oneJob(t, fioGolden(t, "old-fio-2.2.json"), "randread")
	want := Latency{P50: 231 * time.Microsecond, P99: 1192 * time.Microsecond, Max: 8123 * time.Microsecond, Samples: 20480}
	if j.Read != want || j.ReadBWBytes != 16384*1024 || j.ReadIOPS != 4096 {
		t.Errorf("old layout: read %+v bw %d iops %v", j.Read, j.ReadBWBytes, j.ReadIOPS)
	}
	if j.Sync != (Latency{}) || j.Write != (Latency{}) {
		t.Errorf("old layout: sync %+v write %+v, want zero", j.Sync, j.Write)
	}

	// fio 3.1: ns fields but no sync section and no N; two jobs.
	run := fioGolden(t, "fio-3.1-no-sync.json")
	if len(run.Jobs) != 2 || run.Jobs[1].Error != 5 || run.Jobs[1].Name != "second" {
		t.Fatalf("jobs = %+v", run.Jobs)
	}
	w := run.Jobs[0]
	want = Latency{P50: 6 * time.Microsecond, P99: 27 * time.Microsecond, Max: 3500 * time.Microsecond, Samples: 10029}
	if w.Write != want || w.Sync != (Latency{}) || w.WriteBWBytes != 4613340 {
		t.Errorf("no-sync: write %+v sync %+v bw %d", w.Write, w.Sync, w.WriteBWBytes)
	}

	// Warnings before and after the JSON, one with braces.
	j = oneJob(t, fioGolden(t, "noise-before-json.txt"), "etcd-wal")
	want = Latency{P50: 1056768, P99: 8028160, Max: 25 * time.Millisecond, Samples: 869}
	if j.Sync != want {
		t.Errorf("noise: sync %+v, want %+v", j.Sync, want)
	}
}

func TestParseFioErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		noJSON         bool
	}{
		{"empty", "", "input is empty", true},
		{"blank", " \n\t\n", "input is empty", true},
		{"garbage", "fio: failed parsing rw=wrte\n", `starts with "fio: failed parsing rw=wrte"`, true},
		{"truncated", string(readTestdata(t, "testdata/fio/truncated.json")), "unexpected EOF", false},
		{"not fio", `{"hello": 1}`, `no "jobs" array`, false},
		{"bad type", `{"jobs": [{"jobname": 3}]}`, "cannot unmarshal number", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, err := ParseFio([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q (run %+v)", err, tc.want, run)
			}
			if errors.Is(err, ErrNoFioJSON) != tc.noJSON {
				t.Errorf("errors.Is(err, ErrNoFioJSON) = %v, want %v", !tc.noJSON, tc.noJSON)
			}
		})
	}
}

func TestPercentileKeyMatching(t *testing.T) {
	m := map[string]float64{"0.00": 0, "99.00": 7, "50": 3, "99.900000": 9}
	if percentile(m, 99) != 7 || percentile(m, 50) != 3 || percentile(m, 95) != 0 {
		t.Errorf("percentile lookups wrong for %v", m)
	}
}
