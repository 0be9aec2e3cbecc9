# meshready kubeadm init on local-cp-1, skipped when this control plane already runs.
set -eu
export KUBECONFIG=/etc/kubernetes/admin.conf
if [ -f "$KUBECONFIG" ] && kubectl get --raw=/readyz >/dev/null 2>&1; then
  echo "already initialised"
  exit 0
fi
mkdir -p /etc/meshready
cat > /etc/meshready/kubeadm-init.yaml <<'YAML'
kind: InitConfiguration
YAML
chmod 600 /etc/meshready/kubeadm-init.yaml
kubeadm init --config /etc/meshready/kubeadm-init.yaml --upload-certs --ignore-preflight-errors=SystemVerification,FileContent--proc-sys-net-bridge-bridge-nf-call-iptables
