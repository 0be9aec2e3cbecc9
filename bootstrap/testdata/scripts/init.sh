# meshready kubeadm init on local-cp-1, skipped when this control plane already runs.
set -eu
# The config (it holds the join token and the certificate key) was uploaded
# 0600 for this run alone; it goes when the step ends, however it ends.
trap "rm -f '/etc/meshready/kubeadm-0123456789abcdef.yaml'" EXIT
export KUBECONFIG=/etc/kubernetes/admin.conf
# The marker is written only after kubeadm init succeeded: an API server that
# answers is not enough (a killed init leaves static pods that come up).
if [ -f /etc/meshready/init.done ]; then
  for i in $(seq 30); do
    if kubectl get --raw=/readyz >/dev/null 2>&1; then echo "already initialised"; exit 0; fi
    sleep 2
  done
  echo "this control plane was initialised but its API server does not answer" >&2; exit 1
fi
if [ -f "$KUBECONFIG" ] || [ -d /etc/kubernetes/manifests ] && [ -n "$(ls -A /etc/kubernetes/manifests 2>/dev/null)" ]; then
  echo "a previous kubeadm init did not finish: resetting it" >&2
  kubeadm reset -f >/dev/null 2>&1 || true
fi
mkdir -p /etc/meshready
if ! kubeadm init --config '/etc/meshready/kubeadm-0123456789abcdef.yaml' --upload-certs --ignore-preflight-errors=SystemVerification,FileContent--proc-sys-net-bridge-bridge-nf-call-iptables; then
  # kubeadm says only that the kubelet did not get healthy; the kubelet says why.
  echo "the kubelet's last lines:" >&2
  journalctl -u kubelet --no-pager -n 8 -o cat 2>/dev/null | cut -c1-300 >&2 || true
  exit 1
fi
touch /etc/meshready/init.done
