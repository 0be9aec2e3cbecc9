package config

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
)

// istio checks the mesh: versions, modes, where the charts come from, the
// injected namespaces.
func (v *validator) istio(i *Istio) {
	if !semver3.MatchString(i.Version) && !istioDevBuild.MatchString(i.Version) {
		v.add("istio.version", "%q is not MAJOR.MINOR.PATCH, e.g. \"1.28.0\" (or a development build, MAJOR.MINOR-alpha.<commit>)", i.Version)
	}
	if !slices.Contains([]string{"default", "minimal", "demo"}, i.Profile) {
		v.add("istio.profile", "%q is not one of default, minimal, demo", i.Profile)
	}
	if i.Profile == "minimal" && i.IngressGateway {
		v.add("istio.ingressGateway", "the minimal profile has no ingress gateway: use the default profile")
	}
	if i.MTLS != "STRICT" && i.MTLS != "PERMISSIVE" {
		v.add("istio.mtls", "%q is not STRICT or PERMISSIVE", i.MTLS)
	}
	// Plain http would let anyone on the path swap the charts istiod runs from.
	if u, err := url.Parse(i.ChartRepository); err != nil || (u.Scheme != "https" && u.Scheme != "oci") || u.Host == "" || u.User != nil {
		v.add("istio.chartRepository", "%q is not an https:// or oci:// URL (without credentials)", i.ChartRepository)
	}
	for _, ns := range sortedKeys(i.NamespaceMTLS) {
		key := "istio.namespaceMTLS." + ns
		switch mode := i.NamespaceMTLS[ns]; {
		case mode != "STRICT" && mode != "PERMISSIVE":
			v.add(key, "%q is not STRICT or PERMISSIVE", mode)
		case !slices.Contains(i.InjectNamespaces, ns):
			v.add(key, "%q is not in meshready:istio.injectNamespaces", ns)
		}
	}
	switch c := i.Canary; {
	case c.Version == "" && len(c.Namespaces) > 0:
		v.add("istio.canary.version", "required with istio.canary.namespaces: the Istio version they move to")
	case c.Version == "":
	case !semver3.MatchString(c.Version) && !istioDevBuild.MatchString(c.Version):
		v.add("istio.canary.version", "%q is not MAJOR.MINOR.PATCH, e.g. \"1.29.0\" (or a development build, MAJOR.MINOR-alpha.<commit>)", c.Version)
	case c.Version == i.Version:
		v.add("istio.canary.version", "%q is istio.version already: a canary is another version (to promote it, set istio.version and remove istio.canary)", c.Version)
	case len(c.Namespaces) == 0:
		v.add("istio.canary.namespaces", "empty: list the injected namespaces that move to %s", c.Version)
	}
	for j, ns := range i.Canary.Namespaces {
		if !slices.Contains(i.InjectNamespaces, ns) || slices.Index(i.Canary.Namespaces, ns) != j {
			v.add(fmt.Sprintf("istio.canary.namespaces[%d]", j), "%q is not in istio.injectNamespaces, or is listed twice", ns)
		}
	}
	seen := map[string]bool{}
	for j, ns := range i.InjectNamespaces {
		key := fmt.Sprintf("istio.injectNamespaces[%d]", j)
		switch {
		case !dnsLabel.MatchString(ns):
			v.add(key, "%q is not a namespace name", ns)
		case ns == "kube-system" || ns == "istio-system" || ns == "kube-public":
			v.add(key, "%q is a system namespace: sidecars there would break the cluster or the mesh itself", ns)
		case seen[ns]:
			v.add(key, "%q is listed twice", ns)
		}
		seen[ns] = true
	}
}

func (v *validator) proxyless(c *Config) {
	key := "istio.proxylessChecks"
	switch {
	case c.Istio.ProxylessChecks && c.Istio.SidecarChecks:
		v.add("istio.sidecarChecks", "choose one: proxylessChecks (no Envoy, the local stack) or sidecarChecks (Envoy sidecars)")
		return
	case c.Istio.ProxylessChecks:
		if c.Provider != "local" {
			v.add(key, "only the local stack builds the probe's image; real clusters have Envoy sidecars: use istio.sidecarChecks")
		}
		if c.Istio.ProbeImage != "" {
			v.add("istio.probeImage", "is used only with istio.sidecarChecks (the local stack builds its own)")
		}
	case c.Istio.SidecarChecks:
		key = "istio.sidecarChecks"
		if c.Provider == "local" {
			v.add(key, "no Envoy exists offline, so the local stack cannot run sidecars: use istio.proxylessChecks")
		}
		if c.Istio.ProbeImage == "" {
			v.add("istio.probeImage", "required with sidecarChecks: the meshprobe image (meshready tools --mesh writes it as a tarball) pushed to a registry the nodes pull from")
		}
	default:
		if c.Istio.ProbeImage != "" {
			v.add("istio.probeImage", "is used only with istio.sidecarChecks")
		}
		return
	}
	if len(c.Canary) == 0 {
		v.add(key, "needs a canary entry: the checks run against the canary's services")
	}
	for i, cn := range c.Canary {
		if len(cn.Subsets) < 2 {
			v.add(fmt.Sprintf("canary[%d].subsets", i), "the mesh checks need two subsets to move traffic between")
		}
	}
}

func (v *validator) canary(c *Config) {
	seen := map[string]bool{}
	for i, cn := range c.Canary {
		key := fmt.Sprintf("canary[%d]", i)
		if !dnsLabel.MatchString(cn.Service) {
			v.add(key+".service", "%q is not a service name", cn.Service)
		}
		if !dnsLabel.MatchString(cn.Namespace) {
			v.add(key+".namespace", "%q is not a namespace name", cn.Namespace)
		} else if !slices.Contains(c.Istio.InjectNamespaces, cn.Namespace) {
			v.add(key+".namespace", "%q is not in meshready:istio.injectNamespaces: a split needs the mesh's proxies", cn.Namespace)
		}
		id := cn.Namespace + "/" + cn.Service
		if seen[id] {
			v.add(key, "%s has a second canary entry", id)
		}
		seen[id] = true
		if len(cn.Subsets) == 0 {
			v.add(key+".subsets", "required: subset name to weight, e.g. {v1: 90, v2: 10}")
			continue
		}
		sum := 0
		for _, name := range sortedKeys(cn.Subsets) {
			w := cn.Subsets[name]
			if !dnsLabel.MatchString(name) {
				v.add(key+".subsets", "%q is not a valid version label value", name)
			}
			if w < 0 || w > 100 {
				v.add(fmt.Sprintf("%s.subsets.%s", key, name), "weight %d is outside 0..100", w)
			}
			sum += w
		}
		if sum != 100 {
			v.add(key+".subsets", "weights sum to %d, want 100", sum)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (v *validator) addons(addons []string) {
	seen := map[string]bool{}
	for i, a := range addons {
		key := fmt.Sprintf("addons[%d]", i)
		switch {
		case a != "prometheus" && a != "kiali":
			v.add(key, "%q is not an addon meshready installs (prometheus, kiali)", a)
		case seen[a]:
			v.add(key, "%q is listed twice", a)
		}
		seen[a] = true
	}
	if seen["kiali"] && !seen["prometheus"] {
		v.add("addons", "kiali reads its graphs from Prometheus: add prometheus too")
	}
}
