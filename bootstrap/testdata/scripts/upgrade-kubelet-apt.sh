# meshready upgrade of hel1-worker-1 to Kubernetes v1.35.4: kubelet and kubectl, then the kubelet restarted (its pods keep running).
set -eu
if [ "$(kubelet --version 2>/dev/null | awk '{print $2}')" != 'v1.35.4' ]; then
  export DEBIAN_FRONTEND=noninteractive
  repo=https://pkgs.k8s.io/core:/stable:/v1.35/deb/
  apt-get update -qq
  apt-get install -y -qq curl gpg apt-transport-https ca-certificates >/dev/null
  mkdir -p -m 755 /etc/apt/keyrings
  curl -fsSL "${repo}Release.key" | gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
  echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] $repo /" > /etc/apt/sources.list.d/kubernetes.list
  apt-get update -qq
  v=$(apt-cache madison kubeadm | awk '{print $3}' | grep -m1 "^1.35.4-")
  apt-mark unhold kubelet kubectl >/dev/null 2>&1 || true
  apt-get install -y -qq "kubelet=$v" "kubectl=$v" >/dev/null
  apt-mark hold kubelet kubectl >/dev/null
fi
systemctl daemon-reload
systemctl restart kubelet
