package cli

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshready/meshready/internal/proc"
)

// isolatePulumi is a test's own Pulumi: a PULUMI_HOME of its own, beside
// the project's file backend and generated passphrase file unless the test
// adds PULUMI_BACKEND_URL or a passphrase. The test hands it to every
// command it runs (runCLI, startCLI) instead of changing the process's
// environment, so that it can run beside the others (t.Parallel).
func isolatePulumi(t testing.TB) map[string]string {
	t.Helper()
	return map[string]string{"PULUMI_HOME": t.TempDir()}
}

// withEnv is the process's environment with env's variables in their place.
func withEnv(env map[string]string) []string {
	out := os.Environ()
	for k, v := range env {
		out = append(out, k+"="+v) // later wins (os/exec)
	}
	return out
}

// cliProc is the meshready binary running in its own process group, as a CI
// job runs it: killable as a whole.
type cliProc struct {
	cmd *exec.Cmd
	// out is stdout and stderr together; stdout alone is what a machine reads.
	out, stdout *syncBuffer
	done        chan int
}

func startCLI(t testing.TB, env map[string]string, dir string, args ...string) *cliProc {
	t.Helper()
	p := &cliProc{out: &syncBuffer{}, stdout: &syncBuffer{}, done: make(chan int, 1)}
	p.cmd = exec.Command(os.Getenv("MESHREADY_PLUGIN_BINARY"), append([]string{"--project-dir", dir}, args...)...)
	p.cmd.Env = withEnv(env)
	p.cmd.Stdout, p.cmd.Stderr = multi{p.out, p.stdout}, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, p.cmd.Start())
	go func() {
		p.cmd.Wait()
		p.done <- p.cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() { syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) })
	return p
}

// waitUntil polls cond; it fails the test if the command ends first or
// timeout passes.
func (p *cliProc) waitUntil(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case code := <-p.done:
			p.done <- code
			t.Fatalf("ended (exit %d) before %s:\n%s", code, what, tailLines(p.out.String(), 30))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s:\n%s", what, timeout, tailLines(p.out.String(), 30))
		}
	}
}

// kill sends SIGKILL to the whole group and waits until all of it is gone.
func (p *cliProc) kill(t testing.TB) {
	t.Helper()
	must(t, syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL))
	<-p.done
	waitGroupGone(t, p.cmd.Process.Pid)
}

func (p *cliProc) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case code := <-p.done:
		return code
	case <-time.After(timeout):
		t.Fatalf("still running after %s:\n%s", timeout, tailLines(p.out.String(), 30))
		return -1
	}
}

// waitGroupGone waits until no process of group pgid is left: SIGKILL is
// delivered at once, but a process busy in the kernel (disk I/O) dies only
// when that ends, and until then it still holds the stack's lock, as it would
// for a person who re-runs up that fast.
func waitGroupGone(t testing.TB, pgid int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); proc.GroupRunning(pgid); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("processes of group %d still run a minute after SIGKILL", pgid)
		}
	}
}

// syncBuffer is a bytes.Buffer the test may read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type multi []*syncBuffer

func (m multi) Write(b []byte) (int, error) {
	for _, w := range m {
		w.Write(b)
	}
	return len(b), nil
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// pulumiFailure is what a failed Pulumi run's output says about the
// failure: its Diagnostics section (where each errored resource's message
// is), then its last lines. Outputs that follow the diagnostics push them
// out of a plain tail.
func pulumiFailure(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var diag []string
	for i, l := range lines {
		if strings.TrimSpace(l) != "Diagnostics:" {
			continue
		}
		for _, d := range lines[i:] {
			if t := strings.TrimSpace(d); t == "Outputs:" || t == "Resources:" || len(diag) == 80 {
				break
			}
			diag = append(diag, d)
		}
	}
	return strings.Join(diag, "\n") + "\n...\n" + tailLines(s, 12)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// running says whether the command has not ended yet (without taking its
// exit code from wait).
func (p *cliProc) running() bool {
	select {
	case code := <-p.done:
		p.done <- code
		return false
	default:
		return true
	}
}
