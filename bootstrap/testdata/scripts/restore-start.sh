# meshready etcd restore on local-cp-1, 3/3: the control plane's manifests
# back in place, etcd first, and the kubelet restarted so that nothing runs
# on what it remembered from before the restore.
set -eu
for m in etcd kube-apiserver kube-controller-manager kube-scheduler; do
  if [ -f '/etc/kubernetes/meshready-restore'/$m.yaml ]; then
    mv -f '/etc/kubernetes/meshready-restore'/$m.yaml /etc/kubernetes/manifests/$m.yaml
  fi
done
rmdir '/etc/kubernetes/meshready-restore' 2>/dev/null || true
systemctl restart kubelet
