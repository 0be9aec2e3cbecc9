package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshready/meshready/infra"
	"github.com/meshready/meshready/internal/proc"
	"github.com/meshready/meshready/internal/sshdtest"
	"github.com/meshready/meshready/remote"
	"github.com/meshready/meshready/toolchain"
)

// A bridge and subnet of the tests' own, so they never disturb a running
// local stack (mr-br0, 10.213.0.0/24).
const testBridge = "mr-test0"

var testSubnet = netip.MustParsePrefix("10.213.249.0/24")

// TestMachines boots two real machines, logs in to each with its pinned host
// key, checks what the provider relies on, and deletes them, leaving nothing.
// The first run builds the base root (minutes); it is cached in the real
// cache so later runs and CI reuse it.
func TestMachines(t *testing.T) {
	if testing.Short() {
		t.Skip("boots systemd-nspawn machines")
	}
	if os.Geteuid() != 0 {
		t.Skip("systemd-nspawn needs root")
	}
	cache, err := toolchain.DefaultDir(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{CacheDir: cache, Bridge: testBridge, Subnet: testSubnet, Stack: "test",
		Log: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	clientKey, clientPub := newKey(t)
	names := []string{"test-a", "test-b"}
	specs := make([]infra.ServerSpec, len(names))
	for i, name := range names {
		hostPriv, hostPub := newKey(t)
		specs[i] = infra.ServerSpec{Name: name, SSHPublicKey: clientPub,
			HostKey: infra.HostKeyPair{PrivatePEM: string(hostPriv), Public: hostPub},
			Labels:  map[string]string{"meshready": "true", "stack": "test", "node": name}}
		// What a crashed earlier run left must not be adopted with old keys.
		if err := b.Delete(ctx, MachineID(name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { deleteAll(t, b, names) })

	// Both at once, as two stacks would, the second from another process:
	// one address must not be handed out twice, and a machine must outlive
	// the process that created it.
	servers := make([]infra.Server, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			if i == 0 {
				servers[i], errs[i] = b.Create(ctx, specs[i])
			} else {
				servers[i], errs[i] = createInChild(ctx, specs[i])
			}
			t.Logf("create %s took %s", specs[i].Name, time.Since(start).Round(100*time.Millisecond))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if s, err := b.Get(ctx, servers[1].ID); err != nil || !reflect.DeepEqual(s, servers[1]) {
		t.Fatalf("the machine made by a process that has exited: %+v, %v", s, err)
	}
	if servers[0].PrivateIPv4 == servers[1].PrivateIPv4 {
		t.Fatalf("both machines got %s", servers[0].PrivateIPv4)
	}

	// A host whose inotify limit leaves no room: the third machine is
	// refused before it boots, and nothing of it is left.
	tight := *b
	tight.inotifyLimit = filepath.Join(t.TempDir(), "max_user_instances")
	must(t, os.WriteFile(tight.inotifyLimit, []byte("10\n"), 0o644))
	third := specs[0]
	third.Name, third.Labels = "test-c", map[string]string{"meshready": "true", "stack": "test", "node": "test-c"}
	if _, err := tight.Create(ctx, third); err == nil || !strings.Contains(err.Error(), "create mr-test-c: ") ||
		!strings.Contains(err.Error(), "max_user_instances is 10: ") || !strings.Contains(err.Error(), "local machines and this one need") {
		t.Errorf("a machine past the inotify limit: %v", err)
	}
	if _, err := os.Stat(b.machineDir(MachineID("test-c"))); !os.IsNotExist(err) {
		t.Errorf("the refused machine left %s: %v", b.machineDir(MachineID("test-c")), err)
	}

	for i, s := range servers {
		if s.Status != "running" || s.SSHPort != 22 || s.SSHUser != "root" || s.Virtualization != Virtualization {
			t.Errorf("%s: %+v", s.Name, s)
		}
		if !testSubnet.Contains(netip.MustParseAddr(s.PrivateIPv4)) {
			t.Errorf("%s: address %s outside %s", s.Name, s.PrivateIPv4, testSubnet)
		}
		conn := dial(t, ctx, s, specs[i].HostKey.Public, clientKey)
		other := servers[1-i].PrivateIPv4
		for cmd, want := range map[string]string{
			"hostname":                         s.Name,
			"cat /proc/1/comm":                 "systemd",
			"ip route show default":            "default via " + testSubnet.Addr().Next().String() + " dev host0",
			"ping -c1 -W2 " + other:            "1 received",
			"ls -l /dev/kmsg":                  "/dev/kmsg -> /dev/console",
			"findmnt -no TARGET /var/lib/etcd": "/var/lib/etcd",
			"ls /etc/ssh/ | grep ssh_host_":    "ssh_host_ed25519_key\nssh_host_ed25519_key.pub",
			// Its own cgroup subtree is its whole tree: the memory hierarchy
			// it mounts shows none of the host's other cgroups.
			`test "$(sed -n 's/^[0-9]*:memory://p' /proc/1/cgroup)" = / && echo own-root`: "own-root",
		} {
			res, err := conn.Run(ctx, cmd)
			if err != nil {
				t.Errorf("%s: %s: %v", s.Name, cmd, err)
				continue
			}
			if got := strings.TrimSpace(string(res.Stdout)); !strings.Contains(got, want) {
				t.Errorf("%s: %s: got %q, want %q in it", s.Name, cmd, got, want)
			}
		}
		// On the host, the machine's init is in its subtree, and nothing
		// of the machine is in the host's root cgroup.
		for _, c := range machineCgroups(servers[i].ID) {
			if strings.HasSuffix(filepath.Dir(filepath.Dir(c)), "/unified") {
				continue
			}
			if procs, err := exec.Command("sh", "-c", "cat "+c+"/cgroup.procs "+c+"/*/cgroup.procs 2>/dev/null | wc -l").Output(); err != nil || strings.TrimSpace(string(procs)) == "0" {
				t.Errorf("%s: no process in its cgroup %s: %v", s.Name, c, err)
			}
		}
		// Module loading, raw I/O and the clock are not the machine's, so
		// not a privileged pod's either: bits 16, 17 and 25 of the bounding set.
		if res, err := conn.Run(ctx, "grep CapBnd /proc/1/status"); err != nil {
			t.Errorf("%s: capabilities: %v", s.Name, err)
		} else if f := strings.Fields(string(res.Stdout)); len(f) != 2 {
			t.Errorf("%s: CapBnd %q", s.Name, res.Stdout)
		} else if bnd, err := strconv.ParseUint(f[1], 16, 64); err != nil || bnd&(1<<16|1<<17|1<<25) != 0 || bnd&(1<<21) == 0 {
			t.Errorf("%s: bounding set %s keeps SYS_MODULE, SYS_RAWIO or SYS_TIME, or lacks SYS_ADMIN", s.Name, f[1])
		}
		conn.Close()

		// The other machine's key pinned: refused, not retried.
		_, err := remote.Dial(ctx, remote.Target{Name: s.Name, Address: s.PrivateIPv4, HostKey: specs[1-i].HostKey.Public},
			remote.Auth{PrivateKey: clientKey}, remote.DialOptions{Attempts: 1})
		var hk *remote.HostKeyError
		if !errors.As(err, &hk) {
			t.Errorf("%s: a wrong pinned key gave %v, want a HostKeyError", s.Name, err)
		}
	}

	got, err := b.List(ctx, map[string]string{"stack": "test", "meshready": "true"})
	if err != nil || len(got) != 2 {
		t.Errorf("List: %d servers, %v", len(got), err)
	}
	if again, err := b.Create(ctx, specs[0]); err != nil || again.ID != servers[0].ID || again.PrivateIPv4 != servers[0].PrivateIPv4 {
		t.Errorf("Create of a running machine did not adopt it: %+v, %v", again, err)
	}
	// The same name and labels with other keys is what a run killed before it
	// recorded the machine leaves: Create starts it afresh with the new keys.
	hostPriv, hostPub := newKey(t)
	rekeyed := specs[0]
	rekeyed.HostKey = infra.HostKeyPair{PrivatePEM: string(hostPriv), Public: hostPub}
	if s, err := b.Create(ctx, rekeyed); err != nil {
		t.Errorf("Create with new keys: %v", err)
	} else {
		dial(t, ctx, s, hostPub, clientKey).Close()
		servers[0], specs[0] = s, rekeyed
	}

	// A machine killed behind our back reads as gone, and Delete still
	// stops its orphaned init.
	r, err := readRecord(b.machineDir(servers[1].ID))
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(r.PID, syscall.SIGKILL)
	waitGone(ctx, 5*time.Second, func() bool { return proc.Running(r.PID) })
	if _, err := b.Get(ctx, servers[1].ID); !errors.Is(err, infra.ErrNotFound) {
		t.Errorf("Get of a killed machine: %v, want ErrNotFound", err)
	}
	if !leaderAlive(r.Leader, r.LeaderStart) {
		t.Errorf("the killed machine's init (%d) is not running: the test kills nothing", r.Leader)
	}
	deleteAll(t, b, names)
	if leaderAlive(r.Leader, r.LeaderStart) {
		t.Errorf("Delete left the killed machine's init %d running", r.Leader)
	}
}

// childEnv carries the spec to TestCreateChild.
const childEnv = "MESHREADY_LOCAL_TEST_CHILD"

// createInChild runs Create in a child process (this test binary).
func createInChild(ctx context.Context, spec infra.ServerSpec) (infra.Server, error) {
	data, err := json.Marshal(spec)
	if err != nil {
		return infra.Server{}, err
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCreateChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(data))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return infra.Server{}, fmt.Errorf("child: %w\n%s", err, out)
	}
	_, js, ok := strings.Cut(string(out), "SERVER ")
	js, _, _ = strings.Cut(js, "\n")
	var s infra.Server
	if !ok || json.Unmarshal([]byte(js), &s) != nil {
		return s, fmt.Errorf("child printed no server:\n%s", out)
	}
	return s, nil
}

// TestCreateChild is TestMachines' second stack, in a process of its own.
func TestCreateChild(t *testing.T) {
	data := os.Getenv(childEnv)
	if data == "" {
		t.Skip("run by TestMachines")
	}
	var spec infra.ServerSpec
	if err := json.Unmarshal([]byte(data), &spec); err != nil {
		t.Fatal(err)
	}
	cache, err := toolchain.DefaultDir(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{CacheDir: cache, Bridge: testBridge, Subnet: testSubnet, Stack: "test"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(s)
	fmt.Printf("SERVER %s\n", js)
}

// deleteAll deletes the machines and checks that nothing of them is left:
// no process, no folder, no bridge, no address. Deleting twice is fine.
func deleteAll(t *testing.T, b *Backend, names []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, name := range names {
		id := MachineID(name)
		r, _ := readRecord(b.machineDir(id))
		for range 2 {
			if err := b.Delete(ctx, id); err != nil {
				t.Errorf("delete %s: %v", id, err)
			}
		}
		if _, err := b.Get(ctx, id); !errors.Is(err, infra.ErrNotFound) {
			t.Errorf("Get after Delete of %s: %v", id, err)
		}
		if nspawnAlive(r.PID, id) || leaderAlive(r.Leader, r.LeaderStart) {
			t.Errorf("%s: a process is left (nspawn %d, init %d)", id, r.PID, r.Leader)
		}
		for _, dir := range append([]string{b.machineDir(id), propagateDir(id)}, machineCgroups(id)...) {
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: folder %s left: %v", id, dir, err)
			}
		}
	}
	if err := exec.Command("ip", "link", "show", testBridge).Run(); err == nil {
		t.Errorf("bridge %s is left", testBridge)
	}
	out, _ := exec.Command("ip", "-br", "-4", "addr").Output()
	prefix := strings.TrimSuffix(testSubnet.Addr().String(), "0")
	if strings.Contains(string(out), prefix) {
		t.Errorf("an address of %s is left:\n%s", testSubnet, out)
	}
	if _, err := os.Stat(filepath.Join(b.dir, cgroupsBefore)); err == nil && len(mustRecords(t, b)) == 0 {
		t.Errorf("the last delete left %s", cgroupsBefore)
	}
}

func mustRecords(t *testing.T, b *Backend) []record {
	all, err := readRecords(b.machinesDir())
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func dial(t *testing.T, ctx context.Context, s infra.Server, hostKey string, clientKey []byte) *remote.SSH {
	t.Helper()
	conn, err := remote.Dial(ctx, remote.Target{Name: s.Name, Address: s.Address(), Port: s.SSHPort, User: s.SSHUser, HostKey: hostKey},
		remote.Auth{PrivateKey: clientKey}, remote.DialOptions{Attempts: 20})
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// newKey makes an ed25519 key: OpenSSH private PEM and authorized_keys line.
func newKey(t *testing.T) ([]byte, string) { return sshdtest.NewKey(t) }

// testWriter sends the backend's progress logs to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
