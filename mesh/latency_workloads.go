package mesh

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/meshready/meshready/benchmarks"
)

// FortioPort is the fortio server's HTTP port (fortio's default).
const FortioPort = 8080

// LatencyVariant is one setup of the mesh latency benchmark: a namespace of
// its own with a fortio server and client in it.
type LatencyVariant struct {
	Name      string
	Namespace string
	// Sidecars says whether the namespace is injected (Envoy sidecars).
	Sidecars bool
	// Proxyless: meshprobe's gRPC echo and client in Istio's proxyless
	// mode (no Envoy: gRPC does the xDS and the mTLS itself) stand in for
	// fortio.
	Proxyless bool
	// MTLS is the namespace's PeerAuthentication mode (and the client's
	// DestinationRule TLS): STRICT or DISABLE; "" without a mesh.
	MTLS string
}

// LatencyVariants are the setups METHODS.md compares: no mesh, sidecars with
// STRICT mTLS, sidecars with mTLS disabled. Without sidecars (no Envoy, the
// local stack) only the baseline can run. With proxyless (the meshprobe
// image exists) the same load runs between proxyless gRPC pods with STRICT
// mTLS and with mTLS disabled: the cost of mTLS itself, with no proxy.
func LatencyVariants(sidecars, proxyless bool) []LatencyVariant {
	out := []LatencyVariant{{Name: benchmarks.VariantBaseline, Namespace: "meshready-latency-baseline"}}
	if sidecars {
		out = append(out,
			LatencyVariant{Name: benchmarks.VariantMTLS, Namespace: "meshready-latency-mtls", Sidecars: true, MTLS: "STRICT"},
			LatencyVariant{Name: benchmarks.VariantPlaintext, Namespace: "meshready-latency-plaintext", Sidecars: true, MTLS: "DISABLE"})
	}
	if proxyless {
		out = append(out,
			LatencyVariant{Name: benchmarks.VariantProxylessMTLS, Namespace: "meshready-latency-proxyless-mtls", Proxyless: true, MTLS: "STRICT"},
			LatencyVariant{Name: benchmarks.VariantProxylessPlaintext, Namespace: "meshready-latency-proxyless-plaintext", Proxyless: true, MTLS: "DISABLE"})
	}
	return out
}

// LatencyLabel marks the latency benchmark's namespaces, so that one
// selector finds (and deletes) what a killed run left.
const LatencyLabel = "meshready.io/latency"

// LoadServer and LoadClient are the proxyless variants' Deployments (and
// LoadServer their Service).
const (
	LoadServer = "meshprobe-server"
	LoadClient = "meshprobe-client"
)

// LatencyWorkloads are one variant's objects: its namespace (injected or
// not), for sidecar variants the namespace's PeerAuthentication and the
// server's DestinationRule with the matching client TLS, the fortio server
// (Deployment and Service) pinned to serverNode and the fortio client pinned
// to clientNode (a fortio server too, idle until the load is run in it).
// image is the fortio image, pullPolicy Never where it is pre-loaded.
func LatencyWorkloads(v LatencyVariant, image, pullPolicy, clientNode, serverNode string) []map[string]any {
	ns := v.Namespace
	labels := func(extra map[string]any) map[string]any {
		l := map[string]any{"app.kubernetes.io/managed-by": "meshready", LatencyLabel: v.Name}
		for k, x := range extra {
			l[k] = x
		}
		return l
	}
	meta := func(name string) map[string]any {
		return map[string]any{"name": name, "namespace": ns, "labels": labels(nil)}
	}
	// Injected by the stable tag's revision, as the user's namespaces.
	injection := map[string]any{InjectionLabel: "disabled"}
	if v.Sidecars || v.Proxyless {
		injection = map[string]any{RevisionLabel: StableTag}
	}
	out := []map[string]any{{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": ns, "labels": labels(injection)},
	}}
	server := "fortio-server"
	if v.Proxyless {
		server = LoadServer
	}
	if v.Sidecars || v.Proxyless {
		tls := "ISTIO_MUTUAL"
		if v.MTLS == "DISABLE" {
			tls = "DISABLE"
		}
		out = append(out,
			map[string]any{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": meta("default"),
				"spec": map[string]any{"mtls": map[string]any{"mode": v.MTLS}}},
			map[string]any{"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": meta(server),
				"spec": map[string]any{"host": Host(server, ns), "trafficPolicy": map[string]any{"tls": map[string]any{"mode": tls}}}})
	}
	if v.Proxyless {
		return append(out, proxylessLoadWorkloads(v, meta, image, pullPolicy, clientNode, serverNode)...)
	}
	deployment := func(name, node string) map[string]any {
		podLabels := map[string]any{"app": name}
		return map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name),
			"spec": map[string]any{
				"replicas": 1,
				"selector": map[string]any{"matchLabels": podLabels},
				"template": map[string]any{
					"metadata": map[string]any{"labels": podLabels, "annotations": map[string]any{
						"proxy.istio.io/config": `{"holdApplicationUntilProxyStarts": true}`}},
					"spec": map[string]any{
						"nodeSelector": map[string]any{"kubernetes.io/hostname": node},
						// Control planes may be the only nodes, or the second one.
						"tolerations": []any{map[string]any{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}},
						"containers": []any{map[string]any{
							"name": "fortio", "image": image, "imagePullPolicy": pullPolicy,
							"args":           []any{"server", "-http-port", fmt.Sprint(FortioPort)},
							"ports":          []any{map[string]any{"containerPort": FortioPort, "name": "http"}},
							"readinessProbe": map[string]any{"tcpSocket": map[string]any{"port": FortioPort}, "periodSeconds": 2},
						}},
					},
				},
			},
		}
	}
	out = append(out, deployment(server, serverNode), map[string]any{
		"apiVersion": "v1", "kind": "Service", "metadata": meta(server),
		"spec": map[string]any{"selector": map[string]any{"app": server},
			"ports": []any{map[string]any{"name": "http", "port": FortioPort, "targetPort": FortioPort, "appProtocol": "http"}}},
	}, deployment("fortio-client", clientNode))
	return out
}

