package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshready/meshready/internal/sshdtest"
)

func target(s *sshdtest.Server) Target {
	return Target{Name: "node-a", Address: s.Address, Port: s.Port, User: s.User, HostKey: s.HostKeyFingerprint}
}

func fast() DialOptions {
	return DialOptions{Attempts: 3, Backoff: func(int) time.Duration { return time.Millisecond }, Timeout: 3 * time.Second}
}

func dial(t *testing.T, s *sshdtest.Server, tg Target) *SSH {
	t.Helper()
	c, err := Dial(t.Context(), tg, Auth{IdentityFile: s.ClientKeyFile}, fast())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRunAgainstRealSshd(t *testing.T) {
	s := sshdtest.Start(t)
	c := dial(t, s, target(s))

	res, err := c.Run(t.Context(), "echo out; echo err >&2")
	if err != nil || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Fatalf("run: %q %q %v", res.Stdout, res.Stderr, err)
	}

	_, err = c.Run(t.Context(), "echo broken >&2; exit 3")
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 3 || exit.Host != "node-a" || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("want ExitError 3 naming host and stderr, got %v", err)
	}

	var mu sync.Mutex
	var lines []string
	_, err = c.Run(t.Context(), "printf 'a\\nb\\n'; printf 'c' >&2", WithLines(func(stream, line string) {
		mu.Lock()
		lines = append(lines, stream+":"+line)
		mu.Unlock()
	}))
	if err != nil || strings.Join(lines, ",") != "stdout:a,stdout:b,stderr:c" {
		t.Errorf("lines = %v (%v)", lines, err)
	}
}

