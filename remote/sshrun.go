package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Run runs cmd with /bin/sh in a new session. When ctx ends first, the command
// and everything it started are stopped (see stopRun), and the error is ctx's.
func (s *SSH) Run(ctx context.Context, cmd string, opts ...RunOption) (Result, error) {
	o := Apply(opts)
	sess, err := s.client.NewSession()
	if err != nil {
		return Result{}, fmt.Errorf("%s: new session: %w", s.name, err)
	}
	defer sess.Close()
	tooLarge := make(chan struct{})
	var once sync.Once
	over := func() { once.Do(func() { close(tooLarge) }) }
	stdoutL, stderrL := &limited{max: o.MaxOutput, over: over}, &limited{max: o.MaxOutput, over: over}
	stdout, stderr := &stdoutL.buf, &stderrL.buf
	var outW, errW io.Writer = stdoutL, stderrL
	var lwOut, lwErr *lineWriter
	if o.OnLine != nil {
		lwOut = &lineWriter{stream: "stdout", f: o.OnLine}
		lwErr = &lineWriter{stream: "stderr", f: o.OnLine}
		outW, errW = io.MultiWriter(stdoutL, lwOut), io.MultiWriter(stderrL, lwErr)
	}
	sess.Stdout, sess.Stderr = outW, errW
	runID := newRunID()
	// The script goes on stdin, never on a command line: every local user
	// (and every hostPID pod) can read a command line in /proc. It lands in
	// a file only root can read, which is gone when the script ends. A caller
	// with stdin of its own passes a short command that carries no secret.
	wrapped := fmt.Sprintf("exec env MESHREADY_RUN=%s /bin/sh -c %s", runID, Quote(fromStdin))
	sess.Stdin = strings.NewReader(cmd)
	if o.Stdin != nil {
		sess.Stdin = o.Stdin
		wrapped = fmt.Sprintf("exec env MESHREADY_RUN=%s /bin/sh -c %s", runID, Quote(cmd))
	}
	if err := sess.Start(wrapped); err != nil {
		return Result{}, fmt.Errorf("%s: start %q: %w", s.name, firstLine(cmd), err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		s.stopRun(runID, done)
		sess.Close()
		return Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: -1},
			fmt.Errorf("%s: %q: %w", s.name, firstLine(cmd), ctx.Err())
	case <-tooLarge:
		s.stopRun(runID, done)
		sess.Close()
		return Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: -1},
			fmt.Errorf("%s: %q printed more than %d bytes: %w", s.name, firstLine(cmd), o.MaxOutput, ErrOutputTooLarge)
	}
	if lwOut != nil {
		lwOut.flush()
		lwErr.flush()
	}
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitStatus()
		return res, &ExitError{Host: s.name, Cmd: cmd, Code: res.ExitCode, Stderr: stderr.String()}
	default:
		return res, fmt.Errorf("%s: %q: %w", s.name, firstLine(cmd), err)
	}
}

// fromStdin runs the script that arrives on stdin: saved to a private file
// first (mktemp makes it 0600), as a script read straight from stdin would
// hand the rest of itself to any command in it that reads stdin.
const fromStdin = `umask 077; f=$(mktemp) || exit 125; trap 'rm -f "$f"' EXIT HUP INT TERM; cat >"$f" && /bin/sh "$f" </dev/null`

// stopRun ends a cancelled command and its children. SSH "signal" requests
// would be the obvious tool, but OpenSSH refuses them for root sessions
// ("session signalling requires privilege separation"), and nodes are usually
// reached as root. So every command runs with a unique MESHREADY_RUN variable
// that its whole process tree inherits, and a second session signals every
// process carrying it: TERM first, KILL after a grace period.
func (s *SSH) stopRun(runID string, done <-chan error) {
	kill := func(sig string) {
		script := fmt.Sprintf(`for f in /proc/[0-9]*/environ; do
  if grep -qzx 'MESHREADY_RUN=%s' "$f" 2>/dev/null; then p=${f#/proc/}; kill -%s "${p%%/environ}" 2>/dev/null; fi
done; true`, runID, sig)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if sess, err := s.client.NewSession(); err == nil {
			defer sess.Close()
			sess.Start(script)
			wait := make(chan error, 1)
			go func() { wait <- sess.Wait() }()
			select {
			case <-wait:
			case <-ctx.Done():
			}
		}
	}
	kill("TERM")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		kill("KILL")
	}
}

func newRunID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Upload streams data through the session (no sftp subsystem needed: every
// node has a shell and coreutils) into a temp file, then renames it.
func (s *SSH) Upload(ctx context.Context, dst string, data []byte, mode os.FileMode) error {
	tmp := dst + ".meshready-tmp"
	// umask 077: the file is the owner's alone from its first byte, until
	// chmod sets the mode asked for (a secret's 0600 stays 0600 throughout).
	cmd := fmt.Sprintf("mkdir -p %s && umask 077 && cat > %s && chmod %o %s && mv -f %s %s",
		Quote(path.Dir(dst)), Quote(tmp), mode.Perm(), Quote(tmp), Quote(tmp), Quote(dst))
	if _, err := s.Run(ctx, cmd, WithStdin(bytes.NewReader(data))); err != nil {
		return fmt.Errorf("upload %s: %w", dst, err)
	}
	return nil
}

// Quote makes s one word for a POSIX shell.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
