package local

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNspawnAlive: only a running systemd-nspawn of that machine counts. The
// fallback for a process whose arguments read empty (right after exec)
// accepts the name systemd-nspawn only, never a kernel thread.
func TestNspawnAlive(t *testing.T) {
	// A shell named systemd-nspawn, its argv carrying the machine's flag.
	bin := filepath.Join(t.TempDir(), "systemd-nspawn")
	sh, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, sh, 0o755); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(bin, "-c", "sleep 30; true", "--machine=mr-test-a")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { c.Process.Kill(); c.Wait() }()
	for i := 0; !nspawnAlive(c.Process.Pid, "mr-test-a"); i++ {
		if i > 100 {
			t.Fatal("a running systemd-nspawn --machine=mr-test-a does not count as that machine")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if nspawnAlive(c.Process.Pid, "mr-test-b") {
		t.Error("it counts as another machine too")
	}
	if nspawnAlive(os.Getpid(), "mr-test-a") {
		t.Error("the test binary counts as a machine")
	}
	if nspawnAlive(0, "mr-test-a") || nspawnAlive(-1, "mr-test-a") {
		t.Error("pid 0 or -1 counts as a machine")
	}
	// pid 2 is kthreadd on Linux: empty cmdline, and not a machine.
	if comm, err := os.ReadFile("/proc/2/comm"); err == nil && strings.TrimSpace(string(comm)) == "kthreadd" {
		if nspawnAlive(2, "mr-test-a") {
			t.Error("a kernel thread (empty cmdline) counts as a machine")
		}
	}
}
