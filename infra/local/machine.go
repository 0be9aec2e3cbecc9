package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/meshready/meshready/infra"
)

// bootTimeout bounds the wait for a new machine's sshd.
const bootTimeout = 2 * time.Minute

// Create boots a machine for spec and returns once its sshd accepts TCP. The
// steps, in order: install tools, the base root, reserve an address (and the
// bridge), copy the root, write the machine's files, start nspawn, wait for
// sshd. Any failure deletes what was made.
func (b *Backend) Create(ctx context.Context, spec infra.ServerSpec) (infra.Server, error) {
	id := MachineID(spec.Name)
	if err := checkSpec(spec); err != nil {
		return infra.Server{}, fmt.Errorf("create %s: %w", id, err)
	}
	// After an ambiguous failure the caller retries: a live machine with the
	// same labels is the one it asked for.
	if s, err := b.Get(ctx, id); err == nil {
		if !maps.Equal(s.Labels, spec.Labels) {
			return infra.Server{}, fmt.Errorf("create %s: a machine with this name runs with other labels", id)
		}
		if b.hasKeys(id, spec) {
			return s, nil
		}
		// Same stack, other keys: a run killed between booting the machine and
		// recording it in the state left it, and this run made new keys. Nothing
		// on it is known to the state: start it afresh.
		b.log.Warn("replacing a machine an interrupted run left behind", "host", spec.Name, "id", id)
	}
	if err := b.Delete(ctx, id); err != nil { // remains of a dead one
		return infra.Server{}, fmt.Errorf("create %s: clear remains: %w", id, err)
	}
	s, err := b.create(ctx, id, spec)
	if err != nil && !errors.Is(err, errExists) {
		if derr := b.Delete(context.WithoutCancel(ctx), id); derr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", derr))
		}
	}
	if err != nil {
		return infra.Server{}, fmt.Errorf("create %s: %w", id, err)
	}
	return s, nil
}

// hasKeys reports whether machine id carries spec's host key and login key.
func (b *Backend) hasKeys(id string, spec infra.ServerSpec) bool {
	root := filepath.Join(b.machineDir(id), "rootfs")
	host, err1 := os.ReadFile(filepath.Join(root, "etc/ssh/ssh_host_ed25519_key.pub"))
	login, err2 := os.ReadFile(filepath.Join(root, "root/.ssh/authorized_keys"))
	return err1 == nil && err2 == nil &&
		string(host) == ensureNewline(spec.HostKey.Public) && string(login) == ensureNewline(spec.SSHPublicKey)
}

func (b *Backend) create(ctx context.Context, id string, spec infra.ServerSpec) (infra.Server, error) {
	log := b.log.With("host", spec.Name)
	start := time.Now()
	if err := ensureTools(ctx, log); err != nil {
		return infra.Server{}, err
	}
	base, err := b.ensureRoot(ctx)
	if err != nil {
		return infra.Server{}, err
	}
	r := record{ID: id, Name: spec.Name, Subnet: b.subnet, Bridge: b.bridge,
		Labels: spec.Labels, Stack: b.stack, Created: time.Now().UTC()}
	r, err = reserve(ctx, b.machinesDir(), b.lockPath(), r, func(all []record) error {
		ids := make([]string, 0, len(all))
		for _, o := range all {
			ids = append(ids, o.ID)
		}
		if err := ensureInotify(b.inotifyLimit, ids); err != nil {
			return err
		}
		if len(all) == 0 {
			snapshotCgroups(b.dir)
		}
		return ensureBridge(ctx, b.bridge, b.gateway, b.subnet)
	})
	if err != nil {
		return infra.Server{}, err
	}
	log.Info("creating local machine", "id", id, "address", r.Address)
	dir := b.machineDir(id)
	rootfs, data := filepath.Join(dir, "rootfs"), filepath.Join(dir, "data")
	// A full copy, not overlayfs: containerd's overlayfs snapshotter, later,
	// cannot put its layers on an overlayfs root; reflinks make it cheap where
	// the filesystem has them.
	if out, err := exec.CommandContext(ctx, "cp", "-a", "--reflink=auto", base, rootfs).CombinedOutput(); err != nil {
		return infra.Server{}, fmt.Errorf("copy base root: %w: %s", err, tail(string(out), 400))
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return infra.Server{}, err
	}
	files := machineFiles(spec.Name, r.Address, b.subnet, b.gateway, spec.HostKey, spec.SSHPublicKey, newMachineID())
	for _, f := range files {
		if err := writeInRoot(rootfs, f); err != nil {
			return infra.Server{}, err
		}
	}
	bundle := filepath.Join(filepath.Dir(b.dir), "bundle")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return infra.Server{}, err
	}
	if err := makeMachineCgroups(id); err != nil {
		return infra.Server{}, err
	}
	cmd, err := startNspawn(dir, machineCgroups(id), nspawnArgs(id, spec.Name, rootfs, data, b.bridge, bundle))
	if err != nil {
		return infra.Server{}, err
	}
	r.PID = cmd.Process.Pid
	if err := b.updateRecord(r); err != nil {
		return infra.Server{}, err
	}
	if err := waitSSH(ctx, r, filepath.Join(dir, "console.log")); err != nil {
		return infra.Server{}, err
	}
	r.Leader, r.LeaderStart = leaderOf(r.PID)
	if err := b.updateRecord(r); err != nil {
		return infra.Server{}, err
	}
	log.Info("local machine running", "id", id, "address", r.Address, "took", time.Since(start).Round(100*time.Millisecond))
	return server(r), nil
}

