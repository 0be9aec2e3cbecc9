package bootstrap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"strings"
	"testing"
)

// fakeSnapshot is a database of pages 4096-byte pages with bbolt's magic
// where bbolt writes it, and etcd's hash appended (unless broken).
func fakeSnapshot(pages int, broken bool) []byte {
	db := make([]byte, pages*4096)
	for i := range db {
		db[i] = byte(i * 7)
	}
	binary.LittleEndian.PutUint32(db[16:20], bboltMagic)
	sum := sha256.Sum256(db)
	if broken {
		sum[0] ^= 1
	}
	return append(db, sum[:]...)
}

func TestCheckSnapshot(t *testing.T) {
	good := fakeSnapshot(3, false)
	sha, size, err := CheckSnapshot(bytes.NewReader(good))
	whole := sha256.Sum256(good)
	if err != nil || size != int64(len(good)) || sha != hex.EncodeToString(whole[:]) {
		t.Errorf("a good snapshot: %s %d %v", sha, size, err)
	}
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"empty":        {nil, "shorter than a bbolt header"},
		"text":         {[]byte(strings.Repeat("not a database\n", 400)), "no bbolt database magic"},
		"no hash":      {fakeSnapshot(2, false)[:2*4096], "no database with etcd's hash appended"},
		"damaged":      {fakeSnapshot(2, true), "does not match"},
		"cut in half":  {fakeSnapshot(2, false)[:4096+100], "no database with etcd's hash appended"},
		"magic, short": {fakeSnapshot(1, false)[:20], "no database"},
	} {
		if _, _, err := CheckSnapshot(bytes.NewReader(c.data)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// streamEtcd hands out one snapshot.
type streamEtcd struct {
	fakeEtcd
	data []byte
}

func (e *streamEtcd) Snapshot(_ context.Context, w io.Writer) (int64, error) {
	n, err := w.Write(e.data)
	return int64(n), err
}

// TestSaveSnapshotChecksWhatItSaves: what etcd streams arrives whole, and a
// damaged stream is an error, not a file that only looks like a backup.
func TestSaveSnapshotChecksWhatItSaves(t *testing.T) {
	var b bytes.Buffer
	good := fakeSnapshot(4, false)
	if _, n, err := SaveSnapshot(t.Context(), &streamEtcd{data: good}, &b); err != nil || n != int64(len(good)) || !bytes.Equal(b.Bytes(), good) {
		t.Errorf("good: %d %v", n, err)
	}
	if _, _, err := SaveSnapshot(t.Context(), &streamEtcd{data: fakeSnapshot(4, true)}, io.Discard); err == nil {
		t.Error("a damaged stream was saved")
	}
}

// FuzzCheckSnapshot: any file handed to restore is judged without a panic.
func FuzzCheckSnapshot(f *testing.F) {
	f.Add(fakeSnapshot(1, false))
	f.Add(fakeSnapshot(1, true))
	f.Add([]byte("x"))
	f.Fuzz(func(t *testing.T, b []byte) { CheckSnapshot(bytes.NewReader(b)) })
}
