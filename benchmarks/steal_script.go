package benchmarks

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseStealStream reads what the remote steal script (scripts/steal.sh.tmpl)
// prints, so one SSH session carries the whole idle and loaded test. Lines:
//
//	phase idle | phase loaded       switch phase (each at most once)
//	at <unix-nanoseconds>           start a /proc/stat snapshot...
//	cpu ... / cpuN ...              ...its raw cpu lines...
//	end                             ...and its end
//	work <cpu> <iterations>         one 1 s busy-loop count (loaded phase only)
//
// Blank lines are ignored. Anything else, a snapshot that is never closed, or
// a line out of place is an error naming the line: a silently misread stream
// would turn into a wrong steal verdict. work is never nil.
func ParseStealStream(data []byte) (idle, loaded []StatSample, work map[int][]float64, err error) {
	work = map[int][]float64{}
	phase := ""
	seen := map[string]bool{}
	var snap []string // lines of the open snapshot
	var snapAt time.Time
	snapLine := 0 // line number of the open snapshot's "at", 0 when none is open
	fail := func(n int, format string, args ...any) error {
		return fmt.Errorf("steal stream line %d: %s", n, fmt.Sprintf(format, args...))
	}
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if snapLine != 0 {
			switch {
			case line == "end":
				s, perr := ParseProcStat([]byte(strings.Join(snap, "\n")), snapAt)
				if perr != nil {
					return nil, nil, nil, fail(snapLine, "snapshot: %v", perr)
				}
				if phase == "idle" {
					idle = append(idle, s)
				} else {
					loaded = append(loaded, s)
				}
				snap, snapLine = nil, 0
			case strings.HasPrefix(f[0], "cpu"):
				snap = append(snap, line)
			default:
				return nil, nil, nil, fail(n, "%q inside the snapshot started on line %d (want cpu lines or end)", line, snapLine)
			}
			continue
		}
		switch f[0] {
		case "phase":
			if len(f) != 2 || (f[1] != "idle" && f[1] != "loaded") {
				return nil, nil, nil, fail(n, "%q: want phase idle or phase loaded", line)
			}
			if seen[f[1]] {
				return nil, nil, nil, fail(n, "phase %s given twice", f[1])
			}
			phase, seen[f[1]] = f[1], true
		case "at":
			if phase == "" {
				return nil, nil, nil, fail(n, "snapshot before any phase line")
			}
			ns, perr := strconv.ParseInt(strings.Join(f[1:], " "), 10, 64)
			if len(f) != 2 || perr != nil || ns <= 0 {
				return nil, nil, nil, fail(n, "%q: want at <unix-nanoseconds>", line)
			}
			snapAt, snapLine = time.Unix(0, ns).UTC(), n
		case "work":
			if phase != "loaded" {
				return nil, nil, nil, fail(n, "work count outside the loaded phase")
			}
			cpu, iters, perr := parseWork(f)
			if perr != nil {
				return nil, nil, nil, fail(n, "%q: %v", line, perr)
			}
			work[cpu] = append(work[cpu], iters)
		case "end":
			return nil, nil, nil, fail(n, "end without a snapshot")
		default:
			return nil, nil, nil, fail(n, "unexpected %q", line)
		}
	}
	if snapLine != 0 {
		return nil, nil, nil, fail(snapLine, "snapshot never ended (output cut off?)")
	}
	if len(idle) == 0 && len(loaded) == 0 {
		return nil, nil, nil, fmt.Errorf("steal stream holds no /proc/stat snapshot (starts with %q)", firstLine(data))
	}
	return idle, loaded, work, nil
}

// parseWork reads "work <cpu> <iterations>".
func parseWork(f []string) (int, float64, error) {
	if len(f) != 3 {
		return 0, 0, fmt.Errorf("want work <cpu> <iterations>")
	}
	cpu, err := strconv.Atoi(f[1])
	if err != nil || cpu < 0 {
		return 0, 0, fmt.Errorf("cpu %q is not a CPU number", f[1])
	}
	iters, err := strconv.ParseFloat(f[2], 64)
	if err != nil || iters < 0 || math.IsInf(iters, 0) || math.IsNaN(iters) {
		return 0, 0, fmt.Errorf("iterations %q is not a count", f[2])
	}
	return cpu, iters, nil
}
