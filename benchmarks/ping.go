package benchmarks

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	// "64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.045 ms"; some pings
	// print "time<1 ms" for replies under their clock's resolution.
	pingTime = regexp.MustCompile(`\btime([=<])([0-9]+(?:\.[0-9]+)?) ?ms\b`)
	// iputils: "20 packets transmitted, 19 received, +1 errors, 5% packet loss, time 3805ms";
	// busybox: "3 packets transmitted, 3 packets received, 0% packet loss".
	pingSummary = regexp.MustCompile(`(\d+) packets transmitted, (\d+) (?:packets )?received,(?:.*?,)? ([0-9]+(?:\.[0-9]+)?)% packet loss`)
)

// ParsePing reads `ping -c N -i 0.2 ADDR` output (iputils, also busybox) into
// the RTT distribution etcd's heartbeat and election timeout are tuned from,
// and the loss percentage ping prints. p50/p99/max are nearest-rank over the
// replies; duplicates ("(DUP!)") are not replies and are ignored. A "time<X ms"
// reply counts as X, an upper bound. All packets lost is a result (zero
// Latency, 100), not an error; output without ping's summary line, or a
// summary claiming replies that no line shows, is an error.
func ParsePing(out []byte) (Latency, float64, error) {
	var rtts []time.Duration
	var loss float64
	var received int64 = -1
	for _, line := range strings.Split(string(out), "\n") {
		if m := pingSummary.FindStringSubmatch(line); m != nil {
			r, err1 := strconv.ParseInt(m[2], 10, 64)
			l, err2 := strconv.ParseFloat(m[3], 64)
			if err1 != nil || err2 != nil || l < 0 || l > 100 || r < 0 {
				return Latency{}, 0, fmt.Errorf("ping summary %q: bad numbers", strings.TrimSpace(line))
			}
			received, loss = r, l
			continue
		}
		if !strings.Contains(line, " bytes from ") || strings.Contains(line, "(DUP!)") {
			continue
		}
		m := pingTime.FindStringSubmatch(line)
		if m == nil {
			continue // -s < 16 leaves no room for a timestamp: no time printed
		}
		ms, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return Latency{}, 0, fmt.Errorf("ping reply %q: %w", strings.TrimSpace(line), err)
		}
		rtt, err := inUnit("ping time", ms, time.Millisecond)
		if err != nil {
			return Latency{}, 0, fmt.Errorf("ping reply %q: %w", strings.TrimSpace(line), err)
		}
		rtts = append(rtts, rtt)
	}
	if received < 0 {
		return Latency{}, 0, fmt.Errorf("no %q summary line in ping output (starts with %q)", "packets transmitted", firstLine(out))
	}
	if received > 0 && len(rtts) == 0 {
		return Latency{}, 0, fmt.Errorf("ping reports %d received but no reply line has a time= value", received)
	}
	if len(rtts) == 0 {
		return Latency{}, loss, nil
	}
	slices.Sort(rtts)
	return Latency{
		P50:     nearestRank(rtts, 50),
		P99:     nearestRank(rtts, 99),
		Max:     rtts[len(rtts)-1],
		Samples: int64(len(rtts)),
	}, loss, nil
}
