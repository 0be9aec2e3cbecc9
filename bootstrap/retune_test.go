package bootstrap

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/meshready/meshready/internal/golden"
	"github.com/meshready/meshready/remote"
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

// manifestRunner serves an etcd manifest and records what is done to it.
type manifestRunner struct {
	manifest []byte
	did      *[]string
}

func (r manifestRunner) Host() string { return "cp" }
func (r manifestRunner) Close() error { return nil }
func (r manifestRunner) Upload(_ context.Context, path string, data []byte, _ os.FileMode) error {
	*r.did = append(*r.did, "upload "+path+"\n"+string(data))
	return nil
}
func (r manifestRunner) Run(_ context.Context, cmd string, _ ...remote.RunOption) (remote.Result, error) {
	if cmd == "cat "+EtcdManifest {
		return remote.Result{Stdout: r.manifest}, nil
	}
	*r.did = append(*r.did, cmd)
	return remote.Result{}, nil
}

// TestRetuneEtcd: new flags are staged beside the manifests folder, moved
// in by the serialised retune script, and the member waited for through a
// new client, then the API server waited for; the same flags again touch
// nothing.
func TestRetuneEtcd(t *testing.T) {
	in, err := os.ReadFile("testdata/etcd/manifest.yaml")
	must(t, err)
	var did []string
	dials := 0
	dial := func(context.Context) (Etcd, error) {
		dials++
		return &fakeEtcd{members: []EtcdMember{{ID: 1, Name: "cp", Healthy: true}}, log: &[]string{}}, nil
	}
	n := Node{Name: "cp", Role: "control-plane", Runner: manifestRunner{in, &did}}
	flags, err := RetuneEtcd(t.Context(), slog.New(slog.DiscardHandler), n, dial, []Arg{{"snapshot-count", "5000"}})
	must(t, err)
	if flags["snapshot-count"] != "5000" || flags["heartbeat-interval"] != "100" {
		t.Errorf("flags read back %v", flags)
	}
	if len(did) != 3 || !strings.HasPrefix(did[0], "upload /etc/kubernetes/meshready-etcd.yaml\n") || !strings.Contains(did[0], "- --snapshot-count=5000") ||
		!strings.Contains(did[1], "exec 9>/run/meshready-step.lock") || !strings.Contains(did[1], "mv -f '/etc/kubernetes/meshready-etcd.yaml' '/etc/kubernetes/manifests/etcd.yaml'") ||
		did[2] != "kubectl --kubeconfig /etc/kubernetes/admin.conf 'get' '--raw=/readyz'" {
		t.Errorf("did:\n%s", strings.Join(did, "\n---\n"))
	}
	if dials != 1 {
		t.Errorf("dialled etcd %d times, want once (healthy at once)", dials)
	}
	did = nil
	if _, err := RetuneEtcd(t.Context(), slog.New(slog.DiscardHandler), n, dial, []Arg{{"snapshot-count", "10000"}}); err != nil || len(did) != 0 {
		t.Errorf("flags it has already: %v, did %v", err, did)
	}
}
