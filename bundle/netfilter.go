package bundle

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// netfilterPackages are the Debian packages whose files make kube-proxy's
// lower layer: iptables and conntrack with every library they load, libc and
// the dynamic loader included, so the layer needs nothing from the node.
//
// Why .debs: kube-proxy's upstream image (distroless-iptables) is itself
// made of these Debian binaries; meshready already needs a Debian host with
// apt and Debian's mirror (debootstrap); a minbase debootstrap would be well
// over 100 MB and minutes where these are 7.5 MB and seconds. Taking the
// host's own files would tie the image to what happens to be installed here.
// The .debs are kept in the cache as first downloaded: delete the folder to
// take newer ones.
var netfilterPackages = []string{
	"iptables", "libxtables12", "libip4tc2", "libip6tc2", "libnftnl11", "libmnl0",
	"libnetfilter-conntrack3", "libnfnetlink0", "conntrack", "netbase",
	"libc6", "libgcc-s1",
}

// netfilterLinks are the commands kube-proxy runs, which Debian's iptables
// makes with update-alternatives (so they are in no .deb). They point at the
// nf_tables variants, as Debian's default does: kubelet on the node (Debian
// bookworm, iptables 1.8.9) writes its rules through nf_tables too, and one
// network namespace must not mix the two backends. Upstream's image picks
// at run time with iptables-wrapper, which is not in the Go module proxy.
var netfilterLinks = map[string]string{
	"iptables": "iptables-nft", "iptables-save": "iptables-nft-save", "iptables-restore": "iptables-nft-restore",
	"ip6tables": "ip6tables-nft", "ip6tables-save": "ip6tables-nft-save", "ip6tables-restore": "ip6tables-nft-restore",
}

// netfilterTree unpacks the packages (downloaded once into debs, a cache
// folder) into root and checks that every ELF file's libraries are there.
func netfilterTree(ctx context.Context, debs, root string, log *slog.Logger) error {
	if err := unpackDebs(ctx, debs, root, netfilterPackages, "kube-proxy's image", log); err != nil {
		return fmt.Errorf("netfilter layer: %w", err)
	}
	// iptables-legacy locks /run/xtables.lock (kube-proxy's DaemonSet mounts
	// the node's there; the folder must exist without it too).
	if err := os.MkdirAll(filepath.Join(root, "run"), 0o755); err != nil {
		return fmt.Errorf("netfilter layer: %w", err)
	}
	for link, target := range netfilterLinks {
		if err := os.Symlink(target, filepath.Join(root, "usr", "sbin", link)); err != nil {
			return fmt.Errorf("netfilter layer: %w", err)
		}
	}
	if err := checkLibraries(root); err != nil {
		return fmt.Errorf("netfilter layer: %w (add their packages to netfilterPackages)", err)
	}
	return nil
}

// unpackDebs unpacks the Debian packages pkgs into root, downloading the
// missing .debs into debs (a cache folder, kept as first downloaded) with
// apt-get; what for names the image in the progress line. Documentation,
// manuals, locales, libc's iconv charsets and tc's plugins are left out (no
// program of these images reads them), and the top-level links of a merged-/usr
// release are made as base-files would.
func unpackDebs(ctx context.Context, debs, root string, pkgs []string, what string, log *slog.Logger) error {
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return err
	}
	var missing []string
	for _, p := range pkgs {
		if m, _ := filepath.Glob(filepath.Join(debs, p+"_*.deb")); len(m) == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		log.Info("downloading Debian packages for "+what, "packages", missing, "dir", debs)
		cmd := exec.CommandContext(ctx, "apt-get", append([]string{"download", "-q"}, missing...)...)
		cmd.Dir = debs
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get download %s (is `apt-get update` needed?): %w: %s",
				strings.Join(missing, " "), err, strings.TrimSpace(string(out)))
		}
	}
	for _, p := range pkgs {
		m, _ := filepath.Glob(filepath.Join(debs, p+"_*.deb"))
		if len(m) != 1 {
			return fmt.Errorf("want one %s .deb in %s, found %d", p, debs, len(m))
		}
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", m[0], root).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-deb -x %s: %w: %s", m[0], err, out)
		}
	}
	// tc's qdisc plugins too (tc is not run; q_atm.so needs libatm1).
	for _, d := range []string{"usr/share", "usr/lib/x86_64-linux-gnu/gconv", "usr/lib/x86_64-linux-gnu/tc", "lib/x86_64-linux-gnu/tc"} {
		if err := os.RemoveAll(filepath.Join(root, d)); err != nil {
			return err
		}
	}
	// A merged-/usr release (trixie) ships /usr/lib64/ld-linux-x86-64.so.2
	// and leaves the /lib64 link to base-files: make the links it would.
	for _, d := range []string{"bin", "sbin", "lib", "lib64"} {
		_, top := os.Lstat(filepath.Join(root, d))
		if _, usr := os.Stat(filepath.Join(root, "usr", d)); top != nil && usr == nil {
			if err := os.Symlink("usr/"+d, filepath.Join(root, d)); err != nil {
				return err
			}
		}
	}
	return nil
}

