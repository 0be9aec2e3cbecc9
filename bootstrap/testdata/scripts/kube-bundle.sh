# meshready Kubernetes v1.34.4 on local-cp-1 from the air-gapped bundle in /opt/meshready/bundle/v1.34.4.
set -eu
for b in kubeadm kubelet kubectl; do
  if ! cmp -s '/opt/meshready/bundle/v1.34.4'/bin/$b /usr/local/bin/$b; then install -m 0755 '/opt/meshready/bundle/v1.34.4'/bin/$b /usr/local/bin/$b; fi
done
have=$(ctr -n k8s.io images ls -q)
echo "$have" | grep -qxF 'registry.k8s.io/pause:3.10.1' || ctr -n k8s.io images import --all-platforms '/opt/meshready/bundle/v1.34.4/images/pause.tar' >/dev/null
echo "$have" | grep -qxF 'registry.k8s.io/etcd:3.6.5-0' || ctr -n k8s.io images import --all-platforms '/opt/meshready/bundle/v1.34.4/images/etcd.tar' >/dev/null
# kubelet's unit and kubeadm's drop-in, as the Kubernetes packages ship them.
cat > /etc/systemd/system/kubelet.service <<'UNIT'
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target containerd.service
After=network-online.target containerd.service

[Service]
ExecStart=/usr/local/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p /etc/systemd/system/kubelet.service.d
cat > /etc/systemd/system/kubelet.service.d/10-kubeadm.conf <<'UNIT'
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
UNIT
systemctl daemon-reload
systemctl enable kubelet >/dev/null 2>&1
