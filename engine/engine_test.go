package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blang/semver"
)

func project(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	yaml := "name: meshready\nruntime: go\nstackConfigDir: stacks\nbackend:\n  url: file://.meshready/state\n"
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// hashOwner is Owner's hash of a backend known by its URL alone.
func hashOwner(backend, project string) string {
	sum := sha256.Sum256([]byte(backend + "\x00" + project))
	return hex.EncodeToString(sum[:8])
}

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestOpenMakesAPassphraseOnlyWhenNoneIsGiven(t *testing.T) {
	dir := project(t)
	p, err := Open(Options{ProjectDir: dir, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, ".meshready", "passphrase")
	fi, err := os.Stat(f)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() < 32 {
		t.Fatalf("passphrase file: %v %v", fi, err)
	}
	if p.env["PULUMI_CONFIG_PASSPHRASE_FILE"] != f {
		t.Errorf("CLI env lacks the passphrase file: %v", p.env)
	}
	first, _ := os.ReadFile(f)
	if _, err := Open(Options{ProjectDir: dir, Getenv: env(nil)}); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(f); string(again) != string(first) {
		t.Errorf("a second Open replaced the passphrase: the state's secrets would be lost")
	}
	if _, err := os.Stat(filepath.Join(dir, ".meshready", "state")); err != nil {
		t.Errorf("file backend dir not made: %v", err)
	}
	if got, want := p.StackFile("hel1"), filepath.Join(dir, "stacks", "Pulumi.hel1.yaml"); got != want {
		t.Errorf("StackFile = %s, want %s", got, want)
	}

	other := project(t)
	p, err = Open(Options{ProjectDir: other, Getenv: env(map[string]string{
		"PULUMI_CONFIG_PASSPHRASE": "given", "PULUMI_BACKEND_URL": "s3://bucket/prefix",
	})})
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"passphrase", "state"} {
		if _, err := os.Stat(filepath.Join(other, ".meshready", sub)); err == nil {
			t.Errorf("with a passphrase and a backend URL given, .meshready/%s should not be made", sub)
		}
	}
	if target, err := os.Readlink(filepath.Join(other, PluginDir, "pulumi-resource-meshready")); err != nil || target == "" {
		t.Errorf("plugin link: %q %v", target, err)
	}
	if _, ok := p.env["PULUMI_CONFIG_PASSPHRASE_FILE"]; ok {
		t.Errorf("overrode the user's passphrase")
	}
	// The Pulumi CLI gets the command's Pulumi settings, not only the
	// process's (which has none of these here).
	for k, want := range map[string]string{"PULUMI_CONFIG_PASSPHRASE": "given", "PULUMI_BACKEND_URL": "s3://bucket/prefix"} {
		if got := p.env[k]; got != want {
			t.Errorf("CLI env %s = %q, want %q from the command's environment", k, got, want)
		}
	}
	if _, ok := p.env["PULUMI_HOME"]; ok {
		t.Errorf("an unset PULUMI_HOME was handed on as %q", p.env["PULUMI_HOME"])
	}
}

// TestShortPassphraseFilesAreRefused: a passphrase file a crash left empty
// (or one a user cut short) would encrypt the stack's secrets with nothing:
// Open refuses it, naming the file, whether meshready made it or not; no
// temp file of a generated one is left beside it.
func TestShortPassphraseFilesAreRefused(t *testing.T) {
	dir := project(t)
	f := filepath.Join(dir, ".meshready", "passphrase")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Dir(f), 0o700))
	must(os.WriteFile(f, nil, 0o600))
	if _, err := Open(Options{ProjectDir: dir, Getenv: env(nil)}); err == nil || !strings.Contains(err.Error(), "holds 0 characters") {
		t.Errorf("an empty generated passphrase file: %v", err)
	}
	user := filepath.Join(t.TempDir(), "pass")
	must(os.WriteFile(user, []byte("short\n"), 0o600))
	if _, err := Open(Options{ProjectDir: project(t), Getenv: env(map[string]string{"PULUMI_CONFIG_PASSPHRASE_FILE": user})}); err == nil ||
		!strings.Contains(err.Error(), user) {
		t.Errorf("a short passphrase file of the user's: %v", err)
	}
	fresh := project(t)
	if _, err := Open(Options{ProjectDir: fresh, Getenv: env(nil)}); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(fresh, ".meshready", ".passphrase-*")); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
}

