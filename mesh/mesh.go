// Package mesh renders what meshready asks of Istio: the Helm releases and
// their values, the injected namespaces, PeerAuthentication policies and the
// canary DestinationRule/VirtualService pairs. Everything here is pure; the
// Pulumi components in package stacks turn it into pulumi-kubernetes
// resources, and golden tests pin the objects.
package mesh

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/meshready/meshready/config"
)

// SystemNamespace is where istiod and the mesh-wide policy live.
const SystemNamespace = "istio-system"

// Object is a Kubernetes object as pulumi-kubernetes' CustomResource takes it.
type Object struct {
	APIVersion string         `json:"apiVersion" yaml:"apiVersion"`
	Kind       string         `json:"kind" yaml:"kind"`
	Name       string         `json:"-" yaml:"-"`
	Namespace  string         `json:"-" yaml:"-"`
	Spec       map[string]any `json:"spec" yaml:"spec"`
}

// Namespace is an injected namespace: its name and labels.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// Namespaces are the namespaces whose pods get sidecars: labelled
// istio.io/rev=stable, the revision tag that points at the revision of
// istio.version (Istio's stable revision labels), so that an upgrade moves
// the tag and restarts workloads, and never relabels a user's namespace;
// those of an Istio canary istio.io/rev=canary, its own tag.
func Namespaces(c config.Istio) []Namespace {
	var out []Namespace
	for _, ns := range c.InjectNamespaces {
		out = append(out, Namespace{Name: ns, Labels: map[string]string{RevisionLabel: NamespaceTag(c, ns)}})
	}
	return out
}

// NamespaceTag is the revision tag a namespace follows: canary when the
// Istio canary lists it, else stable.
func NamespaceTag(c config.Istio, namespace string) string {
	if c.Canary.Version != "" && slices.Contains(c.Canary.Namespaces, namespace) {
		return CanaryTag
	}
	return StableTag
}

// InjectionLabel is Istio's older per-namespace switch (istio-injection=
// enabled), which only a default revision serves: meshready's namespaces no
// longer carry it, and a namespace leaving the mesh loses it too.
const InjectionLabel = "istio-injection"

// RevisionLabel picks an istiod revision, or a tag of one, as a namespace's
// label; as a pod's annotation, the injector writes the revision that
// injected it (files/injection-template.yaml and grpc-agent.yaml).
const RevisionLabel = "istio.io/rev"

// StableTag is the revision tag of the injected namespaces; CanaryTag
// that of the namespaces an Istio canary moves.
const (
	StableTag = "stable"
	CanaryTag = "canary"
)

// revisionChars are what Istio's revision names may not have (they name
// Kubernetes objects and label values).
var revisionChars = regexp.MustCompile(`[^a-z0-9]+`)

// Revision is the istiod revision an Istio version installs as, as Istio's
// docs name them: 1.28.0 → 1-28-0, the snapshot 1.31-alpha.<commit> →
// 1-31-alpha-<commit>. It is a label value and a suffix of the istiod
// Service's name, so at most 63 - len("istiod-") characters.
func Revision(version string) (string, error) {
	r := strings.Trim(revisionChars.ReplaceAllString(strings.ToLower(version), "-"), "-")
	if r == "" || len(r) > 56 {
		return "", fmt.Errorf("istio version %q makes no revision name (1 to 56 letters, digits and dashes)", version)
	}
	return r, nil
}

