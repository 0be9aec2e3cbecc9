package mesh

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/meshready/meshready/kube"
)

// Preflight runs what `istioctl x precheck` checks that matters here
// (Precheck) against the cluster, and returns its Kubernetes version. Any
// problem is an error listing them all, before any chart is installed.
func Preflight(ctx context.Context, k kube.Kubectl, istioVersion string) (string, error) {
	f, err := clusterFacts(ctx, k)
	if err != nil {
		return "", fmt.Errorf("mesh preflight: %w", err)
	}
	if problems := Precheck(istioVersion, f); len(problems) > 0 {
		return "", fmt.Errorf("mesh precheck on %s failed; nothing of Istio was installed:\n  - %s", k.Host(), strings.Join(problems, "\n  - "))
	}
	return f.ServerVersion, nil
}

// clusterFacts runs the precheck's three kubectl queries.
func clusterFacts(ctx context.Context, k kube.Kubectl) (ClusterFacts, error) {
	var f ClusterFacts
	out, err := k.Run(ctx, "version", "-o", "json")
	if err != nil {
		return f, err
	}
	if f.ServerVersion, f.ServerMinor, err = ParseServerVersion(out); err != nil {
		return f, err
	}
	if out, err = k.Run(ctx, "api-versions"); err != nil {
		return f, err
	}
	f.APIVersions = ParseAPIVersions(out)
	if out, err = k.Run(ctx, "get", "deployments", "--all-namespaces", "-l", "app=istiod", "-o", "json"); err != nil {
		return f, err
	}
	f.Istiods, err = ParseIstiods(out)
	return f, err
}

// dnsSubdomain is what Kubernetes allows as a Deployment's name (RFC 1123).
var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// LeaveMesh takes namespace out of the mesh: its injection labels go (the
// revision tag's, and the older istio-injection), the namespace and its
// workloads stay (they are the user's, whether meshready made the namespace
// or found it). A namespace already gone is fine.
func LeaveMesh(ctx context.Context, k kube.Kubectl, namespace string) error {
	_, err := k.Run(ctx, "label", "namespace", namespace, RevisionLabel+"-", InjectionLabel+"-")
	if err != nil && strings.Contains(err.Error(), "NotFound") {
		return nil // kubectl label has no --ignore-not-found
	}
	if err != nil {
		return fmt.Errorf("namespace %s: remove %s and %s: %w", namespace, RevisionLabel, InjectionLabel, err)
	}
	return nil
}
