package mesh

import (
	"fmt"
	"sort"

	"github.com/meshready/meshready/config"
)

// ProbePort is the echo servers' gRPC port.
const ProbePort = 7070

// ProbeHTTPPort is the probe clients' HTTP API (mesh/probe/grpcprobe.Handler).
const ProbeHTTPPort = 8080

// ControlPort is where the echo servers also answer plaintext gRPC, out of
// the mesh's reach (no xDS, kept out of a sidecar): the mtls-strict check's
// positive control, where the same plaintext client must be answered.
const ControlPort = 7071

// ProbeTarget is what a probe client dials: the service's xDS target
// (proxyless), or its DNS name, which the pod's Envoy sidecar routes.
func ProbeTarget(service, namespace string, sidecars bool) string {
	scheme := "xds"
	if sidecars {
		scheme = "dns"
	}
	return fmt.Sprintf("%s:///%s.%s.svc.cluster.local:%d", scheme, service, namespace, ProbePort)
}

// ProbePlain is the name of a canary's plaintext client Deployment in the
// sidecar mode: a pod without a sidecar, as a client outside the mesh.
func ProbePlain(service string) string { return "meshprobe-plain-" + service }

// ConvergenceService is the second Service over a canary's echo pods, whose
// routes the convergence check owns and flips (the canary's own
// VirtualService stays as configured).
func ConvergenceService(service string) string { return "meshprobe-" + service }

// ProbeClient is the name of a canary's probe client DaemonSet (the
// convergence watchers, one per node).
func ProbeClient(service string) string { return "meshprobe-client-" + service }

// ProbeCounter is the name of a canary's split-counting client Deployment.
func ProbeCounter(service string) string { return "meshprobe-split-" + service }

// proxyless marks a pod for Istio's grpc-agent injection template: pilot-agent
// without Envoy, serving the xDS bootstrap and the workload certificates to
// the gRPC library in the app container. tlsMode tells clients the pod speaks
// mTLS (the template cannot set it: Istio leaves it to the user).
func proxyless(labels map[string]any) map[string]any {
	labels["security.istio.io/tlsMode"] = "istio"
	return map[string]any{
		"labels": labels,
		"annotations": map[string]any{
			"inject.istio.io/templates": "grpc-agent",
			"proxy.istio.io/config":     `{"holdApplicationUntilProxyStarts": true}`,
		},
	}
}

