// Package bootstrap turns what meshready measured and what the stack's config
// says into what kubeadm reads: etcd's tuning and the init/join configuration
// files. Everything here is pure (no I/O, no exec) so that every rule is pinned
// by table and golden tests; the steps that run kubeadm on nodes live elsewhere.
package bootstrap

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meshready/meshready/config"
)

// etcd's own numbers, which the rules below start from.
const (
	// defaultHeartbeat and defaultElection are etcd's defaults (etcd tuning guide).
	defaultHeartbeat = 100 * time.Millisecond
	defaultElection  = 1000 * time.Millisecond
	// minHeartbeat is the smallest heartbeat accepted: below it etcd spends CPU on ticks for nothing.
	minHeartbeat = 10 * time.Millisecond
	// maxHeartbeat keeps 10 × heartbeat within etcd's 50 s election maximum.
	maxHeartbeat = 5 * time.Second
	maxElection  = 50 * time.Second
	// fsyncLimit is etcd's limit for the WAL fsync p99 (etcd FAQ, "failed to send out heartbeat on time").
	fsyncLimit = 10 * time.Millisecond

	defaultSnapshotCount = 10000   // kubeadm's --snapshot-count for its etcd static pod
	defaultQuota         = 2 << 30 // etcd's default --quota-backend-bytes
	maxQuota             = 8 << 30 // etcd's suggested maximum (etcd system limits)
	defaultCompaction    = "periodic"
	defaultRetention     = "1h"
	// metricsURL is kubeadm's own --listen-metrics-urls: loopback, port 2381.
	metricsURL = "http://127.0.0.1:2381"
)

// Measured is what the benchmarks found that etcd's timing depends on.
type Measured struct {
	// PeerRTTP99 is the 99th percentile round trip between control planes; 0 when there are none.
	PeerRTTP99 time.Duration
	// FdatasyncP99 is the 99th percentile WAL-style fdatasync on the etcd disk (the slowest control plane's).
	FdatasyncP99 time.Duration
	// ControlPlanes is the number of etcd members.
	ControlPlanes int
}

// EtcdTuning is etcd's configuration for one cluster. The same value goes to
// every member: etcd's tuning guide warns that members with different timings
// disrupt the cluster, and kubeadm renders one ClusterConfiguration for all.
type EtcdTuning struct {
	HeartbeatInterval, ElectionTimeout time.Duration
	SnapshotCount                      int
	QuotaBackendBytes                  int64
	AutoCompactionMode                 string
	AutoCompactionRetention            string
	// Ionice asks host preparation to give etcd IO class best-effort, level 0: it is no etcd flag.
	Ionice     bool
	MetricsURL string
	// Why says, per etcd flag name (and "ionice"), why the value was chosen,
	// citing the measurement or the config key that set it, for the report.
	Why map[string]string
}

// Arg is one command-line flag of a component, without its leading dashes.
type Arg struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

// ExtraArgs is the tuning as etcd flags, sorted by name, for kubeadm's
// etcd.local.extraArgs. Durations are whole milliseconds, as etcd takes them.
func (t EtcdTuning) ExtraArgs() []Arg {
	args := []Arg{
		{"auto-compaction-mode", t.AutoCompactionMode},
		{"auto-compaction-retention", t.AutoCompactionRetention},
		{"election-timeout", strconv.FormatInt(t.ElectionTimeout.Milliseconds(), 10)},
		{"heartbeat-interval", strconv.FormatInt(t.HeartbeatInterval.Milliseconds(), 10)},
		{"listen-metrics-urls", t.MetricsURL},
		{"quota-backend-bytes", strconv.FormatInt(t.QuotaBackendBytes, 10)},
		{"snapshot-count", strconv.Itoa(t.SnapshotCount)},
	}
	slices.SortFunc(args, func(a, b Arg) int { return strings.Compare(a.Name, b.Name) })
	return args
}

