package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMain builds the real meshready binary once: the Pulumi engine starts it
// as the provider plugin (the test binary itself cannot serve the plugin).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meshready-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin := filepath.Join(dir, "meshready")
	cmd := exec.Command("go", "build", "-o", bin, "..")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build meshready:", err)
		os.Exit(1)
	}
	os.Setenv("MESHREADY_PLUGIN_BINARY", bin)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
