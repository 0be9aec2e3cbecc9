package local

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// suite is the Debian release every local machine runs.
const suite = "bookworm"

// packages go into the base root beside debootstrap's minbase (which has no
// init, no network tools and no sshd). The later entries are what kubeadm's
// preflight and kube-proxy look for on a node, so that a later Kubernetes step
// installs only Kubernetes itself.
var packages = []string{
	"systemd", "systemd-sysv", "dbus", // a real init: the machine boots like a server
	"openssh-server",           // how meshready gets in (with the host key it pinned)
	"iproute2", "iputils-ping", // ip and tc (kubeadm checks both); RTT benchmarks
	"fio", "util-linux", "procps", // disk benchmarks; mount, nsenter, findmnt; ps, sysctl
	"ca-certificates", "kmod", // TLS to registries; modprobe (br_netfilter, overlay)
	"iptables",                     // mandatory in kubeadm preflight and for kube-proxy
	"conntrack",                    // kube-proxy flushes conntrack entries; preflight error without it
	"ethtool", "socat", "ebtables", // preflight warnings otherwise; socat serves port-forward
	// The container runtime and CNI plugins: a local machine has no network
	// to install them from when Kubernetes is bootstrapped.
	"containerd", "runc", "containernetworking-plugins",
}

// recipe is the customisation applied after debootstrap; it is part of the
// root's hash, so changing it builds a new root instead of reusing a stale one.
var recipe = []string{
	// networkd applies the machine's static address (see networkFile).
	"chroot ROOT systemctl enable systemd-networkd.service",
	// No getty on the console (it is a log here), no timers that touch the
	// network or the disk in the middle of a benchmark.
	"chroot ROOT systemctl mask console-getty.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer dpkg-db-backup.timer",
	// Every machine gets its own host key (the pinned one) and machine-id.
	"rm -f ROOT/etc/ssh/ssh_host_* ROOT/etc/hostname",
	"truncate -s 0 ROOT/etc/machine-id",
	// kubelet reads /dev/kmsg, which nspawn does not provide: link it to the
	// console as kind does.
	"echo 'L /dev/kmsg - - - - /dev/console' > ROOT/etc/tmpfiles.d/meshready-kmsg.conf",
	// debootstrap keeps the .debs it installed; each machine copy would too.
	"rm -rf ROOT/var/cache/apt/archives/*.deb ROOT/var/lib/apt/lists/*",
}

// rootName names the base root after what it contains.
func rootName(suite string, packages, recipe []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", suite, strings.Join(packages, ","), strings.Join(recipe, "\n"))
	return suite + "-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// ensureRoot returns the base root, building it on first use. The build takes
// minutes, so it happens once per host and package list: in a temp folder
// renamed into place when complete, under a lock so that two processes never
// build it twice.
func (b *Backend) ensureRoot(ctx context.Context) (string, error) {
	name := rootName(suite, packages, recipe)
	dst := filepath.Join(b.rootsDir(), name)
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(b.rootsDir(), 0o755); err != nil {
		return "", err
	}
	unlock, err := lock(ctx, dst+".lock")
	if err != nil {
		return "", fmt.Errorf("base root: %w", err)
	}
	defer unlock()
	if _, err := os.Stat(dst); err == nil {
		return dst, nil // built by another process while we waited
	}
	tmp := filepath.Join(b.rootsDir(), ".tmp-"+name)
	if err := removeTree(tmp); err != nil { // what a killed build left
		return "", fmt.Errorf("base root: %w", err)
	}
	start := time.Now()
	b.log.Info("building the base root of local machines (once; takes minutes)",
		"suite", suite, "mirror", b.mirror, "dir", dst)
	if err := b.debootstrap(ctx, tmp); err != nil {
		removeTree(tmp)
		return "", fmt.Errorf("base root: %w", err)
	}
	for _, step := range recipe {
		cmd := exec.CommandContext(ctx, "sh", "-c", strings.ReplaceAll(step, "ROOT", tmp))
		if out, err := cmd.CombinedOutput(); err != nil {
			removeTree(tmp)
			return "", fmt.Errorf("base root: %s: %w: %s", step, err, tail(string(out), 400))
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", fmt.Errorf("base root: %w", err)
	}
	b.log.Info("base root ready", "dir", dst, "took", time.Since(start).Round(time.Second))
	return dst, nil
}

// debootstrap runs debootstrap, logging the first line of each phase
// ("Retrieving", "Unpacking", "Configuring", ...) rather than each of its
// hundreds of lines.
func (b *Backend) debootstrap(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase",
		"--include="+strings.Join(packages, ","), suite, dir, b.mirror)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("debootstrap: %w", err)
	}
	var last []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		seen := map[string]bool{}
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			last = append(last, line)
			if len(last) > 10 {
				last = last[1:]
			}
			b.log.Debug("debootstrap", "line", line)
			verb, _, _ := strings.Cut(strings.TrimPrefix(line, "I: "), " ")
			if strings.HasPrefix(line, "I: ") && !seen[verb] {
				seen[verb] = true
				b.log.Info("debootstrap: " + strings.TrimPrefix(line, "I: "))
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	pw.Close()
	<-done
	if err != nil {
		return fmt.Errorf("debootstrap %s from %s: %w: %s", suite, b.mirror, err, strings.Join(last, "\n"))
	}
	return nil
}
