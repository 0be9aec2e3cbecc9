// Package remote is meshready's one seam to a node's shell: run a command,
// upload a file. Benchmarks and bootstrap are written against Runner and tested
// with a fake; the SSH implementation is tested against a real sshd.
package remote

import (
	"context"
	"fmt"
	"io"
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
}

// Apply folds options into RunOptions.
func Apply(opts []RunOption) RunOptions {
	var o RunOptions
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

// lineWriter calls f for each complete line written to it.
type lineWriter struct {
	stream string
	f      func(stream, line string)
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
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
	Name, Role, Address string
	Runner              Runner
}