// RevisionTag renders the MutatingWebhookConfiguration of a revision tag:
// pods of namespaces labelled istio.io/rev=<tag> (or pods labelled so) are
// injected by istiod revision rev. It is what istioctl tag set and the
// istiod chart's revision-tags-mwc.yaml write (the same webhooks and
// selectors); meshready writes it itself because both revisions' releases
// exist while a tag moves, and a Helm release cannot hand an object to
// another. istiod patches its CA into it (it carries istio.io/rev=<rev>).
func RevisionTag(tag, rev string) map[string]any {
	hook := func(prefix string, selector string) map[string]any {
		match := []any{map[string]any{"key": RevisionLabel, "operator": "In", "values": []any{tag}}}
		h := map[string]any{
			"name": prefix + "sidecar-injector.istio.io",
			"clientConfig": map[string]any{"service": map[string]any{
				"name": "istiod-" + rev, "namespace": SystemNamespace, "path": "/inject", "port": 443}},
			"sideEffects":             "None",
			"rules":                   []any{map[string]any{"operations": []any{"CREATE"}, "apiGroups": []any{""}, "apiVersions": []any{"v1"}, "resources": []any{"pods"}}},
			"failurePolicy":           "Fail",
			"reinvocationPolicy":      "Never",
			"admissionReviewVersions": []any{"v1"},
		}
		optOut := map[string]any{"key": injectOptOut, "operator": "NotIn", "values": []any{"false"}}
		if selector == "namespace" {
			h["namespaceSelector"] = map[string]any{"matchExpressions": append(match,
				map[string]any{"key": InjectionLabel, "operator": "DoesNotExist"})}
			h["objectSelector"] = map[string]any{"matchExpressions": []any{optOut}}
		} else {
			h["namespaceSelector"] = map[string]any{"matchExpressions": []any{
				map[string]any{"key": RevisionLabel, "operator": "DoesNotExist"},
				map[string]any{"key": InjectionLabel, "operator": "DoesNotExist"}}}
			h["objectSelector"] = map[string]any{"matchExpressions": append(match, optOut)}
		}
		return h
	}
	return map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
		"metadata": map[string]any{"name": "istio-revision-tag-" + tag, "labels": map[string]any{
			"istio.io/tag": tag, RevisionLabel: rev, "app": "sidecar-injector", "app.kubernetes.io/managed-by": "meshready"}},
		"webhooks": []any{hook("rev.namespace.", "namespace"), hook("rev.object.", "object")},
	}
}

// DefaultValidator renders the validation webhook for Istio resources
// that name no revision (istiod-default-validator), served by revision rev:
// what Istio's base chart writes for its defaultRevision. meshready writes
// it itself, after rev's istiod, because the base chart (the CRDs) is
// upgraded before the new istiod exists: given the new defaultRevision, it
// would point the webhook at a service with nothing behind it yet, and
// keep the Fail policy the old istiod had set, so every Istio resource
// written until the new istiod answered (a route, a user's apply) would be
// refused. Written with Ignore, as the chart installs it; rev's istiod
// patches in its CA and sets Fail once its webhook answers (it watches
// webhooks labelled istio.io/rev=<rev>). patchForce takes the policy back
// from istiod when the webhook moves to another revision.
func DefaultValidator(rev string) map[string]any {
	return map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
		"metadata": map[string]any{
			"name": "istiod-default-validator",
			"labels": map[string]any{"app": "istiod", "istio": "istiod", RevisionLabel: rev,
				"app.kubernetes.io/name": "istiod", "app.kubernetes.io/managed-by": "meshready"},
			"annotations": map[string]any{"pulumi.com/patchForce": "true"},
		},
		"webhooks": []any{map[string]any{
			"name": "validation.istio.io",
			"clientConfig": map[string]any{"service": map[string]any{
				"name": "istiod-" + rev, "namespace": SystemNamespace, "path": "/validate"}},
			"rules": []any{map[string]any{
				"operations":  []any{"CREATE", "UPDATE"},
				"apiGroups":   []any{"security.istio.io", "networking.istio.io", "telemetry.istio.io", "extensions.istio.io"},
				"apiVersions": []any{"*"}, "resources": []any{"*"}}},
			"failurePolicy":           "Ignore",
			"sideEffects":             "None",
			"admissionReviewVersions": []any{"v1"},
		}},
	}
}

// PeerAuthentications: the mesh-wide mode in istio-system, then one per
// namespace whose mode differs from it (a namespace policy wins over the
// mesh's, so PERMISSIVE there keeps plaintext clients working during a move
// to STRICT).
func PeerAuthentications(c config.Istio) []Object {
	pa := func(ns, mode string) Object {
		return Object{APIVersion: "security.istio.io/v1", Kind: "PeerAuthentication", Name: "default", Namespace: ns,
			Spec: map[string]any{"mtls": map[string]any{"mode": mode}}}
	}
	out := []Object{pa(SystemNamespace, c.MTLS)}
	names := make([]string, 0, len(c.NamespaceMTLS))
	for ns := range c.NamespaceMTLS {
		names = append(names, ns)
	}
	sort.Strings(names)
	for _, ns := range names {
		if mode := c.NamespaceMTLS[ns]; mode != c.MTLS {
			out = append(out, pa(ns, mode))
		}
	}
	return out
}

