package mesh

import (
	"errors"
	"testing"
)

// TestLeaveMeshKeepsTheNamespace: leaving the mesh removes the injection
// label, and nothing deletes the namespace.
func TestLeaveMeshKeepsTheNamespace(t *testing.T) {
	k := &fakeKubectl{}
	if err := LeaveMesh(t.Context(), k, "shop"); err != nil {
		t.Fatal(err)
	}
	cmds := k.commands()
	if len(cmds) != 1 || cmds[0] != "label namespace shop istio.io/rev- istio-injection-" {
		t.Errorf("commands %q", cmds)
	}
	gone := &fakeKubectl{respond: func([]string) (string, error) {
		return "", errors.New(`Error from server (NotFound): namespaces "shop" not found`)
	}}
	if err := LeaveMesh(t.Context(), gone, "shop"); err != nil {
		t.Errorf("a namespace already gone: %v", err)
	}
}
