package mesh

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// ProxyContainer is the container Istio's injector adds to a pod (Envoy, or
// pilot-agent alone in proxyless gRPC pods).
const ProxyContainer = "istio-proxy"

// injectOptOut is the pod label (or older annotation) that keeps a pod out
// of the mesh in an injected namespace.
const injectOptOut = "sidecar.istio.io/inject"

// OffRevisionDeployments are the Deployments of OffRevisionWorkloads.
func OffRevisionDeployments(podsJSON, rev string) ([]string, error) {
	d, _, err := OffRevisionWorkloads(podsJSON, rev)
	return d, err
}

// OffRevisionWorkloads reads `kubectl get pods -o json` of a namespace and
// names the workloads with a running pod that has no proxy (pods that
// started before the namespace was labelled) or, with rev set, a proxy of
// another istiod revision (pods from before an upgrade): a rollout restart
// re-creates them with the right one (Istio's injection happens only at pod
// creation, and writes the revision into the pod's istio.io/rev annotation).
// Deployments come by name; DaemonSets and StatefulSets as kind/name.
func OffRevisionWorkloads(podsJSON, rev string) (deployments, others []string, err error) {
	var list struct {
		Items []struct {
			Metadata struct {
				Labels          map[string]string `json:"labels"`
				Annotations     map[string]string `json:"annotations"`
				OwnerReferences []struct {
					Kind string `json:"kind"`
					Name string `json:"name"`
				} `json:"ownerReferences"`
			} `json:"metadata"`
			Spec struct {
				Containers []struct {
					Name string `json:"name"`
				} `json:"containers"`
				InitContainers []struct {
					Name string `json:"name"`
				} `json:"initContainers"`
			} `json:"spec"`
			Status struct {
				Phase string `json:"phase"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(podsJSON), &list); err != nil {
		return nil, nil, fmt.Errorf("pods: %w", err)
	}
	var out []string
	for _, p := range list.Items {
		if p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" {
			continue
		}
		injected := false
		for _, c := range append(p.Spec.Containers, p.Spec.InitContainers...) {
			injected = injected || c.Name == ProxyContainer // native sidecars are init containers
		}
		// A pod that opted out of injection stays out: a restart would not inject it.
		optOut := p.Metadata.Labels[injectOptOut] == "false" || p.Metadata.Annotations[injectOptOut] == "false"
		if optOut || injected && (rev == "" || p.Metadata.Annotations[RevisionLabel] == rev) {
			continue
		}
		hash := p.Metadata.Labels["pod-template-hash"]
		for _, o := range p.Metadata.OwnerReferences {
			switch {
			// A Deployment's ReplicaSet is named <deployment>-<pod-template-hash>.
			case o.Kind == "ReplicaSet" && hash != "" && strings.HasSuffix(o.Name, "-"+hash):
				if d := strings.TrimSuffix(o.Name, "-"+hash); !slices.Contains(out, d) {
					out = append(out, d)
				}
			case o.Kind == "DaemonSet" || o.Kind == "StatefulSet":
				if w := strings.ToLower(o.Kind) + "/" + o.Name; !slices.Contains(others, w) {
					others = append(others, w)
				}
			}
		}
	}
	slices.Sort(out)
	slices.Sort(others)
	return out, others, nil
}

// ReadyPods reads `kubectl get pods -o json` and names the pods that are
// Ready and not being deleted, by name: phase Running alone includes pods
// a rollout is terminating.
func ReadyPods(podsJSON string) ([]string, error) {
	var list struct {
		Items []struct {
			Metadata struct {
				Name              string  `json:"name"`
				DeletionTimestamp *string `json:"deletionTimestamp"`
			} `json:"metadata"`
			Status conditions `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(podsJSON), &list); err != nil {
		return nil, fmt.Errorf("pods: %w", err)
	}
	var out []string
	for _, p := range list.Items {
		if p.Metadata.DeletionTimestamp == nil && p.Status.ready() {
			out = append(out, p.Metadata.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// conditions is the status.conditions of a pod or node.
type conditions struct {
	Conditions []struct {
		Type, Status string
	} `json:"conditions"`
}

// ready says whether the Ready condition is True.
func (c conditions) ready() bool {
	for _, x := range c.Conditions {
		if x.Type == "Ready" && x.Status == "True" {
			return true
		}
	}
	return false
}
