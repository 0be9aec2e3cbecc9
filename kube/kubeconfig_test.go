package kube

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meshready/meshready/internal/golden"
)

// kubeadm's admin.conf (its shape, dummy keys) with the server moved to the
// public endpoint: nothing else changes.
func TestWithServerGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "admin.conf"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := WithServer(in, "https://203.0.113.7:6443")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "admin-public.conf"), out)
}

func TestWithServerRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not yaml":    "clusters: [",
		"a list":      "- a\n- b\n",
		"no clusters": "kind: Config\n",
		"no server":   "clusters:\n- cluster: {}\n  name: x\n",
	} {
		if _, err := WithServer([]byte(in), "https://203.0.113.7:6443"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
