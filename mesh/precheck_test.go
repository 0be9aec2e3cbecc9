package mesh

import (
	"os"
	"strings"
	"testing"
)

func TestParseServerVersion(t *testing.T) {
	b, err := os.ReadFile("testdata/precheck/version.json")
	if err != nil {
		t.Fatal(err)
	}
	v, minor, err := ParseServerVersion(string(b))
	if err != nil || v != "v1.34.4" || minor != 34 {
		t.Errorf("got %q %d %v", v, minor, err)
	}
	if _, _, err := ParseServerVersion(`{"clientVersion":{"minor":"34"}}`); err == nil || !strings.Contains(err.Error(), "no serverVersion") {
		t.Errorf("no server: %v", err)
	}
	if _, m, err := ParseServerVersion(`{"serverVersion":{"minor":"33+","gitVersion":"v1.33.2-eks"}}`); err != nil || m != 33 {
		t.Errorf("33+: %d %v", m, err)
	}
}

func TestPrecheck(t *testing.T) {
	apis := ParseAPIVersions(strings.Join(RequiredAPIs, "\n") + "\nv1\n")
	ours := Istiod{Namespace: SystemNamespace, Name: "istiod", Release: "istiod", ReleaseNamespace: SystemNamespace}
	good := ClusterFacts{ServerVersion: "v1.34.4", ServerMinor: 34, APIVersions: apis, Istiods: []Istiod{ours}}
	if p := Precheck("1.28.0", good); len(p) != 0 {
		t.Errorf("a fit cluster (with our own istiod) failed: %v", p)
	}
	bad := ClusterFacts{ServerVersion: "v1.29.0", ServerMinor: 29, APIVersions: apis[1:],
		Istiods: []Istiod{{Namespace: "istio-system", Name: "istiod-1-27", Revision: "1-27", Version: "1.27.3"}}}
	p := strings.Join(Precheck("1.28.0", bad), "\n")
	for _, want := range []string{"Kubernetes v1.29.0 is outside Istio 1.28.0's supported range 1.30-1.34",
		"does not serve " + RequiredAPIs[0], "deployment istio-system/istiod-1-27 (revision 1-27, not installed by Helm, image tag 1.27.3)"} {
		if !strings.Contains(p, want) {
			t.Errorf("problems lack %q:\n%s", want, p)
		}
	}
}

func TestParseIstiods(t *testing.T) {
	got, err := ParseIstiods(`{"items":[{"metadata":{"name":"istiod","namespace":"istio-system","labels":{"app":"istiod"},
	"annotations":{"meta.helm.sh/release-name":"istiod","meta.helm.sh/release-namespace":"istio-system"}},
	"spec":{"template":{"spec":{"containers":[{"name":"discovery","image":"localhost:5000/meshready/pilot:1.31-alpha.eed52ebb66ad"}]}}}}]}`)
	if err != nil || len(got) != 1 || got[0].Release != "istiod" || got[0].Version != "1.31-alpha.eed52ebb66ad" {
		t.Errorf("got %+v %v", got, err)
	}
}

// TestUninjectedDeployments: only running pods of Deployments without the
// proxy are restarted; injected ones, opted-out ones, bare pods and
// finished Jobs are not.
func TestUninjectedDeployments(t *testing.T) {
	pod := func(owner, hash, phase string, containers ...string) string {
		var cs []string
		for _, c := range containers {
			cs = append(cs, `{"name":"`+c+`"}`)
		}
		return `{"metadata":{"labels":{"pod-template-hash":"` + hash + `"},"ownerReferences":[{"kind":"ReplicaSet","name":"` + owner + `"}]},
		"spec":{"containers":[` + strings.Join(cs, ",") + `]},"status":{"phase":"` + phase + `"}}`
	}
	list := `{"items":[` + strings.Join([]string{
		pod("web-7d9f8b6c5d", "7d9f8b6c5d", "Running", "web"),
		pod("web-7d9f8b6c5d", "7d9f8b6c5d", "Running", "web"),
		pod("api-5f6d7c8b9a", "5f6d7c8b9a", "Running", "api", ProxyContainer),
		pod("batch-x", "", "Succeeded", "job"),
		pod("db-66b8f9c7d4", "66b8f9c7d4", "Pending", "db"),
		strings.Replace(pod("plain-5c4b3a2d1e", "5c4b3a2d1e", "Running", "client"), `"labels":{`, `"labels":{"sidecar.istio.io/inject":"false",`, 1),
	}, ",") + `]}`
	got, err := OffRevisionDeployments(list, "")
	if err != nil || strings.Join(got, ",") != "db,web" {
		t.Errorf("got %v %v, want db,web", got, err)
	}
	// With a revision, a proxy of another one (api has no istio.io/rev) is restarted too.
	if got, err = OffRevisionDeployments(list, "1-31-0"); err != nil || strings.Join(got, ",") != "api,db,web" {
		t.Errorf("got %v %v, want api,db,web", got, err)
	}
}

// TestPrecheckOnRecordedCluster reads what kubectl printed on a local
// cluster with meshready's own istiod installed (testdata/precheck): the
// cluster is fit, and the istiod there is this stack's release.
func TestPrecheckOnRecordedCluster(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("testdata/precheck/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var f ClusterFacts
	var err error
	if f.ServerVersion, f.ServerMinor, err = ParseServerVersion(read("version.json")); err != nil {
		t.Fatal(err)
	}
	f.APIVersions = ParseAPIVersions(read("api-versions.txt"))
	if f.Istiods, err = ParseIstiods(read("istiods.json")); err != nil {
		t.Fatal(err)
	}
	if len(f.Istiods) != 1 || f.Istiods[0].Release != "istiod" || f.Istiods[0].Version != "1.31-alpha.eed52ebb66ad" {
		t.Errorf("istiods %+v", f.Istiods)
	}
	if p := Precheck("1.31-alpha.eed52ebb66ad", f); len(p) != 0 {
		t.Errorf("the recorded cluster fails: %v", p)
	}
	if p := Precheck("1.28.0", f); len(p) != 0 {
		t.Errorf("1.28 supports Kubernetes 1.34: %v", p)
	}
	// The same cluster seen by another stack's mesh: our istiod is foreign there
	// only if it is not Helm's istio-system/istiod, which it is.
	f.Istiods[0].ReleaseNamespace = "other"
	if p := Precheck("1.28.0", f); len(p) != 1 || !strings.Contains(p[0], "another Istio control plane") {
		t.Errorf("foreign istiod: %v", p)
	}
}

// TestReadyPods: Ready pods only; one being deleted, or not Ready yet, is not.
func TestReadyPods(t *testing.T) {
	list := `{"items":[
	 {"metadata":{"name":"b"},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
	 {"metadata":{"name":"old","deletionTimestamp":"2026-12-01T20:00:00Z"},"status":{"conditions":[{"type":"Ready","status":"True"}]}},
	 {"metadata":{"name":"new"},"status":{"conditions":[{"type":"Ready","status":"False"}]}},
	 {"metadata":{"name":"a"},"status":{"conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"True"}]}}]}`
	got, err := ReadyPods(list)
	if err != nil || strings.Join(got, ",") != "a,b" {
		t.Errorf("ready pods %v %v, want a,b", got, err)
	}
	if _, err := ReadyPods("{"); err == nil {
		t.Error("bad JSON must be an error")
	}
}
