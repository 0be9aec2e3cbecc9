// Package benchmarks measures the hardware claims meshready checks before a
// cluster is built: disk latency with etcd's own fio test, CPU steal from
// /proc/stat under load, and the network RTT between nodes. Methods, field
// paths and thresholds follow shared/METHODS.md.
package benchmarks

import "time"

// Verdict is a claim's outcome.
type Verdict string

// The verdicts a report row can carry.
const (
	Pass          Verdict = "PASS"
	Warn          Verdict = "WARN"
	Fail          Verdict = "FAIL"
	NotMeasurable Verdict = "NOT MEASURABLE"
)

// Latency is a latency distribution from one test.
type Latency struct {
	P50     time.Duration `json:"p50"`
	P99     time.Duration `json:"p99"`
	Max     time.Duration `json:"max"`
	Samples int64         `json:"samples"`
}

// FioJob is what meshready reads from one job of fio's JSON output.
type FioJob struct {
	Name string `json:"name"`
	// Sync is the fdatasync latency (etcd-wal job); zero Samples when absent.
	Sync Latency `json:"sync"`
	// Read and Write are the data ops' completion latencies (clat).
	Read  Latency `json:"read"`
	Write Latency `json:"write"`
	// ReadIOPS, WriteIOPS and bytes per second of the data ops.
	ReadIOPS     float64 `json:"readIOPS"`
	WriteIOPS    float64 `json:"writeIOPS"`
	ReadBWBytes  int64   `json:"readBWBytes"`
	WriteBWBytes int64   `json:"writeBWBytes"`
	// Error is fio's per-job error code (0 = none).
	Error int `json:"error"`
}

// FioRun is one fio invocation's parsed result.
type FioRun struct {
	Version string   `json:"version"` // "fio-3.33"
	Jobs    []FioJob `json:"jobs"`
}

// DeviceFacts describe the disk a test ran on.
type DeviceFacts struct {
	Dir        string `json:"dir"`        // the directory fio wrote to
	Source     string `json:"source"`     // mount source (/dev/vda1, overlay, ...)
	FSType     string `json:"fsType"`     // ext4, xfs, tmpfs, overlay, ...
	Device     string `json:"device"`     // whole-disk name: vda, nvme0n1
	Model      string `json:"model"`      // lsblk MODEL, may be empty on virtio
	Rotational *bool  `json:"rotational"` // nil when unknown
	WriteCache string `json:"writeCache"` // "write back", "write through" or ""
}

// DiskResult is the disk part of a node's benchmark.
type DiskResult struct {
	Device DeviceFacts `json:"device"`
	// Fdatasync is etcd's WAL test: 2300-byte sequential writes, fdatasync each.
	Fdatasync *Latency `json:"fdatasync,omitempty"`
	// RandRead is 4k random reads at queue depth 1 with O_DIRECT.
	RandRead *Latency `json:"randRead,omitempty"`
	// FlushSuspect says why the fdatasync numbers may not be real flushes ("" when none).
	FlushSuspect string `json:"flushSuspect,omitempty"`
	// Errors say what could not be measured and why.
	Errors []string `json:"errors,omitempty"`
}

// CPUTimes is one /proc/stat cpu line, in USER_HZ ticks.
type CPUTimes struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal, Guest, GuestNice uint64
}

// StatSample is one read of /proc/stat.
type StatSample struct {
	At  time.Time
	All CPUTimes
	// PerCPU maps CPU number to its times; a CPU that went offline is absent.
	PerCPU map[int]CPUTimes
}

// StealStats summarises per-CPU steal percentages of 1 s samples.
type StealStats struct {
	MeanPercent float64 `json:"meanPercent"`
	P95Percent  float64 `json:"p95Percent"`
	MaxPercent  float64 `json:"maxPercent"`
	Samples     int     `json:"samples"` // per-CPU 1 s samples
}

// StealPoint is the aggregate steal % over one 1 s interval, for charts.
type StealPoint struct {
	Second  float64 `json:"second"` // seconds since the phase began
	Percent float64 `json:"percent"`
}

// StealPhase is one phase (idle or loaded) of the steal test.
type StealPhase struct {
	Stats  StealStats   `json:"stats"`
	Series []StealPoint `json:"series"`
}

// StealResult is the CPU part of a node's benchmark.
type StealResult struct {
	// Measurable is false when steal reporting by the hypervisor cannot be established.
	Measurable bool       `json:"measurable"`
	Evidence   string     `json:"evidence"` // why we believe (or not) steal is reported
	Virt       string     `json:"virt"`     // kvm, none, container, ...
	CPUs       int        `json:"cpus"`
	Idle       StealPhase `json:"idle"`
	Loaded     StealPhase `json:"loaded"`
	// WorkPerSecond is loop iterations per second per vCPU under load (mean per CPU).
	WorkPerSecond map[int]float64 `json:"workPerSecond"`
	// WorkSpreadPercent is the coefficient of variation of the per-second work across samples.
	WorkSpreadPercent float64  `json:"workSpreadPercent"`
	Errors            []string `json:"errors,omitempty"`
}

// RTT is the round trip time from one node to another.
type RTT struct {
	From    string  `json:"from"`
	To      string  `json:"to"`
	Latency Latency `json:"latency"`
	Loss    float64 `json:"lossPercent"`
}

// NodeResult is everything measured on one node.
type NodeResult struct {
	Node     string        `json:"node"`
	Address  string        `json:"address"`
	Role     string        `json:"role"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	Disk     DiskResult    `json:"disk"`
	Steal    StealResult   `json:"steal"`
	Errors   []string      `json:"errors,omitempty"`
}
