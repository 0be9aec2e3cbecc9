package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/meshready/meshready/internal/sshdtest"
)

// TestBenchHostAgainstARealSshd benchmarks this machine through a real sshd on
// loopback: fio really writes, /proc/stat really is sampled under load.
func TestBenchHostAgainstARealSshd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs fio and a 10 s steal test")
	}
	sideSlot(t) // beside the cluster tests (see main_test.go)
	s := sshdtest.Start(t)
	work := t.TempDir() // the "disk" tested: fio's scratch folder goes in here
	out := filepath.Join(t.TempDir(), "report")
	host := s.User + "@" + s.Address + ":" + strconv.Itoa(s.Port)
	before := stealDirs(t)

	r := runCLI(t, nil, "--project-dir", repoRoot(t), "bench", "--host", host, "--identity", s.ClientKeyFile,
		"--host-key-fingerprint", s.HostKeyFingerprint, "--region", "loopback", "--out", out, "--dir", work,
		"--disk-runtime", "5s", "--steal-idle", "5s", "--steal-loaded", "5s")
	if r.code != ExitOK && r.code != ExitFailed {
		t.Fatalf("bench: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("bench printed:\n%s", r.stdout)
	if dir := os.Getenv("MESHREADY_KEEP_REPORT"); dir != "" {
		os.CopyFS(dir, os.DirFS(out))
	}
	for _, f := range []string{"report.json", "report.md", "report.html"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	var rep struct {
		Schema string
		Nodes  []struct {
			Disk struct {
				Fdatasync *struct {
					P99, P50 int64
					Samples  int64
				}
				RandRead *struct {
					P99     int64
					Samples int64
				}
				Device struct {
					Device     string
					Rotational *bool
				}
				Errors []string
			}
			Steal struct {
				Measurable    bool
				Evidence      string
				Loaded        struct{ Stats struct{ Samples int } }
				Idle          struct{ Stats struct{ Samples int } }
				WorkPerSecond map[string]float64
			}
		}
		Claims []struct{ ID, Verdict, Measured string }
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	must(t, err)
	must(t, json.Unmarshal(b, &rep))
	if len(rep.Nodes) != 1 {
		t.Fatalf("nodes = %d\n%s", len(rep.Nodes), b)
	}
	n := rep.Nodes[0]
	if n.Disk.Fdatasync == nil || n.Disk.Fdatasync.Samples < 9000 || n.Disk.Fdatasync.P99 < n.Disk.Fdatasync.P50 || n.Disk.Fdatasync.P50 <= 0 {
		t.Errorf("fdatasync not measured: %+v (errors %v)", n.Disk.Fdatasync, n.Disk.Errors)
	}
	if n.Disk.RandRead == nil || n.Disk.RandRead.Samples == 0 {
		t.Errorf("randread not measured: errors %v", n.Disk.Errors)
	}
	if n.Disk.Device.Device == "" || n.Disk.Device.Rotational == nil {
		t.Errorf("device facts missing: %+v", n.Disk.Device)
	}
	// Sampled per second, wherever it runs.
	if n.Steal.Loaded.Stats.Samples < 4 || n.Steal.Idle.Stats.Samples < 4 || len(n.Steal.WorkPerSecond) == 0 {
		t.Errorf("steal samples: %+v", n.Steal)
	}
	// Measurable only where the kernel accounts steal, which this test
	// reads for itself: a VM's kernel that has counted steal since boot.
	if ticks := hostStealTicks(t); ticks > 0 {
		if !n.Steal.Measurable {
			t.Errorf("this machine's kernel has accounted %d ticks of steal since boot, yet steal is not measurable: %+v", ticks, n.Steal)
		}
	} else {
		t.Logf("steal measurability not asserted: this machine's kernel has accounted no steal since boot (bare metal, or a hypervisor that does not report it); meshready says %v: %s",
			n.Steal.Measurable, n.Steal.Evidence)
	}
	if len(rep.Claims) == 0 || !strings.Contains(r.stdout, "disk-etcd") {
		t.Errorf("no claims printed:\n%s", r.stdout)
	}
	// Nothing is left behind on the "node".
	if left, _ := filepath.Glob(filepath.Join(work, "meshready-fio.*")); len(left) > 0 {
		t.Errorf("fio scratch left behind: %v", left)
	}
	if after := stealDirs(t); len(after) > len(before) {
		t.Errorf("steal scratch left behind: %v", after)
	}

	// A second run keeps the first: the report charts both.
	r = runCLI(t, nil, "--project-dir", repoRoot(t), "bench", "--host", host, "--identity", s.ClientKeyFile,
		"--host-key-fingerprint", s.HostKeyFingerprint, "--region", "loopback", "--out", out, "--dir", work,
		"--disk-runtime", "5s", "--steal-idle", "5s", "--steal-loaded", "5s")
	if r.code != ExitOK && r.code != ExitFailed {
		t.Fatalf("second bench: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if runs, _ := filepath.Glob(filepath.Join(out, "history", "*.json")); len(runs) != 2 || !strings.Contains(r.stdout, "history: 2 runs of loopback") {
		t.Errorf("history after two runs: %v\n%s", runs, r.stdout)
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	if !regexp.MustCompile(`\| 127\.0\.0\.1 \| etcd WAL fdatasync p99 \(ms\) \| [0-9.]+ → [0-9.]+ \|`).Match(md) {
		t.Errorf("report.md has no history row for the host:\n%s", md)
	}
}

// hostStealTicks is the steal column of /proc/stat's cpu line: the ticks
// the hypervisor took from this machine since boot (0 where it reports none).
func hostStealTicks(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 8 && f[0] == "cpu" {
			v, err := strconv.ParseUint(f[8], 10, 64)
			if err != nil {
				t.Fatalf("/proc/stat: %q: %v", line, err)
			}
			return v
		}
	}
	t.Fatal("/proc/stat has no cpu line")
	return 0
}

func stealDirs(t *testing.T) []string {
	m, _ := filepath.Glob("/tmp/meshready-steal.*")
	return m
}

func TestParseHost(t *testing.T) {
	cases := map[string]string{
		"203.0.113.7":           "root@203.0.113.7:22",
		"admin@node1:2222":      "admin@node1:2222",
		"root@[2001:db8::1]:22": "root@2001:db8::1:22",
		"[2001:db8::2]":         "root@2001:db8::2:22",
	}
	for in, want := range cases {
		tg, err := parseHost(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := tg.User + "@" + tg.Address + ":" + strconv.Itoa(tg.Port); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"@host", "root@host:0", "root@host:http", ""} {
		if _, err := parseHost(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBenchBadInputExit2(t *testing.T) {
	for _, args := range [][]string{
		{"bench"},
		{"bench", "--host", "h", "--stack", "local"},
		{"bench", "--host", "h", "--region", "r"},                                    // no host key pin
		{"bench", "--host", "h", "--region", "r", "--host-key-fingerprint", "MD5:x"}, // not SHA256
		{"bench", "--host", "h", "--host-key-fingerprint", "SHA256:x"},               // no region
		{"report", "--out", "x"},
		// Values that become paths or reach a node's shell, refused before any connect.
		{"bench", "--host", "h", "--region", "../../x", "--host-key-fingerprint", "SHA256:x"},
		{"bench", "--host", "h", "--region", "r", "--host-key-fingerprint", "SHA256:x", "--dir", "/var/lib;touch /tmp/x"},
		{"bench", "--host", "h", "--region", "r", "--host-key-fingerprint", "SHA256:x", "--dir", "/var/lib/../../etc"},
		{"bench", "--stack", "../../x"},
		{"validate", "--stack", "../../x"},
		{"up", "--stack", "../x", "--yes"},
		{"destroy", "--stack", "../x", "--yes"},
		{"outputs", "--stack", "a/b"},
		{"env", "destroy", "--name", "../x"},
	} {
		r := runCLI(t, nil, append([]string{"--project-dir", repoRoot(t)}, args...)...)
		if r.code != ExitBadInput {
			t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
	// bench --json says a refusal as JSON too.
	r := runCLI(t, nil, "--project-dir", repoRoot(t), "bench", "--stack", "../../x", "--json")
	var e JSONError
	if err := json.Unmarshal([]byte(r.stdout), &e); err != nil || r.code != ExitBadInput || e.Error.Exit != ExitBadInput || !strings.Contains(e.Error.Message, "--stack") {
		t.Errorf("bench --json: exit %d, %v: %q", r.code, err, r.stdout)
	}
	if testing.Short() {
		return
	}
	// A stack that was never brought up has no nodes to benchmark.
	dir := newProject(t, map[string]string{"fresh": "config:\n  meshready:region: fresh\n"})
	env := isolatePulumi(t)
	env["PULUMI_CONFIG_PASSPHRASE"] = "x"
	r = runCLI(t, env, "--project-dir", dir, "bench", "--stack", "fresh")
	if r.code != ExitBadInput || !strings.Contains(r.stderr, "run meshready up --stack fresh first") {
		t.Errorf("bench of a stack never brought up: exit %d\n%s", r.code, r.stderr)
	}
}
