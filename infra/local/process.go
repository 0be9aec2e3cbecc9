package local

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meshready/meshready/internal/proc"
)

// nspawnAlive says whether pid is still the systemd-nspawn of machine id: a
// PID can be reused, and a zombie is not a running machine.
func nspawnAlive(pid int, id string) bool {
	if pid <= 0 || !proc.Running(pid) {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	if len(cmdline) == 0 {
		// Right after exec, before the kernel has published the new
		// program's arguments, cmdline can read empty while the name (comm)
		// is already set: the likely cause of a machine once judged dead
		// while booting and then "did not stop" under load. A kernel thread
		// (empty cmdline too) has another name.
		comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		return err == nil && (strings.TrimSpace(string(comm)) == "systemd-nspawn" || strings.TrimSpace(string(comm)) == "sh")
	}
	args := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00")
	if len(args) > 3 && args[0] == "/bin/sh" && args[3] == "systemd-nspawn" {
		// startNspawn's shell, joining the machine's cgroups before it execs nspawn.
		args = args[3:]
	}
	if len(args) == 0 || !strings.HasSuffix(args[0], "systemd-nspawn") {
		return false
	}
	for _, a := range args[1:] {
		if a == "--machine="+id {
			return true
		}
	}
	return false
}

// leaderAlive says whether pid is still the process that started at start
// (in clock ticks since boot, /proc/PID/stat's field 22): a PID and its start
// time name one process for the whole uptime.
func leaderAlive(pid int, start uint64) bool {
	s, ok := proc.Read(pid)
	return pid > 0 && ok && proc.Running(pid) && s.StartTime == start
}

// leaderOf is the container's init, nspawn's only child once the machine has
// booted, with its start time.
func leaderOf(nspawn int) (int, uint64) {
	p := strconv.Itoa(nspawn)
	children, err := os.ReadFile("/proc/" + p + "/task/" + p + "/children")
	if err != nil {
		return 0, 0
	}
	for _, c := range strings.Fields(string(children)) {
		if pid, err := strconv.Atoi(c); err == nil {
			if s, ok := proc.Read(pid); ok && proc.Running(pid) {
				return pid, s.StartTime
			}
		}
	}
	return 0, 0
}

// Bounds of a machine's shutdown.
const (
	stopGrace = 30 * time.Second // systemd's orderly shutdown
	killGrace = 10 * time.Second // after SIGKILL
)

// stopMachine shuts a machine down: SIGTERM to nspawn, which asks the
// container's systemd for an orderly poweroff (SIGRTMIN+3); after stopGrace,
// SIGKILL to the container's init (which ends its whole PID namespace) and to
// nspawn. A machine whose nspawn was killed behind our back still has its
// init running: that is killed too.
func stopMachine(ctx context.Context, r record) {
	leader, start := r.Leader, r.LeaderStart
	if nspawnAlive(r.PID, r.ID) {
		if leader == 0 {
			leader, start = leaderOf(r.PID)
		}
		syscall.Kill(r.PID, syscall.SIGTERM)
		if waitGone(ctx, stopGrace, func() bool { return nspawnAlive(r.PID, r.ID) }) {
			return
		}
	}
	if leaderAlive(leader, start) {
		syscall.Kill(leader, syscall.SIGKILL)
	}
	if nspawnAlive(r.PID, r.ID) {
		syscall.Kill(r.PID, syscall.SIGKILL)
	}
	waitGone(ctx, killGrace, func() bool {
		return nspawnAlive(r.PID, r.ID) || leaderAlive(leader, start)
	})
}

// waitGone polls alive until it is false (true) or the bound or ctx ends.
func waitGone(ctx context.Context, bound time.Duration, alive func() bool) bool {
	deadline := time.Now().Add(bound)
	for alive() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}