// TuneEtcd derives etcd's tuning from the measurements; every knob set in the
// stack's config wins over the derived value. It refuses a result that etcd
// would run badly with (election timeout under 10 × heartbeat, beyond 50 s),
// naming the config keys to change, so a bad override fails before kubeadm runs.
func TuneEtcd(m Measured, knobs config.Etcd) (EtcdTuning, error) {
	if m.ControlPlanes < 1 || m.PeerRTTP99 < 0 || m.FdatasyncP99 < 0 {
		return EtcdTuning{}, fmt.Errorf("etcd tuning: measurements %+v: want at least one control plane and no negative latency", m)
	}
	t := EtcdTuning{Why: map[string]string{}}
	var errs []error

	if k := knobs.HeartbeatInterval; k.Set {
		t.HeartbeatInterval, t.Why["heartbeat-interval"] = k.Value.D(), setIn("heartbeatInterval")
	} else {
		hb, why, err := autoHeartbeat(m)
		if err != nil {
			errs = append(errs, err)
		}
		t.HeartbeatInterval, t.Why["heartbeat-interval"] = hb, why
	}
	if k := knobs.ElectionTimeout; k.Set {
		t.ElectionTimeout, t.Why["election-timeout"] = k.Value.D(), setIn("electionTimeout")
	} else {
		t.ElectionTimeout, t.Why["election-timeout"] = autoElection(t.HeartbeatInterval, m)
	}
	errs = append(errs, checkTimes(t, knobs)...)

	t.SnapshotCount = knobs.SnapshotCount.Or(defaultSnapshotCount)
	t.Why["snapshot-count"] = pick(knobs.SnapshotCount.Set, "snapshotCount",
		"kubeadm's value (its etcd static pod runs with --snapshot-count=10000): etcd 3.2-3.5 default to 100000, "+
			"which keeps ten times more Raft entries in memory before a snapshot (etcd maintenance guide, Raft log retention)")
	if t.SnapshotCount <= 0 {
		errs = append(errs, fmt.Errorf("%s is %d: want a positive number of entries", knob("snapshotCount"), t.SnapshotCount))
	}

	t.QuotaBackendBytes = knobs.QuotaBackendBytes.Or(defaultQuota)
	t.Why["quota-backend-bytes"] = pick(knobs.QuotaBackendBytes.Set, "quotaBackendBytes",
		"etcd's default 2 GiB (etcd system limits), written out so the report shows it; each control plane needs "+
			"at least that much RAM, and 8 GiB is etcd's suggested maximum")
	if q := t.QuotaBackendBytes; q <= 0 || q > maxQuota {
		errs = append(errs, fmt.Errorf("%s is %d: want 1 byte to 8 GiB (etcd's suggested maximum)", knob("quotaBackendBytes"), q))
	}

	t.AutoCompactionMode = knobs.AutoCompactionMode.Or(defaultCompaction)
	t.AutoCompactionRetention = knobs.AutoCompactionRetention.Or(defaultRetention)
	t.Why["auto-compaction-mode"] = pick(knobs.AutoCompactionMode.Set, "autoCompactionMode",
		"periodic keeps a time window of history, which is how Kubernetes clients (watches) think; etcd maintenance guide, Auto Compaction")
	t.Why["auto-compaction-retention"] = pick(knobs.AutoCompactionRetention.Set, "autoCompactionRetention",
		"1h, the etcd maintenance guide's value for keys updated often (Kubernetes rewrites leases and status all the time); "+
			"kube-apiserver already compacts every 5m (--etcd-compaction-interval), so this is a backstop that is a no-op "+
			"while the apiserver compacts and caps history at about an hour if it does not")
	errs = append(errs, checkCompaction(t, knobs)...)

	t.Ionice = knobs.Ionice.Or(true)
	t.Why["ionice"] = pick(knobs.Ionice.Set, "ionice",
		"etcd tuning guide (Disk): best-effort class, highest level (ionice -c2 -n0), so other processes' IO does not "+
			"stretch etcd's fsyncs; applied by host preparation, not an etcd flag")

	t.MetricsURL = metricsURL
	t.Why["listen-metrics-urls"] = "kubeadm's own value, kept: kubeadm points etcd's liveness and startup probes at it " +
		"(the pod shares the host network), and it serves /metrics and /health without TLS or authentication, " +
		"so it stays on loopback rather than 0.0.0.0; scrape it from the node"

	if err := errors.Join(errs...); err != nil {
		return EtcdTuning{}, fmt.Errorf("etcd tuning: %w", err)
	}
	return t, nil
}

// autoHeartbeat is the largest of etcd's default, 1.5 × the peer RTT p99 and
// 10 × the fdatasync p99, each rounded up to 10 ms.
func autoHeartbeat(m Measured) (time.Duration, string, error) {
	if m.ControlPlanes == 1 {
		why := "etcd's default 100ms: a single member has no peers to send heartbeats to, so there is no round trip to tune against"
		if m.FdatasyncP99 >= fsyncLimit {
			why += fmt.Sprintf("; fdatasync p99 %s is at or above etcd's 10ms limit, but with no followers no election can be lost to it (the hardware gate reports the disk)", m.FdatasyncP99)
		}
		return defaultHeartbeat, why, nil
	}
	if m.PeerRTTP99 <= 0 {
		return 0, "", fmt.Errorf("no peer RTT p99 measured for %d control planes: measure it, or set %s and %s",
			m.ControlPlanes, knob("heartbeatInterval"), knob("electionTimeout"))
	}
	network := ceil10ms(m.PeerRTTP99 * 3 / 2)
	disk := ceil10ms(10 * m.FdatasyncP99)
	hb := max(defaultHeartbeat, network, disk)
	why := fmt.Sprintf("%s = max(etcd default 100ms, 1.5 x peer RTT p99 %s -> %s", hb, m.PeerRTTP99, network)
	if m.FdatasyncP99 > 0 {
		why += fmt.Sprintf(", 10 x fdatasync p99 %s -> %s", m.FdatasyncP99, disk)
	}
	why += ")"
	switch hb {
	case defaultHeartbeat:
		why += "; network and disk are fast enough for etcd's default (etcd tuning guide: heartbeat about 0.5-1.5 x the round trip; shorter only costs CPU and network)"
	case disk:
		why += fmt.Sprintf("; the disk sets it: fdatasync p99 %s is at or above etcd's 10ms limit, and a leader blocked in fsync "+
			"sends its heartbeats late (etcd FAQ, \"failed to send out heartbeat on time\"); etcd's defaults pair a 100ms heartbeat "+
			"with that 10ms limit, and 10 x fdatasync p99 keeps the same 10:1 margin", m.FdatasyncP99)
	default:
		why += "; the round trip between members sets it (etcd tuning guide: heartbeat about 0.5-1.5 x the round trip; the p99, so that slow round trips are covered)"
	}
	if hb > maxHeartbeat {
		return hb, why, fmt.Errorf("derived heartbeat %s exceeds 5s: 10 x that passes etcd's 50s election maximum; members this far apart (or disks this slow) cannot form one etcd cluster", hb)
	}
	return hb, why, nil
}

