package benchmarks

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ParseProcStat reads the cpu lines of one /proc/stat snapshot taken at at,
// so steal can be computed from counters read on a remote node. Other lines
// (intr, ctxt, ...) are ignored. Kernels older than 2.6.33 print fewer than
// ten columns: the missing ones are 0. At least user nice system idle are
// required, and the aggregate "cpu" line must be present.
func ParseProcStat(data []byte, at time.Time) (StatSample, error) {
	s := StatSample{At: at, PerCPU: map[int]CPUTimes{}}
	seenAll := false
	for n, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		t, err := parseCPUTimes(f[1:])
		if err != nil {
			return StatSample{}, fmt.Errorf("/proc/stat line %d (%s): %w", n+1, f[0], err)
		}
		if f[0] == "cpu" {
			if seenAll {
				return StatSample{}, fmt.Errorf("/proc/stat line %d: second aggregate cpu line", n+1)
			}
			s.All, seenAll = t, true
			continue
		}
		id, err := strconv.Atoi(f[0][len("cpu"):])
		if err != nil || id < 0 {
			return StatSample{}, fmt.Errorf("/proc/stat line %d: %q is not cpu or cpuN", n+1, f[0])
		}
		if _, dup := s.PerCPU[id]; dup {
			return StatSample{}, fmt.Errorf("/proc/stat line %d: cpu%d appears twice", n+1, id)
		}
		s.PerCPU[id] = t
	}
	if !seenAll {
		return StatSample{}, errors.New(`/proc/stat text has no aggregate "cpu" line`)
	}
	return s, nil
}

func parseCPUTimes(cols []string) (CPUTimes, error) {
	var t CPUTimes
	dst := []*uint64{&t.User, &t.Nice, &t.System, &t.Idle, &t.IOWait, &t.IRQ, &t.SoftIRQ, &t.Steal, &t.Guest, &t.GuestNice}
	if len(cols) < 4 {
		return t, fmt.Errorf("%d columns, want at least 4 (user nice system idle)", len(cols))
	}
	// Columns a future kernel may add after guest_nice are ignored.
	for i := 0; i < len(cols) && i < len(dst); i++ {
		v, err := strconv.ParseUint(cols[i], 10, 64)
		if err != nil {
			return t, fmt.Errorf("column %d: %w", i+1, err)
		}
		*dst[i] = v
	}
	return t, nil
}

// StealPercent is the share of CPU time the hypervisor gave to someone else
// between two reads: Δsteal / Δ(user+nice+system+idle+iowait+irq+softirq+steal)
// × 100. Guest time is already counted in user, so it is not added. It returns
// false when no time passed or a counter went backwards (CPU hot-unplug reset,
// 32-bit wrap), because then the interval says nothing. idle and iowait are
// checked as a sum: the kernel documents that iowait alone can decrease, the
// time moving to idle (Documentation/filesystems/proc.rst).
func StealPercent(a, b CPUTimes) (float64, bool) {
	idleA, c1 := bits.Add64(a.Idle, a.IOWait, 0)
	idleB, c2 := bits.Add64(b.Idle, b.IOWait, 0)
	if c1 != 0 || c2 != 0 {
		return 0, false
	}
	pairs := [][2]uint64{
		{a.User, b.User}, {a.Nice, b.Nice}, {a.System, b.System}, {idleA, idleB},
		{a.IRQ, b.IRQ}, {a.SoftIRQ, b.SoftIRQ}, {a.Steal, b.Steal},
	}
	// The sum is checked for overflow as well: counters a host made up
	// (or that wrapped) must not add up to a small total and a steal of
	// billions of per cent.
	var total uint64
	for _, p := range pairs {
		if p[1] < p[0] {
			return 0, false
		}
		var carry uint64
		if total, carry = bits.Add64(total, p[1]-p[0], 0); carry != 0 {
			return 0, false
		}
	}
	if total == 0 {
		return 0, false
	}
	return float64(b.Steal-a.Steal) * 100 / float64(total), true
}

// StealStatsFrom turns consecutive snapshots of one phase into per-CPU steal
// statistics (mean, p95, max of every CPU's every interval) and the aggregate
// series for charts, since METHODS.md judges steal on per-CPU 1 s samples.
// A CPU missing from either end of an interval (offline) and an interval whose
// counters went backwards are skipped, not errors. Series[i].Second is the end
// of the interval, in seconds since the first sample.
func StealStatsFrom(samples []StatSample) (StealPhase, error) {
	if len(samples) < 2 {
		return StealPhase{}, fmt.Errorf("%d /proc/stat samples, need at least 2 for one interval", len(samples))
	}
	phase := StealPhase{Series: []StealPoint{}}
	var per []float64
	for i := 1; i < len(samples); i++ {
		a, b := samples[i-1], samples[i]
		if p, ok := StealPercent(a.All, b.All); ok {
			phase.Series = append(phase.Series, StealPoint{Second: b.At.Sub(samples[0].At).Seconds(), Percent: p})
		}
		for _, cpu := range slices.Sorted(maps.Keys(b.PerCPU)) {
			before, ok := a.PerCPU[cpu]
			if !ok {
				continue
			}
			if p, ok := StealPercent(before, b.PerCPU[cpu]); ok {
				per = append(per, p)
			}
		}
	}
	phase.Stats = stealStats(per)
	return phase, nil
}

func stealStats(per []float64) StealStats {
	if len(per) == 0 {
		return StealStats{}
	}
	sum := 0.0
	for _, p := range per {
		sum += p
	}
	sorted := slices.Clone(per)
	slices.Sort(sorted)
	return StealStats{
		MeanPercent: sum / float64(len(per)),
		P95Percent:  nearestRank(sorted, 95),
		MaxPercent:  sorted[len(sorted)-1],
		Samples:     len(per),
	}
}

// nearestRank is the pct-th percentile of sorted values by the nearest-rank
// method: the smallest value with at least pct % of the values at or below it.
// Integer arithmetic avoids 0.95*20 rounding to rank 20 instead of 19.
func nearestRank[T cmp.Ordered](sorted []T, pct int) T {
	var zero T
	n := len(sorted)
	if n == 0 {
		return zero
	}
	r := (pct*n + 99) / 100
	r = max(1, min(r, n))
	return sorted[r-1]
}
