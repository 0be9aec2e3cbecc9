// Command pause is the pod sandbox's process: it holds the pod's namespaces
// open, reaps the zombies of processes that end up as its children (it is PID 1
// of the pod when the PID namespace is shared) and exits on SIGINT or SIGTERM.
//
// Kubernetes' own pause (build/pause/linux/pause.c) is C and is not in any Go
// module, so the local bundle, which builds everything from the Go module
// proxy, carries this equivalent instead.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Println("pause (meshready, Go)")
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: warning: not PID 1")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			fmt.Fprintf(os.Stderr, "pause: shutting down, got signal %v\n", sig)
			os.Exit(0)
		}
		for { // reap every child that has ended; SIGCHLDs coalesce
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
