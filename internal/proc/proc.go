// Package proc reads /proc/PID/stat: whether a process runs, its group, its
// start time. The one parser for everything in meshready that asks whether a
// process it started (a machine, a Pulumi CLI holding a lock) is still there.
package proc

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Stat is what meshready reads of /proc/PID/stat.
type Stat struct {
	// State is R, S, D, ... ; Z for a zombie, X for a dead task.
	State string
	PGRP  int
	// StartTime is when the process started, in clock ticks since boot: a
	// PID and its start time name one process for the whole uptime.
	StartTime uint64
}

// Read reads pid's stat; ok is false when there is no such process.
func Read(pid int) (Stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, false
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// the fields start after the last ')'. State is [0], pgrp [2], start [19].
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return Stat{}, false
	}
	s := Stat{State: f[0]}
	s.PGRP, _ = strconv.Atoi(f[2])
	s.StartTime, _ = strconv.ParseUint(f[19], 10, 64)
	return s, true
}

// Running is false for a missing process and for a zombie (a killed process
// is one until its parent reaps it: it holds nothing any more).
func Running(pid int) bool {
	s, ok := Read(pid)
	return ok && s.State != "Z" && s.State != "X"
}

// GroupRunning reports whether any process of group pgid still runs.
func GroupRunning(pgid int) bool {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if s, ok := Read(pid); ok && s.PGRP == pgid && s.State != "Z" && s.State != "X" {
			return true
		}
	}
	return false
}
