package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meshready/meshready/benchmarks"
)

// ms renders a duration in milliseconds with about three significant digits,
// because every latency in a report is compared against limits written in ms.
func ms(d time.Duration) string {
	return msNum(d) + " ms"
}

// msNum is ms without the unit, for table cells under an "ms" header and axis labels.
func msNum(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	a := v
	if a < 0 {
		a = -a
	}
	prec := 4
	switch {
	case a == 0:
		return "0"
	case a >= 100:
		prec = 0
	case a >= 10:
		prec = 1
	case a >= 1:
		prec = 2
	case a >= 0.1:
		prec = 3
	}
	return trimZeros(strconv.FormatFloat(v, 'f', prec, 64))
}

// secs renders a duration in seconds with one decimal, the unit of convergence claims.
func secs(d time.Duration) string {
	return trimZeros(strconv.FormatFloat(d.Seconds(), 'f', 1, 64)) + " s"
}

// pct renders a percentage with the given decimals and a spaced unit.
func pct(v float64, decimals int) string {
	return strconv.FormatFloat(v, 'f', decimals, 64) + " %"
}

// trimZeros drops trailing zeros after a decimal point ("0.500" -> "0.5", "10.0" -> "10").
func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// latencySummary is the one-line form of a latency distribution used in claim rows.
func latencySummary(l benchmarks.Latency) string {
	return fmt.Sprintf("p99 %s (p50 %s, max %s, N %d)", ms(l.P99), ms(l.P50), ms(l.Max), l.Samples)
}

// rate renders an operations-per-second figure with an SI suffix.
func rate(v float64) string {
	switch {
	case v >= 1e9:
		return trimZeros(strconv.FormatFloat(v/1e9, 'f', 2, 64)) + " G"
	case v >= 1e6:
		return trimZeros(strconv.FormatFloat(v/1e6, 'f', 1, 64)) + " M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + " k"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// rank orders verdicts from best to worst. NOT MEASURABLE sits above PASS:
// a claim one node could not check is not a claim the region has shown.
func rank(v benchmarks.Verdict) int {
	switch v {
	case benchmarks.Pass:
		return 0
	case benchmarks.Warn:
		return 2
	case benchmarks.Fail:
		return 3
	}
	return 1
}

// verdictClass is the CSS class that colours a verdict cell.
func verdictClass(v benchmarks.Verdict) string {
	switch v {
	case benchmarks.Pass:
		return "pass"
	case benchmarks.Warn:
		return "warn"
	case benchmarks.Fail:
		return "fail"
	}
	return "nm"
}

// dash stands in for an empty value so that a blank cell is never mistaken for zero.
func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// yesNo renders an optional boolean fact; nil means the tool could not tell.
func yesNo(b *bool) string {
	switch {
	case b == nil:
		return "unknown"
	case *b:
		return "yes"
	}
	return "no"
}
