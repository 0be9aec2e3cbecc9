package benchmarks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// fioStat is one latency block of fio's JSON: clat_ns / lat_ns (fio >= 3.0,
// nanoseconds) or clat (fio 2.x, microseconds, no sample count).
type fioStat struct {
	Max        float64            `json:"max"`
	N          *int64             `json:"N"`
	Percentile map[string]float64 `json:"percentile"`
}

// fioDir is jobs[i].read or jobs[i].write.
type fioDir struct {
	IOPS     float64  `json:"iops"`
	BWBytes  *int64   `json:"bw_bytes"` // fio >= 3.0
	BWKiB    float64  `json:"bw"`       // KiB/s in every version
	TotalIOs int64    `json:"total_ios"`
	ClatNs   *fioStat `json:"clat_ns"`
	ClatUs   *fioStat `json:"clat"` // fio 2.x
}

// fioSync is jobs[i].sync (fio >= 3.4).
type fioSync struct {
	TotalIOs int64    `json:"total_ios"` // reads 0 in fio 3.33: do not trust it
	LatNs    *fioStat `json:"lat_ns"`
}

type fioJobJSON struct {
	Name  string   `json:"jobname"`
	Error int      `json:"error"`
	Read  *fioDir  `json:"read"`
	Write *fioDir  `json:"write"`
	Sync  *fioSync `json:"sync"`
}

type fioJSON struct {
	Version string        `json:"fio version"`
	Jobs    *[]fioJobJSON `json:"jobs"`
}

// ErrNoFioJSON is returned when the input holds no JSON object at all, so a
// caller can tell "fio did not run / printed only errors" from a parse bug.
var ErrNoFioJSON = errors.New("fio output holds no JSON object")

// ParseFio reads fio's --output-format=json output into a FioRun, so the disk
// verdicts work from fio's own percentiles instead of re-deriving them.
// Warning lines fio prints before the JSON ("fio: ...") and anything after it
// are skipped. Sections an older fio does not emit (sync before 3.4, clat_ns
// before 3.0) leave the matching Latency zero; they are not errors. A per-job
// fio error is reported in FioJob.Error, not as a Go error.
func ParseFio(data []byte) (FioRun, error) {
	start := jsonStart(data)
	if start < 0 {
		if len(bytes.TrimSpace(data)) == 0 {
			return FioRun{}, fmt.Errorf("%w: input is empty", ErrNoFioJSON)
		}
		return FioRun{}, fmt.Errorf("%w: starts with %q", ErrNoFioJSON, firstLine(data))
	}
	var raw fioJSON
	// A Decoder reads exactly one value, so trailing stderr noise is ignored.
	if err := json.NewDecoder(bytes.NewReader(data[start:])).Decode(&raw); err != nil {
		return FioRun{}, fmt.Errorf("fio JSON at byte %d: %w", start, err)
	}
	if raw.Jobs == nil {
		return FioRun{}, errors.New(`fio JSON has no "jobs" array: not fio --output-format=json output`)
	}
	run := FioRun{Version: raw.Version, Jobs: make([]FioJob, 0, len(*raw.Jobs))}
	for _, j := range *raw.Jobs {
		job := FioJob{Name: j.Name, Error: j.Error}
		var err error
		if j.Read != nil {
			if job.Read, job.ReadIOPS, job.ReadBWBytes, err = j.Read.convert(); err != nil {
				return FioRun{}, fmt.Errorf("fio job %q read: %w", j.Name, err)
			}
		}
		if j.Write != nil {
			if job.Write, job.WriteIOPS, job.WriteBWBytes, err = j.Write.convert(); err != nil {
				return FioRun{}, fmt.Errorf("fio job %q write: %w", j.Name, err)
			}
		}
		if j.Sync != nil && j.Sync.LatNs != nil {
			if job.Sync, err = j.Sync.LatNs.latency(time.Nanosecond, j.Sync.TotalIOs); err != nil {
				return FioRun{}, fmt.Errorf("fio job %q sync: %w", j.Name, err)
			}
		}
		run.Jobs = append(run.Jobs, job)
	}
	return run, nil
}

// convert maps one data direction, preferring fio 3.x's nanosecond fields.
func (d *fioDir) convert() (Latency, float64, int64, error) {
	if err := rate("bandwidth", d.BWKiB*1024); err != nil {
		return Latency{}, 0, 0, err
	}
	bw := int64(math.Round(d.BWKiB * 1024))
	if d.BWBytes != nil {
		bw = *d.BWBytes
	}
	if err := rate("IOPS", d.IOPS); err != nil {
		return Latency{}, 0, 0, err
	}
	if err := rate("bandwidth", float64(bw)); err != nil {
		return Latency{}, 0, 0, err
	}
	var lat Latency
	var err error
	switch {
	case d.ClatNs != nil:
		lat, err = d.ClatNs.latency(time.Nanosecond, d.TotalIOs)
	case d.ClatUs != nil:
		lat, err = d.ClatUs.latency(time.Microsecond, d.TotalIOs)
	}
	return lat, d.IOPS, bw, err
}

// latency converts a stat block in the given unit. The sample count is N when
// fio prints it (it counts latency samples, which is what the percentiles
// describe); only without N does it fall back to the op count.
func (s *fioStat) latency(unit time.Duration, totalIOs int64) (Latency, error) {
	n := totalIOs
	if s.N != nil {
		n = *s.N
	}
	if err := count("sample count", n); err != nil {
		return Latency{}, err
	}
	if n == 0 {
		return Latency{}, nil
	}
	l := Latency{Samples: n}
	var err error
	if l.P50, err = inUnit("p50", percentile(s.Percentile, 50), unit); err != nil {
		return Latency{}, err
	}
	if l.P99, err = inUnit("p99", percentile(s.Percentile, 99), unit); err != nil {
		return Latency{}, err
	}
	if l.Max, err = inUnit("max", s.Max, unit); err != nil {
		return Latency{}, err
	}
	return l, nil
}

// percentile finds the key fio formats with "%f" ("99.000000") numerically,
// so "99.00" or "99" also match; fio's "0.00" filler keys never do.
func percentile(m map[string]float64, p float64) float64 {
	for k, v := range m {
		if f, err := strconv.ParseFloat(k, 64); err == nil && math.Abs(f-p) < 1e-9 {
			return v
		}
	}
	return 0
}

// jsonStart returns the offset of the first line that begins with '{'
// (fio's JSON starts on its own line), or of the first '{' at all.
func jsonStart(data []byte) int {
	for off := 0; off < len(data); {
		line := data[off:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		if t := bytes.TrimLeft(line, " \t\r"); len(t) > 0 && t[0] == '{' {
			return off + len(line) - len(t)
		}
		off += len(line) + 1
	}
	return bytes.IndexByte(data, '{')
}

// firstLine returns the first non-blank line, cut to 80 bytes, for errors.
func firstLine(data []byte) string {
	for _, l := range bytes.Split(data, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			if len(l) > 80 {
				l = l[:80]
			}
			return string(l)
		}
	}
	return ""
}