func (b *Backend) updateRecord(r record) error {
	unlock, err := lock(context.Background(), b.lockPath())
	if err != nil {
		return err
	}
	defer unlock()
	return writeRecord(b.machineDir(r.ID), r)
}

// startNspawn starts the machine detached from this process: its own
// session, stdio on a log file, no context. It outlives meshready and is
// stopped only by Delete.
//
// It starts in cgroups (the machine's, see machineCgroups): a shell joins
// them and then execs nspawn, so nspawn and everything it starts are
// inside from their first instruction. (Go's CgroupFD would do it without
// the shell, on cgroup v2 only.)
func startNspawn(dir string, cgroups []string, args []string) (*exec.Cmd, error) {
	logFile, err := os.OpenFile(filepath.Join(dir, "console.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	join := `for c in ` + shellWords(cgroups) + `; do echo $$ > "$c/cgroup.procs" || exit 1; done; exec systemd-nspawn "$@"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", join, "systemd-nspawn"}, args...)...)
	cmd.Dir = "/"
	cmd.Env = nspawnEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start systemd-nspawn: %w", err)
	}
	go cmd.Wait() // reaps it should it end while this process lives
	return cmd, nil
}

// waitSSH waits until the machine's sshd accepts TCP on port 22, and fails
// early, with the end of its console log, when nspawn exits.
func waitSSH(ctx context.Context, r record, consoleLog string) error {
	ctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	addr := net.JoinHostPort(r.Address.String(), "22")
	for {
		if !nspawnAlive(r.PID, r.ID) {
			out, _ := os.ReadFile(consoleLog)
			return fmt.Errorf("systemd-nspawn exited while booting; %s ends with:\n%s", consoleLog, tail(string(out), 1500))
		}
		var d net.Dialer
		dctx, dcancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp", addr)
		dcancel()
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sshd on %s: %w (console log: %s)", addr, ctx.Err(), consoleLog)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// writeInRoot writes f below rootfs without following a symlink that the
// root might hold: a machine's files must never land on the host.
func writeInRoot(rootfs string, f machineFile) error {
	path := filepath.Join(rootfs, f.Path)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fd, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, os.FileMode(f.Mode))
	if err != nil {
		return err
	}
	_, err = fd.WriteString(f.Content)
	return errors.Join(err, fd.Chmod(os.FileMode(f.Mode)), fd.Close())
}

// newMachineID is a random /etc/machine-id: each machine its own, as on VMs.
func newMachineID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,56}[a-z0-9])?$`)

// checkSpec rejects what would fail later, less clearly: a name that is not a
// hostname, keys that do not parse or do not match.
func checkSpec(spec infra.ServerSpec) error {
	if !validName.MatchString(spec.Name) {
		return fmt.Errorf("name %q: want lower-case letters, digits and dashes (at most 58)", spec.Name)
	}
	signer, err := ssh.ParsePrivateKey([]byte(spec.HostKey.PrivatePEM))
	if err != nil {
		return fmt.Errorf("host key: %w", err) // the error names no key material
	}
	if signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
		return fmt.Errorf("host key: want ed25519, got %s", signer.PublicKey().Type())
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(spec.HostKey.Public))
	if err != nil || string(pub.Marshal()) != string(signer.PublicKey().Marshal()) {
		return errors.New("host key: the public key is not the private key's")
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(spec.SSHPublicKey)); err != nil {
		return fmt.Errorf("SSH public key: %w", err)
	}
	if strings.Contains(strings.TrimSpace(spec.SSHPublicKey), "\n") {
		return errors.New("SSH public key: want one key")
	}
	return nil
}

// shellWords quotes each of words for a POSIX shell, separated by spaces.
func shellWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
