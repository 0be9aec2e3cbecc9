package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/meshready/meshready/infra/local"
)

// TestMain builds the real meshready binary once: the Pulumi engine starts it
// as the provider plugin (the test binary itself cannot serve the plugin).
// It also keeps every test off the user's Pulumi for the whole run: a
// PULUMI_HOME of its own, no backend URL or passphrase from the user's
// environment. (The end-to-end tests run in parallel, and a parallel test
// cannot set variables itself; each has its own project, backend and
// passphrase file.)
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
	os.Setenv("PULUMI_HOME", filepath.Join(dir, "pulumi-home"))
	for _, k := range []string{"PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"} {
		os.Unsetenv(k)
	}
	restore := raiseInotify(testInotifyInstances)
	code := m.Run()
	restore()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testInotifyInstances is fs.inotify.max_user_instances while the tests
// run: two local clusters side by side (up to 8 machines, each allowed
// 32 by the local backend) need more than the kernel's default 128.
const testInotifyInstances = 1024

// raiseInotify raises the host's inotify instance limit to at least n for
// the tests, and returns what puts the old value back: the tests leave the
// host as they found it. Without root it changes nothing, and the local
// backend says what is missing if a test's machines need it.
func raiseInotify(n int) func() {
	old, err := os.ReadFile(local.InotifyLimit)
	if err != nil {
		return func() {}
	}
	have, err := strconv.Atoi(strings.TrimSpace(string(old)))
	if err != nil || have >= n || os.WriteFile(local.InotifyLimit, []byte(strconv.Itoa(n)), 0o644) != nil {
		return func() {}
	}
	fmt.Fprintf(os.Stderr, "fs.inotify.max_user_instances %d -> %d for the tests' local machines, put back after\n", have, n)
	return func() { os.WriteFile(local.InotifyLimit, old, 0o644) }
}
