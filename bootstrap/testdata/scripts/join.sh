# meshready kubeadm join of local-worker-1, skipped when this node already joined.
set -eu
# The config (it holds the join token and the certificate key) was uploaded
# 0600 for this run alone; it goes when the step ends, however it ends.
trap "rm -f '/etc/meshready/kubeadm-0123456789abcdef.yaml'" EXIT
if [ -f /etc/meshready/join.done ] && systemctl is-active -q kubelet; then
  echo "already joined"
  exit 0
fi
if [ -f /etc/kubernetes/kubelet.conf ]; then
  echo "a previous kubeadm join did not finish: resetting it" >&2
  kubeadm reset -f >/dev/null 2>&1 || true
fi
mkdir -p /etc/meshready
if ! kubeadm join --config '/etc/meshready/kubeadm-0123456789abcdef.yaml'; then
  # kubeadm says only that the kubelet did not get healthy; the kubelet says why.
  echo "the kubelet's last lines:" >&2
  journalctl -u kubelet --no-pager -n 8 -o cat 2>/dev/null | cut -c1-300 >&2 || true
  exit 1
fi
touch /etc/meshready/join.done
