# meshready etcd restore on local-cp-1, 1/3: the control plane stopped. Its
# static pod manifests are moved aside (the kubelet stops their pods), and
# the step waits until neither etcd nor the API server runs.
set -eu
mkdir -p '/etc/kubernetes/meshready-restore'
for m in etcd kube-apiserver kube-controller-manager kube-scheduler; do
  if [ -f /etc/kubernetes/manifests/$m.yaml ]; then
    mv -f /etc/kubernetes/manifests/$m.yaml '/etc/kubernetes/meshready-restore'/$m.yaml
  fi
done
for i in $(seq 90); do
  if ! pgrep -x etcd >/dev/null && ! pgrep -x kube-apiserver >/dev/null; then exit 0; fi
  sleep 2
done
echo "etcd or the API server still runs 3 minutes after its manifest was moved aside" >&2
exit 1
