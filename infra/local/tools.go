package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// tools are the host programs this backend runs, each with the Debian
// package that ships it (also listed in scripts/deps.sh).
var tools = []struct{ bin, pkg string }{
	{"systemd-nspawn", "systemd-container"},
	{"debootstrap", "debootstrap"},
	{"ip", "iproute2"},
}

// ensureTools installs the missing tools with apt-get: a newcomer's first
// `make up` must not stop at "systemd-nspawn: not found".
func ensureTools(ctx context.Context, log *slog.Logger) error {
	if os.Geteuid() != 0 {
		return errors.New("the local backend runs machines with systemd-nspawn and needs root")
	}
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t.bin); err != nil {
			missing = append(missing, t.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	log.Info("installing Debian packages for the local backend", "packages", missing)
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{
		{"update", "-qq"},
		append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...),
	} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %w: %s", args[0], err, tail(string(out), 800))
		}
	}
	return nil
}

// fallbackMirror is used when the host's apt sources name no bookworm mirror.
const fallbackMirror = "http://deb.debian.org/debian"

// hostMirror is the Debian mirror the host itself uses for bookworm, so a
// machine that reaches one mirror only (a proxy, a snapshot) builds roots too.
func hostMirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	files = append(append(files, "/etc/apt/sources.list"), lists...)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var m string
		if strings.HasSuffix(f, ".sources") {
			m = mirrorFromDeb822(string(data), suite)
		} else {
			m = mirrorFromList(string(data), suite)
		}
		if m != "" {
			return m
		}
	}
	return fallbackMirror
}

// mirrorFromDeb822 returns the first URI of a "Types: deb" stanza whose
// Suites include suite exactly (so bookworm-security's archive is skipped).
func mirrorFromDeb822(text, suite string) string {
	for _, stanza := range strings.Split(text, "\n\n") {
		fields := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(stanza))
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") {
				continue
			}
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(k, " ") {
				fields[strings.ToLower(k)] = strings.TrimSpace(v)
			}
		}
		if fields["enabled"] == "no" || !slices.Contains(strings.Fields(fields["types"]), "deb") ||
			!slices.Contains(strings.Fields(fields["suites"]), suite) {
			continue
		}
		if uris := strings.Fields(fields["uris"]); len(uris) > 0 {
			return strings.TrimSuffix(uris[0], "/")
		}
	}
	return ""
}

// mirrorFromList does the same for one-line "deb [opts] URI SUITE ..." files.
func mirrorFromList(text, suite string) string {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) > 0 {
				f = f[1:]
			}
		}
		if len(f) >= 2 && f[1] == suite {
			return strings.TrimSuffix(f[0], "/")
		}
	}
	return ""
}

// tail keeps the end of a long output for an error message.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
