// Package golden compares test output with files under testdata/, and rewrites
// them when the test binary runs with -update: the one golden-file helper of
// every renderer and parser test.
package golden

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// update is a flag of every test binary that imports this package.
var update = flag.Bool("update", false, "rewrite golden files instead of comparing with them")

// Check compares got with the file at path (a missing file fails, so a
// forgotten -update shows), or writes it there under -update. A missing final
// newline is added so golden files end like text files.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if len(got) == 0 || got[len(got)-1] != '\n' {
		got = append(got, '\n')
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update once the change is intended):\n%s", path, firstDiff(want, got))
	}
}

func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "first difference at line " + itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return "(only trailing bytes differ)"
}

func itoa(i int) string {
	b := []byte{}
	for i > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	return string(b)
}

// Scripts renders each named shell script, compares it with dir/<name>.sh and
// checks that it parses as POSIX sh (dash, Debian's /bin/sh): the one test
// shape of every package that renders scripts for nodes.
func Scripts(t *testing.T, dir string, cases map[string]func() (string, error)) {
	t.Helper()
	for name, render := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := render()
			if err != nil {
				t.Fatal(err)
			}
			Check(t, filepath.Join(dir, name+".sh"), []byte(got))
			if out, err := exec.Command("sh", "-n", "-c", got).CombinedOutput(); err != nil {
				t.Errorf("sh -n: %v\n%s", err, out)
			}
		})
	}
}