// proxylessLoadWorkloads are a proxyless variant's workloads: meshprobe's echo
// server pinned to serverNode with its Service, and a meshprobe client
// pinned to clientNode that makes the load on demand (its /load), through
// xDS, so that gRPC itself does the mTLS the DestinationRule asks for.
func proxylessLoadWorkloads(v LatencyVariant, meta func(string) map[string]any, image, pullPolicy, clientNode, serverNode string) []map[string]any {
	deployment := func(name, node string, args []any, port int, portName string) map[string]any {
		return map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name),
			"spec": map[string]any{
				"replicas": 1,
				"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
				"template": map[string]any{
					"metadata": proxyless(map[string]any{"app": name}),
					"spec": map[string]any{
						"nodeSelector": map[string]any{"kubernetes.io/hostname": node},
						"tolerations":  []any{map[string]any{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}},
						"containers": []any{map[string]any{
							"name": "meshprobe", "image": image, "imagePullPolicy": pullPolicy, "args": args,
							"ports": []any{map[string]any{"containerPort": port, "name": portName}},
						}},
					},
				},
			},
		}
	}
	return []map[string]any{
		deployment(LoadServer, serverNode, []any{"serve", "-addr", fmt.Sprintf(":%d", ProbePort), "-version", v.Name}, ProbePort, "grpc"),
		{
			"apiVersion": "v1", "kind": "Service", "metadata": meta(LoadServer),
			"spec": map[string]any{"selector": map[string]any{"app": LoadServer},
				"ports": []any{map[string]any{"name": "grpc", "port": ProbePort, "targetPort": ProbePort, "appProtocol": "grpc"}}},
		},
		deployment(LoadClient, clientNode, []any{"client", "-target", ProbeTarget(LoadServer, v.Namespace, false),
			"-listen", fmt.Sprintf(":%d", ProbeHTTPPort)}, ProbeHTTPPort, "http"),
	}
}

// LoadOptions are the fortio load's knobs (METHODS.md's values by default).
type LoadOptions struct {
	QPS          int
	Connections  int
	Duration     time.Duration
	PayloadBytes int
}

// LoadCommand is the fortio load a variant's client runs against its
// server, with the JSON result on stdout (fortio logs on stderr).
func LoadCommand(v LatencyVariant, o LoadOptions) []string {
	return []string{"fortio", "load", "-qps", fmt.Sprint(o.QPS), "-c", fmt.Sprint(o.Connections),
		"-t", o.Duration.String(), "-payload-size", fmt.Sprint(o.PayloadBytes), "-uniform",
		"-p", "50,90,99,99.9", "-json", "-", serverURL(v)}
}

// WarmupCommand is one call from a variant's client to its server (fortio
// curl exits non-zero unless it gets a 200).
func WarmupCommand(v LatencyVariant) []string {
	return []string{"fortio", "curl", "-quiet", serverURL(v)}
}

func serverURL(v LatencyVariant) string {
	return fmt.Sprintf("http://%s:%d/echo", Host("fortio-server", v.Namespace), FortioPort)
}

// LatencyNodes picks the fixed nodes for fortio from `kubectl get nodes -o
// json`: two different Ready, schedulable nodes, workers first (where
// workloads run), by name, and returns their kubernetes.io/hostname labels
// (what the workloads' nodeSelector matches; the name where it is unset).
// With a single node, client and server share it (same is true).
func LatencyNodes(nodesJSON string) (client, server string, same bool, err error) {
	var list struct {
		Items []struct {
			Metadata struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				Unschedulable bool `json:"unschedulable"`
			} `json:"spec"`
			Status conditions `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(nodesJSON), &list); err != nil {
		return "", "", false, fmt.Errorf("nodes: %w", err)
	}
	var workers, planes []string
	for _, n := range list.Items {
		if !n.Status.ready() || n.Spec.Unschedulable {
			continue
		}
		host := n.Metadata.Labels["kubernetes.io/hostname"]
		if host == "" {
			host = n.Metadata.Name
		}
		if _, cp := n.Metadata.Labels["node-role.kubernetes.io/control-plane"]; cp {
			planes = append(planes, host)
		} else {
			workers = append(workers, host)
		}
	}
	slices.Sort(workers)
	slices.Sort(planes)
	all := append(workers, planes...)
	switch len(all) {
	case 0:
		return "", "", false, fmt.Errorf("no Ready, schedulable node for the latency benchmark")
	case 1:
		return all[0], all[0], true, nil
	}
	return all[0], all[1], false, nil
}
