package benchmarks

import (
	"github.com/meshready/meshready/internal/golden"

	"strings"
	"testing"
	"time"
)

func TestScriptsGolden(t *testing.T) {
	cases := map[string]func() (string, error){
		"facts":         func() (string, error) { return FactsScript("/var/lib/etcd") },
		"fio-etcd-wal":  func() (string, error) { return FioScript("/var/lib/etcd", "etcd-wal", 20*time.Second) },
		"fio-randread":  func() (string, error) { return FioScript("/var/lib/it's here", "randread", 20*time.Second) },
		"steal-10s-30s": func() (string, error) { return StealScript(10*time.Second, 30*time.Second) },
	}
	golden.Scripts(t, "testdata/scripts", cases)

	if _, err := FioScript("/x", "seqwrite", time.Second); err == nil || !strings.Contains(err.Error(), "unknown fio job") {
		t.Errorf("unknown job accepted: %v", err)
	}
}

func TestParseFactsAndMeasurability(t *testing.T) {
	out := []byte("source=/dev/vda\nfstype=ext4\ndevice=vda\nrotational=1\nwrite_cache=write back\nmodel=\n" +
		"virt_vm=kvm\nvirt_container=systemd-nspawn\nhypervisor_flag=yes\nsteal_since_boot=85\ndmesg_steal=\ncpus=2\nfio=/usr/bin/fio\n")
	f, err := ParseFacts("/var/lib", out)
	if err != nil {
		t.Fatal(err)
	}
	if f.Device.Device != "vda" || f.Device.Rotational == nil || !*f.Device.Rotational || f.CPUs != 2 || f.StealSinceBoot != 85 {
		t.Errorf("facts = %+v", f)
	}
	cases := []struct {
		name     string
		mod      func(*Facts)
		during   uint64
		want     bool
		evidence string
	}{
		{"kvm with steal since boot", func(*Facts) {}, 0, true, "85 ticks since boot"},
		{"kvm, steal only during the test", func(f *Facts) { f.StealSinceBoot = 0 }, 3, true, "3 during the test"},
		{"kvm, dmesg says so", func(f *Facts) { f.StealSinceBoot = 0; f.DmesgSteal = "kvm-stealtime: cpu 0, msr 1" }, 0, true, "kvm-stealtime"},
		{"kvm, no evidence: zero proves nothing", func(f *Facts) { f.StealSinceBoot = 0 }, 0, false, "0 proves nothing"},
		{"bare metal", func(f *Facts) { f.HypervisorFlag = false; f.VirtVM = "none"; f.StealSinceBoot = 0 }, 0, false, "bare metal"},
	}
	for _, c := range cases {
		g := f
		c.mod(&g)
		ok, virt, ev := StealMeasurability(g, c.during)
		if ok != c.want || !strings.Contains(ev, c.evidence) {
			t.Errorf("%s: measurable=%v evidence=%q", c.name, ok, ev)
		}
		if !strings.Contains(ev, "systemd-nspawn container") || !strings.Contains(virt, "systemd-nspawn") {
			t.Errorf("%s: the container is not named: %q %q", c.name, virt, ev)
		}
	}
	if _, err := ParseFacts("/x", []byte("garbage")); err == nil {
		t.Errorf("garbage accepted")
	}
}

func TestFlushSuspect(t *testing.T) {
	fast := &Latency{P50: 8 * time.Microsecond, P99: 15 * time.Microsecond}
	slow := &Latency{P50: 900 * time.Microsecond, P99: 2 * time.Millisecond}
	cases := []struct {
		d    DiskResult
		want string
	}{
		{DiskResult{Device: DeviceFacts{FSType: "ext4", WriteCache: "write back"}, Fdatasync: slow}, ""},
		{DiskResult{Device: DeviceFacts{FSType: "ext4", WriteCache: "write back"}, Fdatasync: fast}, "below ~20µs"},
		{DiskResult{Device: DeviceFacts{FSType: "ext4", WriteCache: "write through"}, Fdatasync: slow}, "write-through"},
		{DiskResult{Device: DeviceFacts{FSType: "tmpfs"}}, "tmpfs"},
	}
	for _, c := range cases {
		got := flushSuspect(c.d)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("flushSuspect(%+v) = %q, want %q", c.d.Device, got, c.want)
		}
	}
}

func TestWorkStats(t *testing.T) {
	means, spread := workStats(map[int][]float64{0: {100, 100}, 1: {50, 150}})
	if means[0] != 100 || means[1] != 100 {
		t.Errorf("means = %v", means)
	}
	// samples 100,100,50,150: sd = sqrt(5000/3) = 40.8, cv = 40.8 %
	if spread < 40.7 || spread > 40.9 {
		t.Errorf("spread = %.2f, want 40.8", spread)
	}
}
