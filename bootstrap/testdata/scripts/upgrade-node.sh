# meshready upgrade of hel1-worker-1 to Kubernetes v1.35.4: kubeadm upgrade node.
set -eu
if ! kubeadm upgrade node; then
  echo "the kubelet's last lines:" >&2
  journalctl -u kubelet --no-pager -n 8 -o cat 2>/dev/null | cut -c1-300 >&2 || true
  exit 1
fi
