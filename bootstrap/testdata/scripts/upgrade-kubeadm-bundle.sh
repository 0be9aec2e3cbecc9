# meshready upgrade of local-cp-1 to Kubernetes v1.35.4: kubeadm first, and the release's images, from the air-gapped bundle in /opt/meshready/bundle/v1.35.4.
set -eu
if ! cmp -s '/opt/meshready/bundle/v1.35.4'/bin/kubeadm /usr/local/bin/kubeadm; then install -m 0755 '/opt/meshready/bundle/v1.35.4'/bin/kubeadm /usr/local/bin/kubeadm; fi
have=$(ctr -n k8s.io images ls -q)
echo "$have" | grep -qxF 'registry.k8s.io/etcd:3.6.6-0' || ctr -n k8s.io images import --all-platforms '/opt/meshready/bundle/v1.35.4/images/etcd_3.6.6-0.tar' >/dev/null
test "$(kubeadm version -o short)" = 'v1.35.4'
