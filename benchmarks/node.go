package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"time"

	"github.com/meshready/meshready/remote"
)

// Options are how long and where the suite measures.
type Options struct {
	// Dir is where fio writes: the folder etcd's data will live in (its disk).
	Dir         string
	DiskRuntime time.Duration
	StealIdle   time.Duration
	StealLoaded time.Duration
	Log         *slog.Logger
}

// Node is one host to benchmark.
type Node = remote.Node

// RunNode runs the whole suite on one node: facts, disk, then CPU steal (one
// after the other, so fio's work does not show up as load in the steal test).
// What cannot be measured is recorded in the result, not returned as an error:
// a report with an honest "not measurable" beats no report.
func RunNode(ctx context.Context, n Node, o Options) (res NodeResult) {
	log := o.Log.With("host", n.Name)
	res = NodeResult{Node: n.Name, Address: n.Address, Role: n.Role, Started: time.Now().UTC()}
	defer func() { res.Duration = time.Since(res.Started).Round(time.Millisecond) }()

	script, err := FactsScript(o.Dir)
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
		return res
	}
	out, err := n.Runner.Run(ctx, script)
	if err != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("facts: %v", err))
		return res
	}
	facts, err := ParseFacts(o.Dir, out.Stdout)
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
		return res
	}
	log.InfoContext(ctx, "disk", "device", facts.Device.Device, "fs", facts.Device.FSType, "dir", o.Dir)
	res.Disk = runDisk(ctx, n.Runner, facts, o, log)
	log.InfoContext(ctx, "cpu steal", "idle", o.StealIdle, "loaded", o.StealLoaded, "cpus", facts.CPUs)
	res.Steal = runSteal(ctx, n.Runner, facts, o)
	return res
}

func runDisk(ctx context.Context, r remote.Runner, facts Facts, o Options, log *slog.Logger) DiskResult {
	d := DiskResult{Device: facts.Device}
	for _, job := range []string{"etcd-wal", "randread"} {
		log.InfoContext(ctx, "fio", "job", job)
		lat, err := runFio(ctx, r, o, job)
		if err != nil {
			d.Errors = append(d.Errors, fmt.Sprintf("%s: %v", job, err))
			continue
		}
		if job == "etcd-wal" {
			d.Fdatasync = &lat
		} else {
			d.RandRead = &lat
		}
	}
	d.FlushSuspect = flushSuspect(d)
	return d
}

func runFio(ctx context.Context, r remote.Runner, o Options, job string) (Latency, error) {
	script, err := FioScript(o.Dir, job, o.DiskRuntime)
	if err != nil {
		return Latency{}, err
	}
	out, err := r.Run(ctx, script)
	if err != nil {
		// fio prints its JSON even when a job fails (e.g. O_DIRECT on tmpfs):
		// take the job's own error from it when there is one.
		if run, perr := ParseFio(out.Stdout); perr == nil && len(run.Jobs) > 0 && run.Jobs[0].Error != 0 {
			return Latency{}, fmt.Errorf("fio job error %d (%s): %w", run.Jobs[0].Error, errnoText(run.Jobs[0].Error), err)
		}
		return Latency{}, err
	}
	run, err := ParseFio(out.Stdout)
	if err != nil {
		return Latency{}, err
	}
	if len(run.Jobs) == 0 {
		return Latency{}, errors.New("fio reported no job")
	}
	j := run.Jobs[0]
	if j.Error != 0 {
		return Latency{}, fmt.Errorf("fio job error %d (%s)", j.Error, errnoText(j.Error))
	}
	if job == "etcd-wal" {
		if j.Sync.Samples == 0 {
			return Latency{}, errors.New("fio printed no fdatasync latencies (fio older than 3.4?)")
		}
		return j.Sync, nil
	}
	if j.Read.Samples == 0 {
		return Latency{}, errors.New("fio printed no read latencies")
	}
	return j.Read, nil
}

func errnoText(n int) string {
	switch n {
	case 22:
		return "EINVAL: O_DIRECT is not supported by this filesystem (tmpfs, some overlays)"
	case 28:
		return "ENOSPC: no space left"
	case 13:
		return "EACCES"
	}
	return "see fio's errno"
}

// flushSuspect says why fdatasync figures may not be real flushes (METHODS.md).
func flushSuspect(d DiskResult) string {
	switch {
	case d.Device.FSType == "tmpfs":
		return "the folder is on tmpfs: nothing reaches a disk"
	case d.Fdatasync != nil && d.Fdatasync.P50 > 0 && d.Fdatasync.P50 < 20*time.Microsecond:
		return fmt.Sprintf("fdatasync p50 %s is below ~20µs, faster than any flush that reaches stable media: flushes are likely not honoured (cache=unsafe?)", d.Fdatasync.P50)
	case d.Device.WriteCache == "write through":
		return "the device reports a write-through cache, so flushes are no-ops: fine only with power-loss protection (or a hypervisor set to ignore flushes)"
	}
	return ""
}

func runSteal(ctx context.Context, r remote.Runner, facts Facts, o Options) StealResult {
	s := StealResult{CPUs: facts.CPUs}
	script, err := StealScript(o.StealIdle, o.StealLoaded)
	if err != nil {
		s.Errors = append(s.Errors, err.Error())
		return s
	}
	out, err := r.Run(ctx, script)
	if err != nil {
		s.Errors = append(s.Errors, err.Error())
		return s
	}
	idle, loaded, work, err := ParseStealStream(out.Stdout)
	if err != nil {
		s.Errors = append(s.Errors, err.Error())
		return s
	}
	if s.Idle, err = StealStatsFrom(idle); err != nil {
		s.Errors = append(s.Errors, "idle: "+err.Error())
	}
	if s.Loaded, err = StealStatsFrom(loaded); err != nil {
		s.Errors = append(s.Errors, "loaded: "+err.Error())
	}
	var during uint64
	if len(loaded) >= 2 {
		during = loaded[len(loaded)-1].All.Steal - loaded[0].All.Steal
	}
	s.Measurable, s.Virt, s.Evidence = StealMeasurability(facts, during)
	s.WorkPerSecond, s.WorkSpreadPercent = workStats(work)
	return s
}

// workStats returns each CPU's mean iterations per second and the coefficient
// of variation (%) of all per-second samples: a steady host does the same work
// every second on every vCPU.
func workStats(work map[int][]float64) (map[int]float64, float64) {
	means := map[int]float64{}
	var all []float64
	cpus := make([]int, 0, len(work))
	for c := range work {
		cpus = append(cpus, c)
	}
	sort.Ints(cpus)
	for _, c := range cpus {
		xs := work[c]
		if len(xs) == 0 {
			continue
		}
		sum := 0.0
		for _, x := range xs {
			sum += x
		}
		means[c] = sum / float64(len(xs))
		all = append(all, xs...)
	}
	if len(all) < 2 {
		return means, 0
	}
	mean, sq := 0.0, 0.0
	for _, x := range all {
		mean += x
	}
	mean /= float64(len(all))
	for _, x := range all {
		sq += (x - mean) * (x - mean)
	}
	if mean == 0 {
		return means, 0
	}
	return means, 100 * math.Sqrt(sq/float64(len(all)-1)) / mean
}
