package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// The tests that boot local clusters run two at a time (clusterSlot):
// they mostly wait on kubeadm, rollouts and timed loads, so side by side
// they take 1.6x less wall time than in a row on 2 cores, and a third
// would starve the others' timed loads. The tests that start only
// processes (the Pulumi CLI and plugin, sshd, PostgreSQL, one machine
// without Kubernetes) run one at a time beside them (sideSlot) instead of
// before them. The Makefile's -parallel is above the number of parallel
// tests, so these two alone say what runs at once. A blocked send on a
// channel is served first come, first served.
var (
	clusters = make(chan struct{}, 2)
	sideways = make(chan struct{}, 1)
)

// clusterSlot runs the test in parallel once one of the two cluster slots
// is free. order says who asks first (0 first, 400 ms between): the
// parallel tests are released at once, and the longest (day 2) should
// not be the last to start.
func clusterSlot(t *testing.T, order int) {
	t.Helper()
	t.Parallel()
	time.Sleep(time.Duration(order) * 400 * time.Millisecond)
	clusters <- struct{}{}
	t.Cleanup(func() { <-clusters }) // registered first, so it runs after the test's own cleanups
}

// sideSlot runs the test in parallel, one such test at a time, beside the
// cluster tests.
func sideSlot(t *testing.T) {
	t.Helper()
	t.Parallel()
	sideways <- struct{}{}
	t.Cleanup(func() { <-sideways })
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
