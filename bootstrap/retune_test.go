package bootstrap

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/meshready/meshready/internal/golden"
)

// TestPatchEtcdManifest: new values replace the flags kubeadm wrote, a flag
// it did not write is added, every other field stays; the same args again
// change nothing.
func TestPatchEtcdManifest(t *testing.T) {
	in, err := os.ReadFile("testdata/etcd/manifest.yaml")
	must(t, err)
	args := []Arg{{"heartbeat-interval", "150"}, {"election-timeout", "1500"}, {"snapshot-count", "10000"}, {"experimental-x", "1"}}
	out, changed, err := PatchEtcdManifest(in, args)
	must(t, err)
	if !changed {
		t.Fatal("new flags reported as no change")
	}
	golden.Check(t, "testdata/etcd/manifest-retuned.yaml", out)
	flags, err := ManifestFlags(out)
	must(t, err)
	for _, a := range args {
		if flags[a.Name] != a.Value {
			t.Errorf("--%s = %q, want %q", a.Name, flags[a.Name], a.Value)
		}
	}
	if flags["data-dir"] != "/var/lib/etcd" || flags["name"] != "local-cp-1" {
		t.Errorf("flags not asked for changed: %v", flags)
	}
	again, changed, err := PatchEtcdManifest(out, args)
	must(t, err)
	if changed || !bytes.Equal(again, out) {
		t.Errorf("the same flags again changed the manifest")
	}
}

func TestPatchEtcdManifestRefusesWhatIsNotOne(t *testing.T) {
	for name, m := range map[string]string{
		"not yaml":     "{",
		"no etcd":      "spec:\n  containers:\n  - name: other\n    command: [x]\n",
		"no command":   "spec:\n  containers:\n  - name: etcd\n",
		"two docs":     "a: 1\n---\nb: 2\n",
		"no container": "kind: Pod\n",
	} {
		if _, _, err := PatchEtcdManifest([]byte(m), []Arg{{"a", "b"}}); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := ManifestFlags([]byte(m)); err == nil {
			t.Errorf("%s: flags read", name)
		}
	}
}

// FuzzEtcdManifest: whatever a node returns as its manifest, patching and
// reading it never panics, and a patched manifest holds the flags asked for.
func FuzzEtcdManifest(f *testing.F) {
	seed, err := os.ReadFile("testdata/etcd/manifest.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, "heartbeat-interval", "150")
	f.Add([]byte("spec:\n  containers:\n  - name: etcd\n    command: [etcd, --a=b]\n"), "a", "c")
	f.Fuzz(func(t *testing.T, m []byte, name, value string) {
		if name == "" || strings.ContainsAny(name, "=\n\r") || strings.ContainsAny(value, "\n\r") {
			return
		}
		out, _, err := PatchEtcdManifest(m, []Arg{{name, value}})
		if err != nil {
			return
		}
		flags, err := ManifestFlags(out)
		if err != nil {
			t.Fatalf("a patched manifest does not read back: %v", err)
		}
		if flags[name] != value {
			t.Fatalf("--%s = %q after the patch, want %q", name, flags[name], value)
		}
	})
}
