package mesh

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ClusterFacts are what the precheck reads from a cluster (kubectl on a
// control plane): its version, its API groups and any istiod already there.
type ClusterFacts struct {
	// ServerVersion is the API server's gitVersion, e.g. v1.34.4.
	ServerVersion string
	// ServerMinor is its minor version number.
	ServerMinor int
	// APIVersions are group/version pairs the API server serves (kubectl api-versions).
	APIVersions []string
	// Istiods are the istiod Deployments found in any namespace.
	Istiods []Istiod
}

// Istiod is an istiod Deployment and the Helm release that owns it, if any.
type Istiod struct {
	Namespace, Name string
	// Release and ReleaseNamespace come from Helm's ownership annotations.
	Release, ReleaseNamespace string
	// Revision is the istio.io/rev label ("" or "default" for the default revision).
	Revision string
	Version  string // the image tag
}

// RequiredAPIs are the API groups Istio's charts and meshready's objects need
// (what `istioctl x precheck` checks that matters here): CRDs, admission
// webhooks for injection and validation, certificates for istiod's CA.
var RequiredAPIs = []string{
	"apiextensions.k8s.io/v1",
	"admissionregistration.k8s.io/v1",
	"apps/v1",
	"rbac.authorization.k8s.io/v1",
	"certificates.k8s.io/v1",
	"policy/v1",
}

// Precheck says what stops Istio version istio from being installed on the
// cluster (nil when nothing does): a Kubernetes minor outside the release's
// support window, a missing API group, an istiod that is not this stack's
// release (istiod in istio-system, the one meshready installs).
func Precheck(istio string, f ClusterFacts) []string {
	var problems []string
	if ok, window, err := KubernetesSupported(istio, f.ServerMinor); err != nil {
		problems = append(problems, err.Error())
	} else if !ok {
		problems = append(problems, fmt.Sprintf("Kubernetes %s is outside Istio %s's supported range %s", f.ServerVersion, istio, window))
	}
	for _, api := range RequiredAPIs {
		if !slices.Contains(f.APIVersions, api) {
			problems = append(problems, fmt.Sprintf("the API server does not serve %s, which Istio needs", api))
		}
	}
	for _, d := range f.Istiods {
		// Ours, from an earlier up: istiod (before revisions) or istiod-<revision>.
		if (d.Release == "istiod" || strings.HasPrefix(d.Release, "istiod-") && d.Release == "istiod-"+d.Revision) &&
			d.ReleaseNamespace == SystemNamespace && d.Namespace == SystemNamespace {
			continue
		}
		owner := "not installed by Helm"
		if d.Release != "" {
			owner = fmt.Sprintf("Helm release %s/%s", d.ReleaseNamespace, d.Release)
		}
		rev := d.Revision
		if rev == "" {
			rev = "default"
		}
		problems = append(problems, fmt.Sprintf("another Istio control plane runs here: deployment %s/%s (revision %s, %s, image tag %s); "+
			"remove it or install meshready's mesh on another cluster", d.Namespace, d.Name, rev, owner, d.Version))
	}
	return problems
}

// ParseServerVersion reads `kubectl version -o json`.
func ParseServerVersion(out string) (gitVersion string, minor int, err error) {
	var v struct {
		ServerVersion *struct {
			Minor      string `json:"minor"`
			GitVersion string `json:"gitVersion"`
		} `json:"serverVersion"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return "", 0, fmt.Errorf("kubectl version: %w", err)
	}
	if v.ServerVersion == nil {
		return "", 0, fmt.Errorf("kubectl version: no serverVersion (API server not reached?)")
	}
	// Some distributions report the minor as "34+".
	m, err := strconv.Atoi(strings.TrimRight(v.ServerVersion.Minor, "+"))
	if err != nil {
		return "", 0, fmt.Errorf("kubectl version: minor %q: %w", v.ServerVersion.Minor, err)
	}
	return v.ServerVersion.GitVersion, m, nil
}

// ParseAPIVersions reads `kubectl api-versions`: one group/version a line.
func ParseAPIVersions(out string) []string {
	return strings.Fields(out)
}

// ParseIstiods reads `kubectl get deployments -A -l app=istiod -o json`.
func ParseIstiods(out string) ([]Istiod, error) {
	var list struct {
		Items []struct {
			Metadata struct {
				Name        string            `json:"name"`
				Namespace   string            `json:"namespace"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Name  string `json:"name"`
							Image string `json:"image"`
						} `json:"containers"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("istiod deployments: %w", err)
	}
	var out2 []Istiod
	for _, it := range list.Items {
		m := it.Metadata
		d := Istiod{Namespace: m.Namespace, Name: m.Name, Revision: m.Labels["istio.io/rev"],
			Release: m.Annotations["meta.helm.sh/release-name"], ReleaseNamespace: m.Annotations["meta.helm.sh/release-namespace"]}
		for _, c := range it.Spec.Template.Spec.Containers {
			if c.Name == "discovery" {
				if i := strings.LastIndex(c.Image, ":"); i > 0 && !strings.Contains(c.Image[i:], "/") {
					d.Version = c.Image[i+1:]
				}
			}
		}
		out2 = append(out2, d)
	}
	return out2, nil
}
