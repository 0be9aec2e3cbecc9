package mesh

// NodeExporterImage is node_exporter's release image, which real clusters
// pull: the release tools/node_exporter pins for the local stack (a test
// holds the two together).
const NodeExporterImage = "quay.io/prometheus/node-exporter:v1.12.1"

// EtcdMetricsDir is the node folder node_exporter's textfile collector
// reads (bootstrap's prep script writes etcd.prom there on control planes).
const EtcdMetricsDir = "/var/lib/meshready/metrics"

// NodeExporterPort is node_exporter's own default port.
const NodeExporterPort = 9100

// NodeExporter is the Prometheus addon's node_exporter: a DaemonSet in
// istio-system (beside Prometheus) on every node, control planes and
// tainted nodes too, annotated for Prometheus' pod job (Istio's addon keeps
// pods annotated prometheus.io/scrape), which labels each with its node.
// It reads the node's /proc and /sys, read-only, as nobody: the CPU
// counters (node_cpu_seconds_total{mode="steal"}, what the
// MeshreadyCPUSteal alert watches), memory, pressure.
//
// On the pod network, not the host's, unlike node_exporter's own
// manifests: its /metrics has no authentication, and on a node with only
// a public address and no firewall in front (Hetzner today) a host port
// would publish it. The price: its network counters are the pod's (the
// node's /proc/net is per network namespace). The filesystem collector is
// off: it needs the host's root mounted with propagation, which nspawn
// nodes do not share; steal does not need it.
//
// Its textfile collector reads EtcdMetricsDir: on control planes, etcd's
// disk, backend and leader series, which etcd serves on loopback only and
// host preparation copies there every 15 s (bootstrap's prep script), so
// that the etcd rules have their series without etcd's unauthenticated
// /metrics leaving the node.
func NodeExporter(image, pullPolicy string) []map[string]any {
	labels := map[string]any{"app": "node-exporter", "app.kubernetes.io/name": "node-exporter"}
	meta := map[string]any{"name": "node-exporter", "namespace": "istio-system",
		"labels": map[string]any{"app": "node-exporter", "app.kubernetes.io/name": "node-exporter", "app.kubernetes.io/managed-by": "meshready"}}
	hostPath := func(name, path string) map[string]any {
		return map[string]any{"name": name, "hostPath": map[string]any{"path": path}}
	}
	mount := func(name, path string) map[string]any {
		return map[string]any{"name": name, "mountPath": path, "readOnly": true}
	}
	return []map[string]any{{
		"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "node-exporter"}},
			"updateStrategy": map[string]any{"type": "RollingUpdate",
				"rollingUpdate": map[string]any{"maxUnavailable": 1}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels, "annotations": map[string]any{
					"prometheus.io/scrape": "true", "prometheus.io/port": "9100",
					"sidecar.istio.io/inject": "false",
				}},
				"spec": map[string]any{
					"automountServiceAccountToken": false,
					"tolerations":                  []any{map[string]any{"operator": "Exists"}},
					"securityContext": map[string]any{"runAsUser": 65534, "runAsGroup": 65534, "runAsNonRoot": true,
						"seccompProfile": map[string]any{"type": "RuntimeDefault"}},
					"containers": []any{map[string]any{
						"name": "node-exporter", "image": image, "imagePullPolicy": pullPolicy,
						"args": []any{"--path.procfs=/host/proc", "--path.sysfs=/host/sys",
							"--web.listen-address=:9100", "--no-collector.filesystem",
							"--collector.textfile.directory=/host/textfile"},
						"ports":          []any{map[string]any{"containerPort": NodeExporterPort, "name": "metrics"}},
						"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/", "port": NodeExporterPort}, "periodSeconds": 10},
						"resources": map[string]any{"requests": map[string]any{"cpu": "10m", "memory": "32Mi"},
							"limits": map[string]any{"memory": "128Mi"}},
						"securityContext": map[string]any{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
							"capabilities": map[string]any{"drop": []any{"ALL"}}},
						"volumeMounts": []any{mount("proc", "/host/proc"), mount("sys", "/host/sys"), mount("textfile", "/host/textfile")},
					}},
					"volumes": []any{hostPath("proc", "/proc"), hostPath("sys", "/sys"),
						map[string]any{"name": "textfile", "hostPath": map[string]any{"path": EtcdMetricsDir, "type": "DirectoryOrCreate"}}},
				},
			},
		},
	}}
}