// autoElection is 10 × the heartbeat, but at least etcd's default and 10 × the
// peer RTT p99 (the tuning guide's minimum), which matters when the heartbeat
// was set low by hand.
func autoElection(hb time.Duration, m Measured) (time.Duration, string) {
	rtt := ceil10ms(10 * m.PeerRTTP99)
	et := max(10*hb, defaultElection, rtt)
	switch {
	case et == 10*hb:
		return et, fmt.Sprintf("10 x heartbeat-interval %s: a follower waits ten heartbeats before calling an election, which also covers "+
			"the tuning guide's minimum of 10 x the round trip (heartbeat >= 1.5 x RTT p99); one value for every member", hb)
	case et == defaultElection:
		return et, fmt.Sprintf("etcd's default 1000ms, above 10 x heartbeat-interval %s; one value for every member", hb)
	default:
		return et, fmt.Sprintf("10 x peer RTT p99 %s, the etcd tuning guide's minimum, above 10 x heartbeat-interval %s; one value for every member", m.PeerRTTP99, hb)
	}
}

// checkTimes refuses timings etcd runs badly with or not at all, naming the keys that set them.
func checkTimes(t EtcdTuning, knobs config.Etcd) []error {
	var errs []error
	hb, et := t.HeartbeatInterval, t.ElectionTimeout
	if knobs.HeartbeatInterval.Set {
		if hb%time.Millisecond != 0 || hb < minHeartbeat || hb > maxHeartbeat {
			errs = append(errs, fmt.Errorf("%s is %s: want whole milliseconds from 10ms to 5s", knob("heartbeatInterval"), hb))
		}
	}
	if knobs.ElectionTimeout.Set {
		if et%time.Millisecond != 0 || et > maxElection {
			errs = append(errs, fmt.Errorf("%s is %s: want whole milliseconds up to etcd's 50s maximum", knob("electionTimeout"), et))
		}
	}
	if hb > 0 && et < 10*hb {
		heartbeat := knob("heartbeatInterval")
		if !knobs.HeartbeatInterval.Set {
			heartbeat = "the heartbeat interval derived from measurements"
		}
		errs = append(errs, fmt.Errorf("%s is %s, less than 10 x %s (%s) = %s: a follower would call elections after a few late heartbeats",
			knob("electionTimeout"), et, heartbeat, hb, 10*hb))
	}
	return errs
}

// checkCompaction refuses a retention that the compaction mode cannot read.
func checkCompaction(t EtcdTuning, knobs config.Etcd) []error {
	ret := t.AutoCompactionRetention
	switch t.AutoCompactionMode {
	case "periodic":
		if d, err := time.ParseDuration(ret); err == nil && d >= 0 {
			return nil
		}
		if n, err := strconv.Atoi(ret); err == nil && n >= 0 {
			return nil // a bare number is hours
		}
		return []error{fmt.Errorf("%s %q is not a duration such as 1h or 30m (mode periodic)", knob("autoCompactionRetention"), ret)}
	case "revision":
		if n, err := strconv.Atoi(ret); err == nil && n >= 0 {
			return nil
		}
		if !knobs.AutoCompactionRetention.Set {
			return []error{fmt.Errorf("%s is revision, which keeps a number of revisions: set %s to a count such as 10000",
				knob("autoCompactionMode"), knob("autoCompactionRetention"))}
		}
		return []error{fmt.Errorf("%s %q is not a revision count (mode revision)", knob("autoCompactionRetention"), ret)}
	default:
		return []error{fmt.Errorf("%s %q is not periodic or revision", knob("autoCompactionMode"), t.AutoCompactionMode)}
	}
}

// knob is the full config key of an etcd knob, as errors and reports name it.
func knob(name string) string { return config.Namespace + ":etcd." + name }

func setIn(name string) string { return "set in " + knob(name) }

func pick(set bool, name, auto string) string {
	if set {
		return setIn(name)
	}
	return auto
}

// ceil10ms rounds up to a multiple of 10 ms, so that etcd's millisecond flags
// take round numbers and a measurement's noise does not show in them.
func ceil10ms(d time.Duration) time.Duration {
	const step = 10 * time.Millisecond
	return (d + step - 1) / step * step
}
