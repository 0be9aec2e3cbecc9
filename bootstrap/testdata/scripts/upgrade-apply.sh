# meshready upgrade of local-cp-1 to Kubernetes v1.35.4: kubeadm upgrade apply, on the first control plane.
set -eu
if ! kubeadm upgrade apply 'v1.35.4' --yes --ignore-preflight-errors=SystemVerification,FileContent--proc-sys-net-bridge-bridge-nf-call-iptables; then
  echo "the kubelet's last lines:" >&2
  journalctl -u kubelet --no-pager -n 8 -o cat 2>/dev/null | cut -c1-300 >&2 || true
  exit 1
fi