func TestUploadIsAtomicWithMode(t *testing.T) {
	s := sshdtest.Start(t)
	c := dial(t, s, target(s))
	dst := filepath.Join(s.Dir, "sub", "script.sh")
	if err := c.Upload(t.Context(), dst, []byte("#!/bin/sh\necho hi\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("uploaded file: %v %v", fi, err)
	}
	if res, err := c.Run(t.Context(), dst); err != nil || string(res.Stdout) != "hi\n" {
		t.Errorf("run uploaded: %q %v", res.Stdout, err)
	}
	if _, err := os.Stat(dst + ".meshready-tmp"); err == nil {
		t.Errorf("temp file left behind")
	}
}

func TestHostKeyPinning(t *testing.T) {
	s := sshdtest.Start(t)
	auth := Auth{IdentityFile: s.ClientKeyFile}

	// The public key form and a known_hosts file pin as well as a fingerprint.
	byKey := target(s)
	byKey.HostKey = s.HostPublicKey
	dial(t, s, byKey)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[%s]:%d %s", s.Address, s.Port, s.HostPublicKey)
	if err := os.WriteFile(kh, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	byFile := target(s)
	byFile.HostKey, byFile.KnownHosts = "", kh
	dial(t, s, byFile)

	// A wrong key is refused at once, never retried, and says both keys.
	wrong := target(s)
	wrong.HostKey = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	start := time.Now()
	_, err := Dial(t.Context(), wrong, auth, DialOptions{Attempts: 5, Backoff: func(int) time.Duration { return time.Second }})
	var hk *HostKeyError
	if !errors.As(err, &hk) || hk.Got != s.HostKeyFingerprint {
		t.Fatalf("want HostKeyError, got %v", err)
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Errorf("host key mismatch was retried (%s)", time.Since(start))
	}

	// No pin at all is refused too: there is no trust on first use.
	none := target(s)
	none.HostKey = ""
	if _, err := Dial(t.Context(), none, auth, fast()); err == nil || !strings.Contains(err.Error(), "no host key pinned") {
		t.Errorf("want a no-pin error, got %v", err)
	}
}

func TestConnectRetriesThenGivesUp(t *testing.T) {
	s := sshdtest.Start(t)
	closed := target(s)
	closed.Port = 1 // nothing listens on tcpmux here
	attempts := 0
	_, err := Dial(t.Context(), closed, Auth{IdentityFile: s.ClientKeyFile}, DialOptions{
		Attempts: 4, Backoff: func(int) time.Duration { attempts++; return time.Millisecond },
	})
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Attempts != 4 || attempts != 3 || ce.Host != "node-a" {
		t.Fatalf("want ConnectError after 4 attempts (3 backoffs), got %v (backoffs %d)", err, attempts)
	}

	// A key the server does not accept is not retried either.
	other := filepath.Join(t.TempDir(), "k")
	sshdtest.WriteKey(t, other)
	start := time.Now()
	_, err = Dial(t.Context(), target(s), Auth{IdentityFile: other}, DialOptions{Attempts: 5, Backoff: func(int) time.Duration { return time.Second }})
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") || time.Since(start) > 900*time.Millisecond {
		t.Errorf("auth failure: %v after %s", err, time.Since(start))
	}
}

func TestCancelStopsTheRemoteCommand(t *testing.T) {
	s := sshdtest.Start(t)
	c := dial(t, s, target(s))
	pidFile := filepath.Join(s.Dir, "pid")
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Run(ctx, "echo $$ > "+pidFile+"; exec sleep 60")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Fatalf("want deadline error soon, got %v after %s", err, time.Since(start))
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("remote command %d still runs after cancel", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestBastion(t *testing.T) {
	s := sshdtest.Start(t)
	bastion := target(s)
	bastion.Name = "bastion"
	tg := target(s)
	tg.Via = &bastion
	c := dial(t, s, tg)
	if res, err := c.Run(t.Context(), "echo via"); err != nil || string(res.Stdout) != "via\n" {
		t.Fatalf("through bastion: %q %v", res.Stdout, err)
	}
}

func TestParallelJoinsErrorsPerHost(t *testing.T) {
	var mu sync.Mutex
	running, peak := 0, 0
	err := Parallel(t.Context(), []string{"a", "b", "c", "d"}, 2, func(ctx context.Context, h string) error {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		if h == "b" || h == "d" {
			return fmt.Errorf("%s: failed", h)
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "b: failed") || !strings.Contains(err.Error(), "d: failed") {
		t.Errorf("joined error = %v", err)
	}
	if peak > 2 {
		t.Errorf("ran %d at once, limit 2", peak)
	}
}

func TestExitErrorQuotesOnlyTheFirstLine(t *testing.T) {
	e := &ExitError{Host: "h", Cmd: "# step name\nkubeadm token create SECRET-TOKEN", Code: 1, Stderr: "boom"}
	if strings.Contains(e.Error(), "SECRET-TOKEN") || !strings.Contains(e.Error(), "# step name") {
		t.Errorf("error = %q", e.Error())
	}
}

// TestDialThroughTheNode reads an HTTP server that listens only on the node's
// loopback (sshd and server share the loopback here), as the etcd /metrics check does.
func TestDialThroughTheNode(t *testing.T) {
	s := sshdtest.Start(t)
	c := dial(t, s, target(s))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "etcd_server_quota_backend_bytes 2.147483648e+09\n")
	}))
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{DialContext: c.DialContext}}
	resp, err := hc.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "etcd_server_quota_backend_bytes") {
		t.Errorf("body %q", b)
	}
	// Nothing listens there: the error names the host and the address.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := c.DialContext(t.Context(), "tcp", addr); err == nil || !strings.Contains(err.Error(), "node-a") || !strings.Contains(err.Error(), addr) {
		t.Errorf("dial to a closed port: %v", err)
	}
}

