# meshready flannel's access to the API on hel1-cp-1: a service account that may read
# Nodes and patch their status (flannel's ClusterRole), with a long-lived token.
# The kubelet's own credentials cannot list other nodes (the Node authorizer).
set -eu
kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: meshready-flannel, namespace: kube-system}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: meshready-flannel}
  rules:
  - {apiGroups: [""], resources: [nodes], verbs: [get, list, watch]}
  - {apiGroups: [""], resources: [nodes/status], verbs: [patch]}
  - {apiGroups: [""], resources: [pods], verbs: [get]}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRoleBinding
  metadata: {name: meshready-flannel}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: meshready-flannel}
  subjects:
  - {kind: ServiceAccount, name: meshready-flannel, namespace: kube-system}
- apiVersion: v1
  kind: Secret
  type: kubernetes.io/service-account-token
  metadata:
    name: meshready-flannel-token
    namespace: kube-system
    annotations: {kubernetes.io/service-account.name: meshready-flannel}
YAML
for _ in $(seq 30); do
  token=$(kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get secret meshready-flannel-token -o jsonpath='{.data.token}' 2>/dev/null || true)
  if [ -n "$token" ]; then
    echo "$token" | base64 -d
    exit 0
  fi
  sleep 1
done
echo "no token in secret kube-system/meshready-flannel-token after 30 s" >&2
exit 1
