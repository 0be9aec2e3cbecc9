# meshready: kubeadm's ClusterConfiguration uploaded again on local-cp-1, so
# that joins and upgrades read etcd's flags as they are now.
set -eu
trap "rm -f '/etc/meshready/kubeadm-0123456789abcdef.yaml'" EXIT
export KUBECONFIG=/etc/kubernetes/admin.conf
kubeadm init phase upload-config kubeadm --config '/etc/meshready/kubeadm-0123456789abcdef.yaml' >/dev/null