// TestScriptsNeverOnACommandLine: while a script runs, no process on the
// host (sshd runs here) shows its text in /proc/PID/cmdline, where every
// local user could read it; the script still gets no stdin of its own, and
// its private copy is gone afterwards.
func TestScriptsNeverOnACommandLine(t *testing.T) {
	s := sshdtest.Start(t)
	c := dial(t, s, target(s))
	const marker = "token-abcdef.0123456789abcdef"
	script := "# " + marker + "\nread x || echo no-stdin\necho \"$(mktemp -u)\" >/dev/null\nsleep 1\necho done"
	found := make(chan string, 1)
	go func() {
		for deadline := time.Now().Add(900 * time.Millisecond); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			all, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, f := range all {
				if b, _ := os.ReadFile(f); strings.Contains(string(b), marker) {
					found <- f + ": " + strings.ReplaceAll(string(b), "\x00", " ")
					return
				}
			}
		}
		found <- ""
	}()
	res, err := c.Run(t.Context(), script)
	if err != nil || string(res.Stdout) != "no-stdin\ndone\n" {
		t.Fatalf("run: %q %q %v", res.Stdout, res.Stderr, err)
	}
	if f := <-found; f != "" {
		t.Errorf("the script was on a command line: %s", f)
	}
	// A failing script still says how it failed.
	_, err = c.Run(t.Context(), "# "+marker+"\nexit 7")
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 7 {
		t.Errorf("want exit 7, got %v", err)
	}
}

// TestOutputIsBounded: a host that streams 2 GiB gets its command stopped
// once a stream passes the limit, with ErrOutputTooLarge, and what is kept
// stays within the limit.
func TestOutputIsBounded(t *testing.T) {
	s := sshdtest.Start(t)
	c := dial(t, s, target(s))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := c.Run(t.Context(), "head -c 2147483648 /dev/zero")
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrOutputTooLarge) || !strings.Contains(err.Error(), "output too large") {
		t.Fatalf("want output too large, got %v", err)
	}
	if len(res.Stdout) > DefaultMaxOutput {
		t.Errorf("kept %d bytes, limit %d", len(res.Stdout), DefaultMaxOutput)
	}
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 4*DefaultMaxOutput {
		t.Errorf("the heap grew by %d bytes reading a stream bounded at %d", grew, DefaultMaxOutput)
	}
	// A small limit, and a command that stays under it, on stderr too.
	if _, err := c.Run(t.Context(), "head -c 100000 /dev/zero >&2", WithMaxOutput(1000)); !errors.Is(err, ErrOutputTooLarge) {
		t.Errorf("stderr past the limit: %v", err)
	}
	if res, err := c.Run(t.Context(), "echo ok", WithMaxOutput(1000)); err != nil || string(res.Stdout) != "ok\n" {
		t.Errorf("small output: %q %v", res.Stdout, err)
	}
	// The stopped command is gone from the host.
	if out, _ := exec.Command("pgrep", "-f", "head -c 2147483648").Output(); len(out) > 0 {
		t.Errorf("the command still runs: %s", out)
	}
}

// TestHostKeyRotation: over a session verified with the old host key, a
// new one is installed; sshd then answers with the new key only, and the
// old key pinned fails as a host key mismatch.
func TestHostKeyRotation(t *testing.T) {
	s := sshdtest.Start(t)
	c := dial(t, s, target(s))
	newPrivate, newPublic := sshdtest.NewKey(t)
	h := HostKeyRotation{KeyFile: s.HostKeyFile, Reload: fmt.Sprintf("kill -HUP %d", s.PID)}
	if err := h.Rotate(t.Context(), c, string(newPrivate), newPublic); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(s.HostKeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new host key file: %v %v", fi, err)
	}
	tg := target(s)
	tg.HostKey = newPublic
	n, err := Dial(t.Context(), tg, Auth{IdentityFile: s.ClientKeyFile}, DialOptions{Attempts: 20, Backoff: func(int) time.Duration { return 100 * time.Millisecond }})
	if err != nil {
		t.Fatalf("dial with the new key: %v", err)
	}
	n.Close()
	_, err = Dial(t.Context(), target(s), Auth{IdentityFile: s.ClientKeyFile}, DialOptions{Attempts: 1})
	var hk *HostKeyError
	if !errors.As(err, &hk) {
		t.Errorf("the old key still works, or fails otherwise: %v", err)
	}
}
