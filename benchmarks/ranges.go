package benchmarks

import (
	"fmt"
	"math"
	"time"
)

// Numbers from a remote host are checked before any verdict: a host that
// is broken or hostile must not pass the gate with a negative p99, nor hang
// a chart with a steal of 9e20 %. Each bound is far beyond what a real run
// prints, and below what would overflow a time.Duration.

// maxLatency bounds a latency a host may report.
const maxLatency = time.Hour

// inUnit checks v, a latency in unit, and converts it.
func inUnit(what string, v float64, unit time.Duration) (time.Duration, error) {
	if math.IsNaN(v) || v < 0 || v*float64(unit) > float64(maxLatency) {
		return 0, fmt.Errorf("%s %v is not a latency between 0 and %s", what, v, maxLatency)
	}
	return time.Duration(math.Round(v * float64(unit))), nil
}

// rate checks a rate (IOPS, bytes/s, calls/s): finite and not negative.
func rate(what string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e15 {
		return fmt.Errorf("%s %v is not a rate", what, v)
	}
	return nil
}

// count checks a count of operations or calls.
func count(what string, n int64) error {
	if n < 0 || n > 1e12 {
		return fmt.Errorf("%s %d is not a count", what, n)
	}
	return nil
}
