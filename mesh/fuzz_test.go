package mesh

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzKubectlJSON feeds what kubectl printed on a control plane (which a
// tenant's objects shape) to every reader of it: none may panic, and the
// names they hand on are names a workload can have.
func FuzzKubectlJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/precheck/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(`{"items":[{"metadata":{"name":"p","labels":{"pod-template-hash":"h"},"ownerReferences":[{"kind":"ReplicaSet","name":"a;reboot-h"}]},"spec":{"containers":[{"name":"app"}]},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		ReadyPods(s)
		OffRevisionDeployments(s, "1-31-0")
		WatcherPods(s)
		LatencyNodes(s)
		ParseServerVersion(s)
		ParseIstiods(s)
		ParseAPIVersions(s)
		if h, err := ParseHistogram(s, ConvergenceMetric); err == nil {
			bound(h, 0.5)
			bound(h, 0.99)
		}
	})
}