// Host is a service's in-cluster name, as routes and rules name it.
func Host(service, namespace string) string {
	return service + "." + namespace + ".svc.cluster.local"
}

// Canary renders one split: a DestinationRule with a subset per version
// (pods labelled version=<subset>) and a VirtualService sending each subset
// its weight. Subsets are sorted, so a config re-read in another order
// renders the same objects (and up changes nothing). With mtls STRICT (the
// mode in force in the namespace) the rule says ISTIO_MUTUAL: what Istio's
// auto mTLS picks for sidecars anyway, and what proxyless gRPC clients need
// spelled out (they have no auto mTLS; Istio's proxyless gRPC notes).
func Canary(cn config.Canary, mtls string) (rule, route Object, err error) {
	if len(cn.Subsets) == 0 {
		return rule, route, fmt.Errorf("canary %s/%s: no subsets", cn.Namespace, cn.Service)
	}
	names := make([]string, 0, len(cn.Subsets))
	sum := 0
	for n, w := range cn.Subsets {
		names = append(names, n)
		sum += w
	}
	if sum != 100 {
		return rule, route, fmt.Errorf("canary %s/%s: weights sum to %d, want 100", cn.Namespace, cn.Service, sum)
	}
	sort.Strings(names)
	host := Host(cn.Service, cn.Namespace)
	var subsets, dests []any
	for _, n := range names {
		subsets = append(subsets, map[string]any{"name": n, "labels": map[string]any{"version": n}})
		dests = append(dests, map[string]any{"destination": map[string]any{"host": host, "subset": n}, "weight": cn.Subsets[n]})
	}
	rule = Object{APIVersion: "networking.istio.io/v1", Kind: "DestinationRule", Name: cn.Service, Namespace: cn.Namespace,
		Spec: map[string]any{"host": host, "subsets": subsets}}
	if mtls == "STRICT" {
		rule.Spec["trafficPolicy"] = map[string]any{"tls": map[string]any{"mode": "ISTIO_MUTUAL"}}
	}
	route = Object{APIVersion: "networking.istio.io/v1", Kind: "VirtualService", Name: cn.Service, Namespace: cn.Namespace,
		Spec: map[string]any{"hosts": []any{host}, "http": []any{map[string]any{"route": dests}}}}
	return rule, route, nil
}

// NamespaceMTLS is the PeerAuthentication mode in force in a namespace.
func NamespaceMTLS(c config.Istio, namespace string) string {
	if m, ok := c.NamespaceMTLS[namespace]; ok {
		return m
	}
	return c.MTLS
}

// Chart is a Helm chart to install: from a repository (real clusters) or a
// local path (the charts inside the istio.io/istio module, offline).
type Chart struct {
	Release, Chart, Namespace string
	// Repo and Version name the chart in a repository; both empty for a path.
	Repo, Version string
	Values        map[string]any
}

// Source says where Istio's charts and images come from. The zero Source
// installs from c.ChartRepository with upstream's images (real clusters).
type Source struct {
	// Charts is the folder of Istio's manifests/charts for local installs.
	Charts string
	// Hub and Tag name the images as the charts take them (global.hub, global.tag).
	Hub, Tag string
	// PullPolicy is Never where images are pre-loaded (air-gapped).
	PullPolicy string
	// Pilot and Proxy override the image names of istiod (pilot.image) and of
	// the injected container (global.proxy.image).
	Pilot, Proxy string
}

