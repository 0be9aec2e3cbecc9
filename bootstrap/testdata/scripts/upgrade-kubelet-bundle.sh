# meshready upgrade of local-worker-1 to Kubernetes v1.35.4: kubelet and kubectl from the air-gapped bundle in /opt/meshready/bundle/v1.35.4, then the kubelet restarted (its pods keep running).
set -eu
for b in kubelet kubectl; do
  if ! cmp -s '/opt/meshready/bundle/v1.35.4'/bin/$b /usr/local/bin/$b; then install -m 0755 '/opt/meshready/bundle/v1.35.4'/bin/$b /usr/local/bin/$b; fi
done
systemctl daemon-reload
systemctl restart kubelet