// TestLockIsExclusiveAndClearsOnlyDeadLocks: a second Lock of the same stack
// fails with a LockedError naming the holder; Pulumi state locks of a dead
// process on this host are removed, those of a live process or another host stay.
func TestLockIsExclusiveAndClearsOnlyDeadLocks(t *testing.T) {
	dir := project(t)
	p, err := Open(Options{ProjectDir: dir, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	locks := filepath.Join(dir, ".meshready", "state", ".pulumi", "locks", "organization", "meshready", "pr-1")
	if err := os.MkdirAll(locks, 0o755); err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	write := func(name string, pid int, host string) string {
		f := filepath.Join(locks, name)
		b := fmt.Sprintf(`{"pid":%d,"username":"root","hostname":%q,"timestamp":"2026-11-25T04:53:28Z"}`, pid, host)
		if err := os.WriteFile(f, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	// A killed process its parent has not reaped yet (a zombie) is dead too.
	zombie := exec.Command("true")
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	defer zombie.Wait()
	time.Sleep(200 * time.Millisecond)
	stale := write("a.json", dead.Process.Pid, host)
	staleZombie := write("z.json", zombie.Process.Pid, host)
	live := write("b.json", os.Getpid(), host)
	elsewhere := write("c.json", dead.Process.Pid, "another-host")
	// The runs that took them: meshreadys of this boot and PID namespace,
	// now gone (the dead and the zombie ones).
	boot, ns := here()
	leases := filepath.Join(dir, ".meshready", "state", ".meshready-leases", "meshready", "pr-1")
	lease := func(name string, pid int, boot, ns string) {
		b := fmt.Sprintf(`{"host":%q,"pid":%d,"bootId":%q,"pidNamespace":%q,"started":"2026-11-25T04:50:00Z"}`, host, pid, boot, ns)
		if err := os.MkdirAll(leases, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(leases, name), []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lease("dead.json", dead.Process.Pid, boot, ns)
	lease("zombie.json", zombie.Process.Pid, boot, ns)

	unlock, err := p.Lock("pr-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{stale, staleZombie} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s: the dead process's lock is still there", filepath.Base(f))
		}
	}
	for _, f := range []string{live, elsewhere} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(f), err)
		}
	}
	_, err = p.Lock("pr-1")
	var locked *LockedError
	if !errors.As(err, &locked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("second Lock: %v", err)
	}
	if u, err := p.Lock("pr-2"); err != nil {
		t.Errorf("another stack is not locked: %v", err)
	} else {
		u()
	}
	unlock()
	if u, err := p.Lock("pr-1"); err != nil {
		t.Errorf("after unlock: %v", err)
	} else {
		u()
	}
}

func TestPurgeRemovedTakesOnlyThatStack(t *testing.T) {
	dir := project(t)
	p, err := Open(Options{ProjectDir: dir, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(dir, ".meshready", "state", ".pulumi")
	files := map[string]bool{ // path: removed by PurgeRemoved("pr-1")
		"stacks/meshready/pr-1.json.bak":               true,
		"stacks/meshready/pr-1.json.bak.attrs":         true,
		"backups/meshready/pr-1/pr-1.123.json":         true,
		"history/meshready/pr-1/pr-1-1.history.json":   true,
		"locks/organization/meshready/pr-1/x.json":     true,
		"stacks/meshready/pr-10.json":                  false,
		"stacks/meshready/local.json":                  false,
		"backups/meshready/pr-10/pr-10.1.json":         false,
		"history/meshready/local/local-1.history.json": false,
	}
	for f := range files {
		path := filepath.Join(meta, f)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.PurgeRemoved("pr-1"); err != nil {
		t.Fatal(err)
	}
	for f, removed := range files {
		if _, err := os.Stat(filepath.Join(meta, f)); (err != nil) != removed {
			t.Errorf("%s: removed=%v, want %v", f, err != nil, removed)
		}
	}
	// A stack that still exists is refused, and so are names that are paths.
	if err := p.PurgeRemoved("pr-10"); err == nil {
		t.Error("purged a stack that exists")
	}
	for _, bad := range []string{"", "../x", ".", "a/b"} {
		if err := p.PurgeRemoved(bad); err == nil {
			t.Errorf("PurgeRemoved(%q) accepted", bad)
		}
	}
}

// recordingCLI is a Pulumi CLI that records how it was called.
type recordingCLI struct {
	workdir, stdin string
	args, env      []string
}

func (r *recordingCLI) Run(_ context.Context, workdir string, stdin io.Reader, _, _ []io.Writer, env []string, args ...string) (string, string, int, error) {
	b, _ := io.ReadAll(stdin)
	r.workdir, r.stdin, r.args, r.env = workdir, string(b), args, env
	return "", "", 0, nil
}

func (r *recordingCLI) Version() semver.Version { return semver.MustParse("3.274.1") }

// TestSetSecretKeepsTheValueOffTheCommandLine: the value reaches Pulumi on
// stdin, never in argv (readable by every user in /proc/PID/cmdline).
func TestSetSecretKeepsTheValueOffTheCommandLine(t *testing.T) {
	p, err := Open(Options{ProjectDir: project(t), Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingCLI{}
	p.cmd = rec
	const secret = "tok-3f9a\nsecond line\n"
	if err := p.SetSecret(t.Context(), "pr-1", "hetzner:token", secret); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(rec.args, " "), "tok-3f9a") || rec.stdin != secret {
		t.Errorf("args %q, stdin %q: want the value on stdin only, exactly", rec.args, rec.stdin)
	}
	if got := strings.Join(rec.args, " "); got != "config set --stack pr-1 --secret --raw hetzner:token" || rec.workdir != p.Dir {
		t.Errorf("ran %q in %s", got, rec.workdir)
	}
	if !strings.Contains(strings.Join(rec.env, "\n"), "PULUMI_CONFIG_PASSPHRASE_FILE=") {
		t.Errorf("the CLI does not get the project's environment: %v", rec.env)
	}
}

func TestOnlySaltAdded(t *testing.T) {
	const file = "# the local stack\nconfig:\n  meshready:region: local\n"
	for _, c := range []struct {
		before, after string
		want          bool
	}{
		{file, file + "encryptionsalt: v1:abc=\n", true},
		{file, "encryptionsalt: v1:abc=\n" + file, true},
		{file, file, false},
		{file, file + "  meshready:provider: local\nencryptionsalt: v1:abc=\n", false}, // a real change too
		{file + "encryptionsalt: v1:team=\n", file + "encryptionsalt: v1:team=\n", false},
		{file, file + "secretsprovider: awskms://k\nencryptedkey: xyz\n", false}, // not a salt
	} {
		if got := onlySaltAdded([]byte(c.before), []byte(c.after)); got != c.want {
			t.Errorf("onlySaltAdded(%q, %q) = %v, want %v", c.before, c.after, got, c.want)
		}
	}
}

// TestKeepStackFileAlsoAfterAKilledRun: the salt Pulumi adds goes back out
// after the operation, and a run killed before it could restore is mended by
// the next one; a real edit is never undone.
func TestKeepStackFileAlsoAfterAKilledRun(t *testing.T) {
	dir := project(t)
	p, err := Open(Options{ProjectDir: dir, Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	path := p.StackFile("local")
	const file = "config:\n  meshready:region: local\n"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string { b, _ := os.ReadFile(path); return string(b) }
	write(file)
	restore := p.KeepStackFile("local")
	write(file + "encryptionsalt: v1:abc=\n") // what Pulumi does
	if err := restore(); err != nil || read() != file {
		t.Fatalf("after the run: %q %v", read(), err)
	}
	// Killed: restore never runs; the next KeepStackFile mends it.
	_ = p.KeepStackFile("local")
	write(file + "encryptionsalt: v1:abc=\n")
	restore = p.KeepStackFile("local")
	if read() != file {
		t.Errorf("the next run did not mend what the killed one left: %q", read())
	}
	restore()
	// A user's edit stays.
	restore = p.KeepStackFile("local")
	write(file + "  meshready:provider: local\n")
	restore()
	if read() != file+"  meshready:provider: local\n" {
		t.Errorf("a real edit was undone: %q", read())
	}
}

// TestLocksNotProvenDeadStay: a state lock whose PID is not running here is
// not enough: without a lease of this boot and PID namespace (another CI
// container with the same host name, plain pulumi, another boot), or when
// it is young, the lock stays.
func TestLocksNotProvenDeadStay(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	boot, ns := here()
	old := time.Date(2026, 11, 25, 4, 53, 28, 0, time.UTC)
	lock := stateLock{Pid: dead.Process.Pid, Hostname: host, Timestamp: old}
	mk := func(boot, ns string) map[string]lease {
		return map[string]lease{"l.json": {Host: host, PID: dead.Process.Pid, BootID: boot, PIDNamespace: ns, Started: old.Add(-time.Minute)}}
	}
	now := time.Now()
	if _, wait, ok := provenDead(lock, host, mk(boot, ns), now); !ok || wait != 0 {
		t.Error("a lock of a dead run of this boot and namespace was not cleared")
	}
	for name, dead := range map[string]map[string]lease{
		"no lease (plain pulumi, or a container that cannot show us its PIDs)": nil,
		"the lease started after the lock":                                     {"l.json": {Host: host, PID: dead.Process.Pid, BootID: boot, PIDNamespace: ns, Started: old.Add(time.Minute)}},
	} {
		if _, _, ok := provenDead(lock, host, dead, now); ok {
			t.Errorf("%s: cleared", name)
		}
	}
	young := lock
	young.Timestamp = now.Add(-time.Second)
	if _, wait, ok := provenDead(young, host, mk(boot, ns), now); !ok || wait < minLockAge-2*time.Second {
		t.Errorf("a lock younger than the minimum age: cleared after %s", wait)
	}
	// Leases of another boot or PID namespace are never counted as dead here.
	dir := t.TempDir()
	p := &Project{Name: "meshready"}
	for i, l := range []lease{{Host: host, PID: dead.Process.Pid, BootID: "another-boot", PIDNamespace: ns}, {Host: host, PID: dead.Process.Pid, BootID: boot, PIDNamespace: "pid:[1]"}} {
		b, _ := json.Marshal(l)
		d := p.leaseDir(dir, "s")
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%d.json", i)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.deadLeases(dir, "s"); len(got) != 0 {
		t.Errorf("leases of another boot or namespace counted as dead: %v", got)
	}
}

// Owner is one value for every clone on one backend, whatever the spelling
// of the backend's URL or its credentials, and another for another
// backend; the engine finds the plugins on its PATH, ahead of the user's.
func TestOwnerAndPluginPath(t *testing.T) {
	owner := func(dir, url string) string {
		t.Helper()
		p, err := Open(Options{ProjectDir: dir, Getenv: env(map[string]string{"PULUMI_BACKEND_URL": url, "PATH": "/usr/bin"})})
		if err != nil {
			t.Fatal(err)
		}
		o, err := p.Owner()
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	a, b := project(t), project(t)
	state := t.TempDir()
	if owner(a, "file://"+state) != owner(b, "file://"+state+"/") {
		t.Error("two clones on one file backend have different owners")
	}
	if owner(a, "") == owner(b, "") {
		t.Error("two checkouts with their own .meshready/state share an owner")
	}
	// A file backend is its ID, not its path: the same path on another
	// machine (here: the folder emptied and used again) is another backend;
	// a relative project dir is the same project.
	first := owner(a, "")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, a)
	if err != nil {
		t.Fatal(err)
	}
	if again := owner(rel, ""); again != first {
		t.Errorf("the project by a relative dir has owner %s, by its absolute dir %s", again, first)
	}
	if err := os.Remove(filepath.Join(a, ".meshready", "state", BackendIDFile)); err != nil {
		t.Fatal(err)
	}
	if again := owner(a, ""); again == first {
		t.Error("a file backend at the same path with another ID has the same owner")
	}
	if err := os.WriteFile(filepath.Join(state, BackendIDFile), []byte("not an id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p, err := Open(Options{ProjectDir: a, Getenv: env(map[string]string{"PULUMI_BACKEND_URL": "file://" + state})}); err != nil {
		t.Fatal(err)
	} else if _, err := p.Owner(); err == nil || !strings.Contains(err.Error(), "not 32 hex digits") {
		t.Errorf("a damaged backend ID: %v", err)
	}
	if x, y := owner(a, "postgres://alice:pw1@db:5432/state"), owner(b, "postgres://bob:pw2@db:5432/state"); x != y || len(x) != 16 {
		t.Errorf("one PostgreSQL backend, two users: %s, %s", x, y)
	}
	if owner(a, "postgres://db:5432/state") == owner(a, "postgres://db:5432/other") {
		t.Error("two databases, one owner")
	}
	// A URL that names this machine is this machine's backend: the same
	// URL elsewhere is another one.
	if owner(a, "postgres://127.0.0.1:5432/state") == hashOwner("postgres://127.0.0.1:5432/state", "meshready") {
		t.Error("a loopback backend's owner does not depend on the machine")
	}
	if owner(a, "postgres://db:5432/state") != hashOwner("postgres://db:5432/state", "meshready") {
		t.Error("a backend on another host is not known by its URL alone")
	}
	p, err := Open(Options{ProjectDir: a, Getenv: env(map[string]string{"PATH": "/usr/bin"})})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(a, PluginDir) + ":" + filepath.Join(a, KubernetesPluginDir) + ":/usr/bin"; p.env["PATH"] != want {
		t.Errorf("PATH = %q, want %q", p.env["PATH"], want)
	}
}