// Charts are the releases, in install order: base (the CRDs; without its
// default validation webhook: see DefaultValidator), istiod as revision
// rev (release istiod-<rev>), and the ingress gateway when asked for.
func Charts(c config.Istio, src Source, rev string) []Chart {
	global := map[string]any{}
	for k, v := range map[string]string{"hub": src.Hub, "tag": src.Tag, "imagePullPolicy": src.PullPolicy} {
		if v != "" {
			global[k] = v
		}
	}
	if src.Proxy != "" {
		global["proxy"] = map[string]any{"image": src.Proxy}
	}
	ref := func(name, path string) (string, string, string) {
		if src.Charts != "" {
			return src.Charts + "/" + path, "", ""
		}
		return name, c.ChartRepository, c.Version
	}
	mk := func(release, name, path, ns string, values map[string]any) Chart {
		chart, repo, version := ref(name, path)
		if len(global) > 0 {
			values["global"] = maps.Clone(global)
		}
		return Chart{Release: release, Chart: chart, Namespace: ns, Repo: repo, Version: version, Values: values}
	}
	istiod := map[string]any{
		// Sidecars hold outbound traffic until their proxy is ready, so an
		// app never starts talking before the mesh can carry it.
		"meshConfig": map[string]any{"defaultConfig": map[string]any{"holdApplicationUntilProxyStarts": true}},
	}
	// The charts' defaults are istioctl's default profile, and the charts
	// know no "default" or "minimal" file (files/profile-*.yaml; the chart
	// fails on an unknown one): minimal is base + istiod without a gateway,
	// which is what these releases are unless ingressGateway is set.
	if c.Profile != "default" && c.Profile != "minimal" {
		istiod["profile"] = c.Profile
	}
	istiod["revision"] = rev
	pilot := map[string]any{}
	if src.Pilot != "" {
		pilot["image"] = src.Pilot
	}
	if len(pilot) > 0 {
		istiod["pilot"] = pilot
	}
	out := []Chart{
		mk("istio-base", "base", "base", SystemNamespace, map[string]any{"defaultRevision": ""}),
		mk("istiod-"+rev, "istiod", "istio-control/istio-discovery", SystemNamespace, istiod),
	}
	if c.IngressGateway {
		// The gateway's pods follow the stable tag (an upgrade restarts them).
		out = append(out, mk("istio-ingressgateway", "gateway", "gateway", "istio-ingress", map[string]any{"revision": StableTag}))
	}
	return out
}

// CanaryCharts are the releases of an Istio canary (config.IstioCanary):
// Charts of the stable revision, with base (the CRDs) from the canary's
// source, as Istio's canary upgrade installs the new CRDs first (they are
// backwards compatible), and the canary's istiod (release istiod-<canary>)
// after the stable one.
func CanaryCharts(c config.Istio, stable Source, stableRev string, canary Source, canaryRev string) []Chart {
	out := Charts(c, stable, stableRev)
	cc := c
	cc.Version = c.Canary.Version
	can := Charts(cc, canary, canaryRev)
	out[0] = can[0]
	return slices.Insert(out, 2, can[1])
}

// supportWindow is each Istio minor's supported Kubernetes minors, as
// Istio's "Support status of Istio releases" table gives them
// (istio.io/latest/docs/releases/supported-releases; the ranges also listed by
// Solo's tested-versions page, 2026-02). Precheck refuses a cluster outside
// the window rather than half-install a mesh upstream never tested there.
// 1.31 has no release yet: the local stack runs its development snapshot
// (the only istio.io/istio in the module proxy), whose istioctl sets
// MinK8SVersion = 32 (istioctl/pkg/install/k8sversion); no upper bound is
// published for it, so 0 means none.
func supportWindow(istioMinor string) ([2]int, bool) {
	switch istioMinor {
	case "1.25", "1.26":
		return [2]int{29, 32}, true
	case "1.27":
		return [2]int{30, 33}, true
	case "1.28":
		return [2]int{30, 34}, true
	case "1.29":
		return [2]int{30, 35}, true
	case "1.31":
		return [2]int{32, 0}, true
	}
	return [2]int{}, false
}

// knownIstio lists the minors supportWindow knows, for errors.
const knownIstio = "1.25 to 1.29, and the 1.31 development snapshot"

// istioMinor matches the MAJOR.MINOR a release (1.28.0) or a development
// build (1.31-alpha.<commit>, Istio's own name for them) starts with.
var istioMinor = regexp.MustCompile(`^(\d+)\.(\d+)[.-]`)

// KubernetesSupported says whether Istio version istio supports Kubernetes
// minor k8sMinor, and the window it checked against.
func KubernetesSupported(istio string, k8sMinor int) (bool, string, error) {
	m := istioMinor.FindStringSubmatch(istio)
	if m == nil {
		return false, "", fmt.Errorf("istio version %q", istio)
	}
	w, ok := supportWindow(m[1] + "." + m[2])
	if !ok {
		return false, "", fmt.Errorf("istio %s: meshready has no Kubernetes support window for it (knows %s)", istio, knownIstio)
	}
	if w[1] == 0 {
		return k8sMinor >= w[0], "1." + strconv.Itoa(w[0]) + " and later", nil
	}
	window := "1." + strconv.Itoa(w[0]) + "-1." + strconv.Itoa(w[1])
	return k8sMinor >= w[0] && k8sMinor <= w[1], window, nil
}
