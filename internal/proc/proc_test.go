package proc

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestRunningZombieAndGone(t *testing.T) {
	if !Running(os.Getpid()) {
		t.Fatal("this process does not run")
	}
	s, ok := Read(os.Getpid())
	if !ok || s.StartTime == 0 || s.PGRP != syscall.Getpgrp() {
		t.Errorf("stat %+v %v, want pgrp %d", s, ok, syscall.Getpgrp())
	}
	// A child that exited and is not reaped yet is a zombie: not running.
	c := exec.Command("true")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if s, _ := Read(c.Process.Pid); s.State == "Z" {
			break
		}
		if i > 100 {
			t.Fatal("the child never became a zombie")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if Running(c.Process.Pid) {
		t.Error("a zombie counts as running")
	}
	c.Wait()
	if _, ok := Read(c.Process.Pid); ok || Running(c.Process.Pid) {
		t.Error("a reaped process still reads")
	}
}

func TestGroupRunning(t *testing.T) {
	c := exec.Command("sleep", "30")
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if !GroupRunning(c.Process.Pid) {
		t.Error("the new group does not run")
	}
	c.Process.Kill()
	c.Wait()
	if GroupRunning(c.Process.Pid) {
		t.Error("the killed group still runs")
	}
}
