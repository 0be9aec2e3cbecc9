package conformance

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A cancelled run leaves no test process behind: ginkgo's workers are
// interrupted with it (here a stand-in for ginkgo that starts a worker
// which ignores SIGINT, as a spec deleting its namespace might).
func TestRunCancelledLeavesNoProcess(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "worker.pid")
	t.Setenv("WORKER_PID_FILE", pidFile)
	ginkgo := filepath.Join(dir, "ginkgo")
	script := "#!/bin/sh\n(trap '' INT; exec sleep 300) &\necho $! > \"$WORKER_PID_FILE\"\necho 'Will run 3 of 10 specs'\nwait\n"
	if err := os.WriteFile(ginkgo, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Options{Test: "/bin/true", Ginkgo: ginkgo, Kubectl: "kubectl", Kubeconfig: "kc",
			Dir: filepath.Join(dir, "out"), Processes: 2, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
		errc <- err
	}()
	var pid int
	for i := 0; i < 100 && pid == 0; i++ {
		time.Sleep(50 * time.Millisecond)
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if pid == 0 {
		t.Fatal("the stand-in never started its worker")
	}
	cancel()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("cancelled run: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Run did not return after the cancel")
	}
	// Gone, or a zombie waiting for init to reap it (the kill is async).
	for i := 0; ; i++ {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if i == 100 {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("worker %d outlived the run", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
