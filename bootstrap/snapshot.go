package bootstrap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/meshready/meshready/remote"
)

// An etcd snapshot, as etcd's Maintenance API streams it (and etcdctl
// snapshot save writes it): the bbolt database, then the SHA-256 of the
// database, which etcdutl snapshot restore checks.

// bboltMagic is bbolt's meta page magic, at byte 16 of the file (after
// the page header), little-endian.
const bboltMagic = 0xED0CDAED

// CheckSnapshot reads r to its end and says whether it is an etcd snapshot:
// a bbolt database with etcd's SHA-256 of it appended, which matches. It
// returns the SHA-256 of the whole file, what the .sha256 beside it says.
func CheckSnapshot(r io.Reader) (fileSHA string, size int64, err error) {
	whole, db := sha256.New(), sha256.New()
	head := make([]byte, 20)
	n, err := io.ReadFull(r, head)
	if err != nil {
		return "", int64(n), errors.New("not an etcd snapshot: shorter than a bbolt header")
	}
	if binary.LittleEndian.Uint32(head[16:20]) != bboltMagic {
		return "", int64(n), errors.New("not an etcd snapshot: no bbolt database magic")
	}
	whole.Write(head)
	// db gets every byte but the last 32, which are held back in tail.
	tail := append([]byte{}, head...)
	size = int64(len(head))
	buf := make([]byte, 1<<16)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			whole.Write(buf[:n])
			tail = append(tail, buf[:n]...)
			size += int64(n)
			if len(tail) > sha256.Size {
				db.Write(tail[:len(tail)-sha256.Size])
				tail = append(tail[:0], tail[len(tail)-sha256.Size:]...)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return "", size, rerr
		}
	}
	if size%512 != sha256.Size {
		return "", size, fmt.Errorf("not an etcd snapshot: %d bytes is no database with etcd's hash appended (size %% 512 = %d, want %d)", size, size%512, sha256.Size)
	}
	if !bytes.Equal(db.Sum(nil), tail) {
		return "", size, errors.New("not an etcd snapshot, or a damaged one: the hash etcd appended does not match the database")
	}
	return hex.EncodeToString(whole.Sum(nil)), size, nil
}

// SaveSnapshot streams a snapshot from etcd to w and checks it on the way.
func SaveSnapshot(ctx context.Context, etcd Etcd, w io.Writer) (sha string, size int64, err error) {
	pr, pw := io.Pipe()
	type checked struct {
		sha  string
		size int64
		err  error
	}
	done := make(chan checked, 1)
	go func() {
		s, n, err := CheckSnapshot(pr)
		io.Copy(io.Discard, pr)
		done <- checked{s, n, err}
	}()
	_, serr := etcd.Snapshot(ctx, io.MultiWriter(w, pw))
	pw.CloseWithError(serr)
	c := <-done
	if serr != nil {
		return "", 0, serr
	}
	return c.sha, c.size, c.err
}

// SnapshotOnNode takes a snapshot of etcd into dir on cp (0600, with a
// .sha256 beside it, in sha256sum's format), named for when and why, and
// keeps the last keep snapshots there. It returns the snapshot's path.
func SnapshotOnNode(ctx context.Context, cp Node, etcd Etcd, dir, why string, keep int) (string, error) {
	name := "etcd-" + time.Now().UTC().Format("20060102T150405.000Z") + "-" + why + ".db"
	file := path.Join(dir, name)
	pr, pw := io.Pipe()
	type saved struct {
		sha string
		err error
	}
	done := make(chan saved, 1)
	go func() {
		sha, _, err := SaveSnapshot(ctx, etcd, pw)
		pw.CloseWithError(err)
		done <- saved{sha, err}
	}()
	// The snapshot goes through to the node as it streams: never whole in memory.
	tmp := file + ".part"
	_, rerr := cp.Runner.Run(ctx, "mkdir -p "+remote.Quote(dir)+" && umask 077 && cat > "+remote.Quote(tmp), remote.WithStdin(pr))
	pr.CloseWithError(rerr)
	s := <-done
	if s.err != nil || rerr != nil {
		cp.Runner.Run(ctx, "rm -f "+remote.Quote(tmp))
		return "", fmt.Errorf("%s: etcd snapshot: %w", cp.Name, errors.Join(s.err, rerr))
	}
	sum := s.sha + "  " + name + "\n"
	script := "set -eu\ncd " + remote.Quote(dir) + "\nmv -f " + remote.Quote(name+".part") + " " + remote.Quote(name) +
		"\numask 077\nprintf '%s' " + remote.Quote(sum) + " > " + remote.Quote(name+".sha256") + "\n"
	if keep > 0 {
		// The newest keep stay; names sort by time.
		script += "ls -1 etcd-*.db | sort -r | tail -n +" + strconv.Itoa(keep+1) + " | while read -r f; do rm -f \"$f\" \"$f.sha256\"; done\n"
	}
	if _, err := cp.Runner.Run(ctx, script); err != nil {
		return "", fmt.Errorf("%s: etcd snapshot: %w", cp.Name, err)
	}
	return file, nil
}

// ListSnapshots lists the snapshots in dir on cp, newest first.
func ListSnapshots(ctx context.Context, cp Node, dir string) ([]string, error) {
	out, err := cp.Runner.Run(ctx, "cd "+remote.Quote(dir)+" 2>/dev/null && ls -1 etcd-*.db 2>/dev/null | sort -r || true")
	if err != nil {
		return nil, fmt.Errorf("%s: etcd snapshots: %w", cp.Name, err)
	}
	files := []string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out.Stdout)), "\n") {
		if l != "" {
			files = append(files, path.Join(dir, l))
		}
	}
	return files, nil
}

// SnapshotDir is where the automatic snapshots are kept on the first
// control plane: beside etcd's data, on the disk the benchmarks tested.
const SnapshotDir = "/var/lib/meshready/etcd-snapshots"
