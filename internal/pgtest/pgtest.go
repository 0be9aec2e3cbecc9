// Package pgtest starts a real PostgreSQL server (Debian's package) on
// loopback for tests: a cluster of its own in a scratch folder, a password
// role, and the URL Pulumi's PostgreSQL backend takes. Nothing of the
// package's own clusters is used or touched.
package pgtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running PostgreSQL.
type Server struct {
	// URL is postgres://meshready:<password>@127.0.0.1:<port>/postgres?sslmode=disable.
	URL  string
	Port int
	// Dir is the cluster's scratch folder (removed after the test).
	Dir      string
	bin      string
	password string
}

// Start runs a PostgreSQL cluster on a free loopback port until the test
// ends. PostgreSQL refuses to run as root; as root the cluster belongs to
// the package's postgres user.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := binDir(t)
	owner := ownerOf(t)
	dir, err := os.MkdirTemp("", "meshready-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pw := make([]byte, 16)
	rand.Read(pw)
	s := &Server{Dir: dir, bin: bin}
	password := hex.EncodeToString(pw)
	write(t, filepath.Join(dir, "pwfile"), password+"\n")
	if owner != nil {
		if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Chown(p, owner.uid, owner.gid)
		}); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	run(t, owner, filepath.Join(bin, "initdb"), "-D", data, "-U", "meshready", "--pwfile", filepath.Join(dir, "pwfile"),
		"--auth", "scram-sha-256", "--no-sync", "--encoding", "UTF8", "--locale", "C")

	for attempt := 0; ; attempt++ {
		s.Port = freePort(t)
		cmd := command(owner, filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(s.Port),
			"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir,
			// A test's state, not a bank's: no fsync, short checkpoints.
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
		logf, err := os.Create(filepath.Join(dir, "postgres.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("start postgres: %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait(); logf.Close() }()
		t.Cleanup(func() {
			// SIGINT is PostgreSQL's fast shutdown: sessions ended, clean stop.
			cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
		if err := s.waitReady(done); err == nil {
			break
		} else if attempt == 2 {
			b, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			t.Fatalf("postgres did not start: %v\n%s", err, b)
		}
	}
	s.password = password
	s.URL = fmt.Sprintf("postgres://meshready:%s@127.0.0.1:%d/postgres?sslmode=disable", password, s.Port)
	return s
}

// waitReady waits for the server to accept connections (pg_isready), or to
// die (its port taken meanwhile).
func (s *Server) waitReady(done <-chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return fmt.Errorf("postgres exited: %v", err)
		default:
		}
		if exec.Command(filepath.Join(s.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port)).Run() == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("not ready after 60 s")
}

// Query runs one SQL statement with psql and returns its rows, one per
// line, fields separated by |.
func (s *Server) Query(t testing.TB, sql string) []string {
	t.Helper()
	rows, err := s.TryQuery(sql)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TryQuery is Query that returns psql's error (with its message).
func (s *Server) TryQuery(sql string) ([]string, error) {
	// The password goes in psql's environment, not on its command line
	// (/proc/PID/cmdline is readable by every user of the host).
	cmd := exec.Command(filepath.Join(s.bin, "psql"), "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", "meshready", "-d", "postgres",
		"-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+s.password, "PGSSLMODE=disable")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("psql %q: %v\n%s", sql, err, out)
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			rows = append(rows, l)
		}
	}
	return rows, nil
}

// binDir is the newest installed PostgreSQL's bin folder.
func binDir(t testing.TB) string {
	t.Helper()
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(m) == 0 {
		t.Fatal("PostgreSQL is not installed: run scripts/deps.sh (Debian package postgresql)")
	}
	sort.Slice(m, func(i, j int) bool { return version(m[i]) < version(m[j]) })
	return filepath.Dir(m[len(m)-1])
}

func version(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

type account struct{ uid, gid int }

// ownerOf is who runs the cluster: the postgres user when the test runs as
// root, nil (the test's own user) otherwise.
func ownerOf(t testing.TB) *account {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("running as root, PostgreSQL needs the postgres user its package makes: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &account{uid, gid}
}

func command(owner *account, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	if owner != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(owner.uid), Gid: uint32(owner.gid)}}
	}
	cmd.Dir = "/"
	return cmd
}

func run(t testing.TB, owner *account, name string, args ...string) {
	t.Helper()
	if out, err := command(owner, name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(name), err, out)
	}
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
