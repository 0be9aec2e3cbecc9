# meshready kubeadm join of local-worker-1, skipped when this node already joined.
set -eu
if [ -f /etc/meshready/join.done ] && systemctl is-active -q kubelet; then
  echo "already joined"
  exit 0
fi
if [ -f /etc/kubernetes/kubelet.conf ]; then
  echo "a previous kubeadm join did not finish: resetting it" >&2
  kubeadm reset -f >/dev/null 2>&1 || true
fi
mkdir -p /etc/meshready
cat > /etc/meshready/kubeadm-join.yaml <<'YAML'
kind: JoinConfiguration
YAML
chmod 600 /etc/meshready/kubeadm-join.yaml
kubeadm join --config /etc/meshready/kubeadm-join.yaml
touch /etc/meshready/join.done
