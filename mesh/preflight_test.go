package mesh

import (
	"errors"
	"strings"
	"testing"
)

// pod is a running pod without a proxy, owned by ReplicaSet owner.
func pod(owner, hash string) string {
	return `{"metadata":{"labels":{"pod-template-hash":"` + hash + `"},"ownerReferences":[{"kind":"ReplicaSet","name":"` + owner + `"}]},
		"spec":{"containers":[{"name":"app"}]},"status":{"phase":"Running"}}`
}

// TestRestartUninjectedTakesNoNameAsShell: an owner name is whatever a
// tenant wrote (the API server only wants it non-empty). A name no
// Deployment can have is not restarted; a good one reaches kubectl as one
// argument.
func TestRestartUninjectedTakesNoNameAsShell(t *testing.T) {
	pods := `{"items":[` + pod("a;touch /tmp/x;#-h-5d9c8", "5d9c8") + `,` + pod("web-7f6b9", "7f6b9") + `]}`
	k := &fakeKubectl{respond: func(args []string) (string, error) {
		if strings.Join(args, " ") == "--namespace shop get pods -o json" {
			return pods, nil
		}
		return "", nil
	}}
	got, err := RestartUninjected(t.Context(), k, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "web" {
		t.Errorf("restarted %v, want web alone", got)
	}
	cmds := k.commands()
	if len(cmds) != 2 || cmds[1] != "--namespace shop rollout restart deployment/web" {
		t.Errorf("commands %q", cmds)
	}

	// Only hostile names: nothing is restarted at all.
	pods = `{"items":[` + pod("$(reboot)-5d9c8", "5d9c8") + `]}`
	k.calls = nil
	if got, err := RestartUninjected(t.Context(), k, "shop"); err != nil || len(got) != 0 || len(k.commands()) != 1 {
		t.Errorf("restarted %v (%v), commands %q", got, err, k.commands())
	}
}

// TestLeaveMeshKeepsTheNamespace: leaving the mesh removes the injection
// label, and nothing deletes the namespace.
func TestLeaveMeshKeepsTheNamespace(t *testing.T) {
	k := &fakeKubectl{}
	if err := LeaveMesh(t.Context(), k, "shop"); err != nil {
		t.Fatal(err)
	}
	cmds := k.commands()
	if len(cmds) != 1 || cmds[0] != "label namespace shop istio-injection-" {
		t.Errorf("commands %q", cmds)
	}
	gone := &fakeKubectl{respond: func([]string) (string, error) {
		return "", errors.New(`Error from server (NotFound): namespaces "shop" not found`)
	}}
	if err := LeaveMesh(t.Context(), gone, "shop"); err != nil {
		t.Errorf("a namespace already gone: %v", err)
	}
}