// ProbeWorkloads are the proxyless gRPC workloads of one canary entry, for
// the checks where no Envoy exists: per subset an echo Deployment answering
// with its version label, the Service the canary routes, a second Service
// over the same pods with a DestinationRule for the convergence check, a
// client on every node (DaemonSet) that calls it through xDS all the time,
// and a client that counts the canary split on demand. image is the
// meshprobe image, pullPolicy Never where it is pre-loaded.
//
// With sidecars (real clusters, Envoy) the same workloads run without the
// grpc-agent template: the servers plain gRPC behind their sidecars, the
// clients dialling DNS names that their sidecars route, the clients' HTTP
// API (port ProbeHTTPPort, reached through the API server) kept out of
// Envoy, and one more client without a sidecar for the plaintext check.
func ProbeWorkloads(cn config.Canary, mtls, image, pullPolicy string, sidecars bool) []map[string]any {
	ns, svc := cn.Namespace, cn.Service
	pod := proxyless
	if sidecars {
		pod = func(labels map[string]any) map[string]any {
			return map[string]any{"labels": labels, "annotations": map[string]any{
				"proxy.istio.io/config": `{"holdApplicationUntilProxyStarts": true}`,
				// The checks call the clients' API from the API server, which has no
				// sidecar; the control port is the plaintext check's positive control.
				"traffic.sidecar.istio.io/excludeInboundPorts": fmt.Sprintf("%d,%d", ProbeHTTPPort, ControlPort),
			}}
		}
	}
	serveArgs := func(s string) []any {
		// -drain: a restart (an Istio upgrade moving the namespace) hands
		// over between pods without failing the watchers' calls.
		a := []any{"serve", "-addr", fmt.Sprintf(":%d", ProbePort), "-version", s, "-control-addr", fmt.Sprintf(":%d", ControlPort), "-drain", "5s"}
		if sidecars {
			a = append(a, "-plain")
		}
		return a
	}
	subsets := make([]string, 0, len(cn.Subsets))
	for s := range cn.Subsets {
		subsets = append(subsets, s)
	}
	sort.Strings(subsets)
	meta := func(name string) map[string]any {
		return map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"app.kubernetes.io/managed-by": "meshready"}}
	}
	container := func(name string, args []any, port int, portName string) map[string]any {
		ports := []any{map[string]any{"containerPort": port, "name": portName}}
		if name == "echo" {
			ports = append(ports, map[string]any{"containerPort": ControlPort, "name": "control"})
		}
		return map[string]any{"name": name, "image": image, "imagePullPolicy": pullPolicy, "args": args, "ports": ports}
	}
	var out []map[string]any
	for _, s := range subsets {
		labels := map[string]any{"app": svc, "version": s}
		out = append(out, map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(svc + "-" + s),
			"spec": map[string]any{
				"replicas": 1,
				"selector": map[string]any{"matchLabels": map[string]any{"app": svc, "version": s}},
				"template": map[string]any{
					"metadata": pod(labels),
					"spec":     map[string]any{"containers": []any{container("echo", serveArgs(s), ProbePort, "grpc")}},
				},
			},
		})
	}
	service := func(name string) map[string]any {
		return map[string]any{
			"apiVersion": "v1", "kind": "Service", "metadata": meta(name),
			"spec": map[string]any{"selector": map[string]any{"app": svc},
				"ports": []any{
					map[string]any{"name": "grpc", "port": ProbePort, "targetPort": ProbePort, "appProtocol": "grpc"},
					map[string]any{"name": "tcp-control", "port": ControlPort, "targetPort": ControlPort},
				}},
		}
	}
	out = append(out, service(svc), service(ConvergenceService(svc)))
	conv := ConvergenceService(svc)
	var dsubsets []any
	for _, s := range subsets {
		dsubsets = append(dsubsets, map[string]any{"name": s, "labels": map[string]any{"version": s}})
	}
	rule := map[string]any{"host": Host(conv, ns), "subsets": dsubsets}
	if mtls == "STRICT" { // as Canary: proxyless clients need ISTIO_MUTUAL said
		rule["trafficPolicy"] = map[string]any{"tls": map[string]any{"mode": "ISTIO_MUTUAL"}}
	}
	out = append(out, map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": meta(conv), "spec": rule,
	})
	client := ProbeClient(svc)
	out = append(out, map[string]any{
		"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta(client),
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": client}},
			"template": map[string]any{
				"metadata": pod(map[string]any{"app": client}),
				"spec": map[string]any{
					// On control planes too: the method wants a client on each node.
					"tolerations": []any{map[string]any{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}},
					"containers": []any{container("client", []any{"client", "-watch", ProbeTarget(conv, ns, sidecars),
						"-listen", fmt.Sprintf(":%d", ProbeHTTPPort), "-rate", "100"}, ProbeHTTPPort, "http")},
				},
			},
		},
	})
	// The split is counted by a pod of its own: pilot-agent proxies one xDS
	// stream per pod, and a gRPC client opens one per target.
	// A client Deployment calling the canary's service on demand.
	caller := func(name string, podMeta map[string]any) map[string]any {
		return map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name),
			"spec": map[string]any{
				"replicas": 1,
				"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
				"template": map[string]any{
					"metadata": podMeta,
					"spec": map[string]any{"containers": []any{container("client", []any{"client", "-target", ProbeTarget(svc, ns, sidecars),
						"-listen", fmt.Sprintf(":%d", ProbeHTTPPort)}, ProbeHTTPPort, "http")}},
				},
			},
		}
	}
	counter := ProbeCounter(svc)
	out = append(out, caller(counter, pod(map[string]any{"app": counter})))
	if sidecars {
		plain := ProbePlain(svc)
		out = append(out, caller(plain, map[string]any{"labels": map[string]any{"app": plain, injectOptOut: "false"}}))
	}
	return out
}

// ConvergenceRoute is the convergence Service's VirtualService sending all
// traffic to subset to (the check applies it, flipping between two subsets).
func ConvergenceRoute(service, namespace, to string) map[string]any {
	host := fmt.Sprintf("%s.%s.svc.cluster.local", ConvergenceService(service), namespace)
	return map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
		"metadata": map[string]any{"name": ConvergenceService(service), "namespace": namespace,
			"labels": map[string]any{"app.kubernetes.io/managed-by": "meshready-checks"}},
		"spec": map[string]any{"hosts": []any{host}, "http": []any{map[string]any{"route": []any{
			map[string]any{"destination": map[string]any{"host": host, "subset": to}, "weight": 100}}}}},
	}
}
