package kube

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandQuotesEveryArgument runs Command's line in a real shell with a
// stand-in kubectl that prints its arguments: hostile values arrive as one
// argument each and run nothing.
func TestCommandQuotesEveryArgument(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kubectl"), []byte("#!/bin/sh\nfor a; do printf '%s\\n' \"$a\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "pwned")
	args := []string{"--namespace", "a;touch " + marker + ";#", "rollout", "restart", "deployment/$(touch " + marker + ")", "it's `x`", "-h\nb"}
	cmd := exec.Command("/bin/sh", "-c", Command(args...))
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join(append([]string{"--kubeconfig", AdminKubeconfig}, args...), "\n") + "\n"
	if string(out) != want {
		t.Errorf("kubectl got\n%q\nwant\n%q", out, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("an argument ran a command")
	}
}
