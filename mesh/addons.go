package mesh

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// AddonURL is where Istio publishes an addon's manifest for a release
// (samples/addons on the release branch), for real clusters.
func AddonURL(istioVersion, addon string) (string, error) {
	m := istioMinor.FindStringSubmatch(istioVersion)
	if m == nil {
		return "", fmt.Errorf("istio version %q", istioVersion)
	}
	return fmt.Sprintf("https://raw.githubusercontent.com/istio/istio/release-%s.%s/samples/addons/%s.yaml", m[1], m[2], addon), nil
}

// Dashboard tells how to open an addon's UI from a workstation.
func Dashboard(addon string) string {
	switch addon {
	case "prometheus":
		return "kubectl -n istio-system port-forward svc/prometheus 9090:9090, then http://localhost:9090"
	case "kiali":
		return "kubectl -n istio-system port-forward svc/kiali 20001:20001, then http://localhost:20001"
	}
	return ""
}

// LocalAddon adapts one of Istio's addon manifests (multi-document YAML) to
// pre-loaded images: every container whose image repository (the reference
// without its tag) is a key of images gets the local reference and
// imagePullPolicy Never; containers named in drop are
// removed (the config reloader beside Prometheus has no image offline and
// the configuration never changes there). data sets keys of the manifest's
// ConfigMaps (Prometheus' alerting_rules.yml), and every pod template gets
// their hash as an annotation, so that a change of them rolls the pods that
// read them (nothing reloads them in place). It returns the objects as
// YAML documents, in their order. yaml.v3 keeps every field it does not touch.
func LocalAddon(manifest []byte, images map[string]string, drop []string, data map[string]string) (string, error) {
	dec := yaml.NewDecoder(bytes.NewReader(manifest))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("addon manifest: %w", err)
		}
		if doc != nil { // nil: an empty document between two ---
			docs = append(docs, doc)
		}
	}
	sum := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		fmt.Fprintf(sum, "%s\x00%s\x00", k, data[k])
	}
	set := map[string]bool{}
	for _, doc := range docs {
		if doc["kind"] != "ConfigMap" {
			continue
		}
		d, _ := doc["data"].(map[string]any)
		for k, v := range data {
			if _, ok := d[k]; ok {
				d[k], set[k] = v, true
			}
		}
	}
	for k := range data {
		if !set[k] {
			return "", fmt.Errorf("addon manifest: no ConfigMap has %s (has the pinned release changed its config?)", k)
		}
	}
	var out strings.Builder
	replaced := map[string]bool{}
	for _, doc := range docs {
		if tpl := podTemplate(doc); tpl != nil && len(data) > 0 {
			meta, _ := tpl["metadata"].(map[string]any)
			if meta == nil {
				meta = map[string]any{}
				tpl["metadata"] = meta
			}
			ann, _ := meta["annotations"].(map[string]any)
			if ann == nil {
				ann = map[string]any{}
				meta["annotations"] = ann
			}
			ann["meshready.io/config-sha256"] = hex.EncodeToString(sum.Sum(nil))
		}
		if spec := podSpec(doc); spec != nil {
			cs, _ := spec["containers"].([]any)
			var keep []any
			for _, c := range cs {
				cm, _ := c.(map[string]any)
				if cm == nil || contains(drop, fmt.Sprint(cm["name"])) {
					continue
				}
				repo := repository(fmt.Sprint(cm["image"]))
				if ref, ok := images[repo]; ok {
					replaced[repo] = true
					cm["image"], cm["imagePullPolicy"] = ref, "Never"
				}
				keep = append(keep, cm)
			}
			spec["containers"] = keep
		}
		b, err := yaml.Marshal(doc)
		if err != nil {
			return "", err
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	for from := range images {
		if !replaced[from] {
			return "", fmt.Errorf("addon manifest: no container runs %s (has the pinned release changed its image?)", from)
		}
	}
	return out.String(), nil
}

// repository is an image reference without its tag (or digest).
func repository(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

// podSpec is a Deployment's (or other workload's) pod spec, nil for other objects.
func podSpec(doc map[string]any) map[string]any {
	ps, _ := podTemplate(doc)["spec"].(map[string]any)
	return ps
}

// podTemplate is a workload's pod template, nil for other objects.
func podTemplate(doc map[string]any) map[string]any {
	spec, _ := doc["spec"].(map[string]any)
	tpl, _ := spec["template"].(map[string]any)
	return tpl
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
