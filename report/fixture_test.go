package report

import (
	"time"

	"github.com/meshready/meshready/benchmarks"
	"github.com/meshready/meshready/config"
)

// fixedNow keeps golden files stable.
var fixedNow = time.Date(2025, 11, 25, 2, 31, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func lat(p50, p99, max time.Duration, n int64) *benchmarks.Latency {
	return &benchmarks.Latency{P50: p50, P99: p99, Max: max, Samples: n}
}

const us = time.Microsecond

// series builds a 1 s steal series from percentages.
func series(vals ...float64) []benchmarks.StealPoint {
	out := make([]benchmarks.StealPoint, len(vals))
	for i, v := range vals {
		out[i] = benchmarks.StealPoint{Second: float64(i + 1), Percent: v}
	}
	return out
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// fixtureNodes is a realistic 3-node Hetzner run: a healthy control plane, a
// worker whose fdatasync is too fast to be real, and a worker in a container
// where steal cannot be attributed and O_DIRECT reads failed.
func fixtureNodes() []benchmarks.NodeResult {
	start := time.Date(2025, 11, 25, 2, 20, 0, 0, time.UTC)
	loadedCP := repeat(0, 30)
	loadedCP[4], loadedCP[11], loadedCP[23] = 0.5, 1, 0.5
	loadedW1 := []float64{0.5, 1, 0.5, 1.5, 1, 0.5, 0.5, 1, 2, 1, 0.5, 1, 1, 0.5, 1.5, 1, 0.5, 0.5, 1, 1, 0.5, 1, 0.5, 0.5, 1, 1.5, 0.5, 1, 0.5, 0.5}
	return []benchmarks.NodeResult{
		{
			Node: "cp-1", Address: "10.0.0.2", Role: "control-plane", Started: start, Duration: 92 * time.Second,
			Disk: benchmarks.DiskResult{
				Device:    benchmarks.DeviceFacts{Dir: "/var/lib/etcd", Source: "/dev/sda1", FSType: "ext4", Device: "sda", Model: "QEMU HARDDISK", Rotational: ptr(false), WriteCache: "write back"},
				Fdatasync: lat(870*us, 2140*us, 6400*us, 10017),
				RandRead:  lat(118*us, 312*us, 1930*us, 48211),
			},
			Steal: benchmarks.StealResult{
				Measurable: true, Evidence: "kvm-clock with KVM steal-time feature (kvm_steal_time in cpuinfo flags)", Virt: "kvm", CPUs: 2,
				Idle:          benchmarks.StealPhase{Stats: benchmarks.StealStats{Samples: 20}, Series: series(repeat(0, 10)...)},
				Loaded:        benchmarks.StealPhase{Stats: benchmarks.StealStats{MeanPercent: 0.12, P95Percent: 1, MaxPercent: 1, Samples: 60}, Series: series(loadedCP...)},
				WorkPerSecond: map[int]float64{0: 2.312e8, 1: 2.298e8}, WorkSpreadPercent: 0.8,
			},
		},
		{
			Node: "w-1", Address: "10.0.0.3", Role: "worker", Started: start, Duration: 95 * time.Second,
			Disk: benchmarks.DiskResult{
				Device:       benchmarks.DeviceFacts{Dir: "/var/lib/meshready/bench", Source: "/dev/vda1", FSType: "ext4", Device: "vda", Rotational: ptr(true), WriteCache: "write through"},
				Fdatasync:    lat(14*us, 41*us, 380*us, 10017),
				RandRead:     lat(402*us, 910*us, 4100*us, 21877),
				FlushSuspect: "fdatasync p50 14 µs is below 20 µs and write_cache is \"write through\": flushes are not reaching stable storage",
			},
			Steal: benchmarks.StealResult{
				Measurable: true, Evidence: "kvm-clock with KVM steal-time feature", Virt: "kvm", CPUs: 2,
				Idle:          benchmarks.StealPhase{Stats: benchmarks.StealStats{MeanPercent: 0.05, P95Percent: 0, MaxPercent: 1, Samples: 20}, Series: series(0, 0, 0.5, 0, 0, 0, 0, 0, 0, 0)},
				Loaded:        benchmarks.StealPhase{Stats: benchmarks.StealStats{MeanPercent: 0.82, P95Percent: 2, MaxPercent: 3, Samples: 60}, Series: series(loadedW1...)},
				WorkPerSecond: map[int]float64{0: 1.87e8, 1: 1.79e8}, WorkSpreadPercent: 4.6,
			},
		},
		{
			Node: "w-2", Address: "10.0.0.4", Role: "worker", Started: start, Duration: 71 * time.Second,
			Disk: benchmarks.DiskResult{
				Device:    benchmarks.DeviceFacts{Dir: "/var/lib/meshready/bench", Source: "overlay", FSType: "overlay"},
				Fdatasync: lat(6100*us, 14800*us, 31200*us, 10017),
				Errors:    []string{"randread: fio: O_DIRECT is not supported on overlay (error 22, Invalid argument)"},
			},
			Steal: benchmarks.StealResult{
				Measurable: false, Evidence: "virt container: /proc/stat is the host's, steal cannot be attributed to this guest", Virt: "container", CPUs: 4,
				Errors: []string{"cgroup cpu.stat shows 12 throttled periods; throttling is not steal"},
			},
			Errors: []string{"lsblk: no block device behind overlay"},
		},
	}
}

func fixtureNetwork() []benchmarks.RTT {
	return []benchmarks.RTT{
		{From: "cp-1", To: "w-1", Latency: benchmarks.Latency{P50: 212 * us, P99: 401 * us, Max: 690 * us, Samples: 100}},
		{From: "cp-1", To: "w-2", Latency: benchmarks.Latency{P50: 248 * us, P99: 522 * us, Max: 1100 * us, Samples: 100}},
		{From: "w-1", To: "w-2", Latency: benchmarks.Latency{P50: 231 * us, P99: 1840 * us, Max: 3200 * us, Samples: 100}, Loss: 1},
	}
}

func defaults() config.Thresholds { return config.Defaults().Benchmarks.Thresholds }

// fixtureReport is region A: three nodes, no mesh measured.
func fixtureReport() Report {
	return Evaluate("fsn1", "hetzner", fixtureNodes(), fixtureNetwork(), defaults(), fixedNow)
}

// fixtureLocal is region B: one local node with mesh numbers, for comparisons.
func fixtureLocal() Report {
	n := fixtureNodes()[0]
	n.Node, n.Address = "mr-cp-1", "10.213.0.10"
	n.Disk.Fdatasync = lat(35*us, 61*us, 900*us, 10017)
	n.Disk.Device = benchmarks.DeviceFacts{Dir: "/var/lib/etcd", Source: "/dev/nvme0n1p2", FSType: "ext4", Device: "nvme0n1", Model: "Samsung SSD 990 PRO 1TB", Rotational: ptr(false), WriteCache: "write back"}
	mesh := MeshResult{ConvergenceP99: ptr(3200 * time.Millisecond), PerHopP90: ptr(140 * us), MTLSCost: ptr(60 * us)}
	return Evaluate("home-lab", "local", []benchmarks.NodeResult{n}, nil, defaults(), fixedNow.Add(-48*time.Hour), WithMesh(mesh))
}