// debVersions are the versions of the .debs of pkgs in debs, as their file
// names say (name_version_arch.deb), for an image's description.
func debVersions(debs string, pkgs []string) []string {
	var out []string
	for _, p := range pkgs {
		m, _ := filepath.Glob(filepath.Join(debs, p+"_*.deb"))
		if len(m) != 1 {
			continue
		}
		parts := strings.Split(strings.TrimSuffix(filepath.Base(m[0]), ".deb"), "_")
		if len(parts) == 3 {
			// Epochs are spelled %3a in the file name.
			out = append(out, p+" "+strings.ReplaceAll(parts[1], "%3a", ":"))
		}
	}
	return out
}

// dependsClosure reads `apt-cache depends --recurse` output: the packages
// to install, which are the lines that are not indented (dependencies are)
// and not <virtual> names. Architecture-qualified names (libc6:i386, from a
// foreign architecture) are left out: the images are amd64.
func dependsClosure(out string) []string {
	seen := map[string]bool{}
	var pkgs []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" || l[0] == ' ' || l[0] == '\t' || l[0] == '<' || strings.ContainsAny(l, ": ") || seen[l] {
			continue
		}
		seen[l] = true
		pkgs = append(pkgs, l)
	}
	slices.Sort(pkgs)
	return pkgs
}

// debClosure is roots and every package they need to run (Depends and
// Pre-Depends, recursively), as this host's apt resolves them.
func debClosure(ctx context.Context, roots []string) ([]string, error) {
	args := append([]string{"depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
		"--no-breaks", "--no-replaces", "--no-enhances"}, roots...)
	out, err := exec.CommandContext(ctx, "apt-cache", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("apt-cache depends %s (is `apt-get update` needed?): %w", strings.Join(roots, " "), err)
	}
	pkgs := dependsClosure(string(out))
	for _, r := range roots {
		if !slices.Contains(pkgs, r) {
			return nil, fmt.Errorf("apt-cache depends does not know the package %s", r)
		}
	}
	return pkgs, nil
}

// libDirs are where Debian's loader finds libraries without an ld.so.cache.
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/lib", "/usr/lib"}

// checkLibraries fails when an ELF file under root needs a loader or a
// library that is not in root: a .deb that gained a dependency in a newer
// Debian release should fail the build, not kube-proxy on a node.
func checkLibraries(root string) error {
	var errs []error
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := elf.Open(p)
		if err != nil {
			return nil // not an ELF file
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, p)
		for _, prog := range f.Progs {
			if prog.Type != elf.PT_INTERP {
				continue
			}
			interp, _ := io.ReadAll(prog.Open())
			if l := strings.TrimRight(string(interp), "\x00"); !inRoot(root, l) {
				errs = append(errs, fmt.Errorf("%s needs the loader %s", rel, l))
			}
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, lib := range libs {
			if !slices.ContainsFunc(libDirs, func(dir string) bool { return inRoot(root, path.Join(dir, lib)) }) {
				errs = append(errs, fmt.Errorf("%s needs %s", rel, lib))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return fmt.Errorf("missing: %w", errors.Join(errs...))
	}
	return nil
}

// inRoot says whether the absolute path p exists in the tree at root,
// following symlinks as a process chrooted there would (an absolute link
// target is inside root, not on the host).
func inRoot(root, p string) bool {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	cur := "/"
	for hops := 0; len(parts) > 0; {
		next := path.Join(cur, parts[0])
		parts = parts[1:]
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return false
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return false
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return false
		}
		if !path.IsAbs(target) {
			target = path.Join(cur, target)
		}
		parts = append(strings.Split(strings.Trim(target, "/"), "/"), parts...)
		cur = "/"
	}
	return true
}
