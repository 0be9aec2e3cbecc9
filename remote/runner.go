// Package remote is meshready's one seam to a node's shell: run a command,
// upload a file. Benchmarks and bootstrap are written against Runner and tested
// with a fake; the SSH implementation is tested against a real sshd.
package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// Runner runs commands on one host.
type Runner interface {
	// Host names the host in logs and errors.
	Host() string
	// Run runs a shell command; a non-zero exit is an *ExitError carrying the output.
	Run(ctx context.Context, cmd string, opts ...RunOption) (Result, error)
	// Upload writes data to path atomically (a temp file renamed into place).
	Upload(ctx context.Context, path string, data []byte, mode os.FileMode) error
	Close() error
}

// Result is a finished command's output.
type Result struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// RunOption adjusts one Run.
type RunOption func(*RunOptions)

// RunOptions are the settings RunOption changes; exported for Runner implementations.
type RunOptions struct {
	Stdin io.Reader
	// OnLine receives each line of output as it arrives, stream "stdout" or "stderr".
	OnLine func(stream, line string)
	// MaxOutput bounds what is kept of stdout and of stderr, each
	// (DefaultMaxOutput when 0): a host that streams more is stopped, and
	// the run fails with ErrOutputTooLarge, in bounded memory.
	MaxOutput int
}

// DefaultMaxOutput is the most a command may print on one stream. The
// largest thing meshready reads from a node is a kubeconfig or a fio or
// fortio report, a few hundred KiB.
const DefaultMaxOutput = 16 << 20

// ErrOutputTooLarge is a command that printed more than it may.
var ErrOutputTooLarge = errors.New("output too large")

// WithMaxOutput sets RunOptions.MaxOutput.
func WithMaxOutput(n int) RunOption { return func(o *RunOptions) { o.MaxOutput = n } }

// Apply folds options into RunOptions.
func Apply(opts []RunOption) RunOptions {
	o := RunOptions{MaxOutput: DefaultMaxOutput}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithStdin feeds r to the command's standard input.
func WithStdin(r io.Reader) RunOption { return func(o *RunOptions) { o.Stdin = r } }

// WithLines streams the output line by line (for progress), besides collecting it.
func WithLines(f func(stream, line string)) RunOption { return func(o *RunOptions) { o.OnLine = f } }

// ExitError is a command that ran and failed.
type ExitError struct {
	Host   string
	Cmd    string
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%s: %q exited %d: %s", e.Host, firstLine(e.Cmd), e.Code, tail(e.Stderr, 400))
}

func firstLine(s string) string {
	s, _, cut := strings.Cut(strings.TrimSpace(s), "\n")
	if cut || len(s) > 80 {
		if len(s) > 80 {
			s = s[:80]
		}
		return s + "…"
	}
	return s
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// limited keeps at most max bytes; past that it keeps nothing more, and
// closes over once (for the runner to stop the command).
type limited struct {
	buf  bytes.Buffer
	max  int
	over func()
	done bool
}

func (l *limited) Write(p []byte) (int, error) {
	if l.done {
		return len(p), nil
	}
	if l.buf.Len()+len(p) > l.max {
		l.done = true
		l.over()
		return len(p), nil
	}
	return l.buf.Write(p)
}

// lineWriter calls f for each complete line written to it; a line longer
// than maxLine is cut there.
type lineWriter struct {
	stream string
	f      func(stream, line string)
	buf    []byte
}

const maxLine = 64 << 10

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 && len(w.buf) > maxLine {
			w.f(w.stream, string(w.buf[:maxLine]))
			w.buf = w.buf[maxLine:]
			continue
		}
		if i < 0 {
			return len(p), nil
		}
		w.f(w.stream, string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.f(w.stream, string(w.buf))
		w.buf = nil
	}
}

// Node is a cluster node the steps run on: its name, role and address, and
// a Runner to it.
type Node struct {
	// Address is where Kubernetes and the other nodes reach the node (a
	// private address where there is one); SSH goes through Runner.
	Name, Role, Address string
	Runner              Runner
}

// Tunnel opens TCP connections from the host (SSH's direct-tcpip): how
// meshready reaches what a node serves only on its loopback, such as etcd's
// client port. *SSH is one.
type Tunnel interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}
