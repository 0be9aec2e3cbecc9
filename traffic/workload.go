package traffic

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"

	"github.com/meshready/meshready/kube"
)

// Namespace holds the workload the load is sent to while the cluster changes.
const Namespace = "meshready-traffic"

// Port and Path are where the workload answers: CoreDNS's health endpoint.
const (
	Port = 8080
	Path = "/health"
)

// Workload is the Service the load goes to: two replicas on different
// nodes where there are two, a PodDisruptionBudget that keeps one
// available through every drain, and readiness from CoreDNS's own ready
// endpoint. It is CoreDNS, image the one the cluster runs in kube-system:
// the one server image every kubeadm cluster has (the local stack's nodes
// are air-gapped, and nothing else of the bundle serves HTTP). Its health
// plugin keeps answering for a lameduck of 15 s after SIGTERM, while the
// endpoints and every node's kube-proxy drop the pod, so that a drained
// replica stops getting connections before it stops answering. 5 s was
// not enough on a busy host: in 2 of about 8 runs of the day-2 walk
// (beside another cluster, or a build) connections timed out for 4.7 and
// 8.4 s after a drain's SIGTERM, the nodes' kube-proxy still sending to
// the pod that had stopped.
func Workload(image string) ([]byte, error) {
	if image == "" || strings.ContainsAny(image, " \t\n\"'") {
		return nil, fmt.Errorf("traffic workload: image %q", image)
	}
	meta := func(name string) map[string]any {
		return map[string]any{"name": name, "namespace": Namespace, "labels": map[string]any{"app.kubernetes.io/managed-by": "meshready"}}
	}
	labels := map[string]any{"app": "echo"}
	corefile := fmt.Sprintf(".:5353 {\n    whoami\n    health :%d {\n        lameduck 15s\n    }\n    ready :8181\n}\n", Port)
	list := map[string]any{
		"apiVersion": "v1", "kind": "List",
		"items": []any{
			map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": Namespace,
				"labels": map[string]any{"app.kubernetes.io/managed-by": "meshready"}}},
			map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("echo"), "data": map[string]any{"Corefile": corefile}},
			map[string]any{
				"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("echo"),
				"spec": map[string]any{
					"replicas": 2,
					"selector": map[string]any{"matchLabels": labels},
					"strategy": map[string]any{"rollingUpdate": map[string]any{"maxUnavailable": 0}},
					"template": map[string]any{
						"metadata": map[string]any{"labels": labels},
						"spec": map[string]any{
							"affinity": map[string]any{"podAntiAffinity": map[string]any{
								"preferredDuringSchedulingIgnoredDuringExecution": []any{map[string]any{
									"weight": 100,
									"podAffinityTerm": map[string]any{
										"labelSelector": map[string]any{"matchLabels": labels},
										"topologyKey":   "kubernetes.io/hostname",
									},
								}},
							}},
							"terminationGracePeriodSeconds": 30,
							"containers": []any{map[string]any{
								"name": "echo", "image": image, "imagePullPolicy": "IfNotPresent",
								"args":  []any{"-conf", "/etc/coredns/Corefile"},
								"ports": []any{map[string]any{"containerPort": Port, "name": "http"}},
								"readinessProbe": map[string]any{
									"httpGet":       map[string]any{"path": "/ready", "port": 8181},
									"periodSeconds": 2,
								},
								"volumeMounts": []any{map[string]any{"name": "config", "mountPath": "/etc/coredns", "readOnly": true}},
								"securityContext": map[string]any{
									"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
									"capabilities": map[string]any{"drop": []any{"ALL"}},
								},
							}},
							"volumes": []any{map[string]any{"name": "config", "configMap": map[string]any{"name": "echo"}}},
						},
					},
				},
			},
			map[string]any{
				"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta("echo"),
				"spec": map[string]any{"minAvailable": 1, "selector": map[string]any{"matchLabels": labels}},
			},
			map[string]any{
				"apiVersion": "v1", "kind": "Service", "metadata": meta("echo"),
				"spec": map[string]any{"selector": labels,
					"ports": []any{map[string]any{"name": "http", "port": Port, "targetPort": Port}}},
			},
		},
	}
	return json.MarshalIndent(list, "", "  ")
}

// Deploy applies the Workload with the cluster's CoreDNS image, waits for
// both replicas, and returns the Service's ClusterIP:port.
func Deploy(ctx context.Context, k kube.Kubectl) (string, error) {
	image, err := k.Run(ctx, "-n", "kube-system", "get", "deployment", "coredns", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	if err != nil {
		return "", fmt.Errorf("traffic workload: the cluster's CoreDNS image: %w", err)
	}
	manifest, err := Workload(strings.TrimSpace(image))
	if err != nil {
		return "", err
	}
	if err := k.Apply(ctx, manifest); err != nil {
		return "", fmt.Errorf("traffic workload: %w", err)
	}
	if _, err := k.Run(ctx, "-n", Namespace, "rollout", "status", "deployment/echo", "--timeout=3m"); err != nil {
		return "", fmt.Errorf("traffic workload: %w", err)
	}
	ip, err := k.Run(ctx, "-n", Namespace, "get", "service", "echo", "-o", "jsonpath={.spec.clusterIP}")
	if err != nil {
		return "", fmt.Errorf("traffic workload: %w", err)
	}
	ip = strings.TrimSpace(ip)
	if net.ParseIP(ip) == nil {
		return "", fmt.Errorf("traffic workload: the Service's ClusterIP is %q", ip)
	}
	return net.JoinHostPort(ip, fmt.Sprint(Port)), nil
}

// Remove deletes the workload (without waiting for its pods to end).
func Remove(ctx context.Context, k kube.Kubectl) error {
	_, err := k.Run(ctx, "delete", "namespace", Namespace, "--ignore-not-found", "--wait=false")
	return err
}
