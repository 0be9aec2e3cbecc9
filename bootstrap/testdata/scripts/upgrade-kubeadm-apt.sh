# meshready upgrade of hel1-worker-1 to Kubernetes v1.35.4: kubeadm first, from the Kubernetes package repository.
set -eu
if [ "$(kubeadm version -o short 2>/dev/null || true)" != 'v1.35.4' ]; then
  export DEBIAN_FRONTEND=noninteractive
  repo=https://pkgs.k8s.io/core:/stable:/v1.35/deb/
  apt-get update -qq
  apt-get install -y -qq curl gpg apt-transport-https ca-certificates >/dev/null
  mkdir -p -m 755 /etc/apt/keyrings
  curl -fsSL "${repo}Release.key" | gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
  echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] $repo /" > /etc/apt/sources.list.d/kubernetes.list
  apt-get update -qq
  v=$(apt-cache madison kubeadm | awk '{print $3}' | grep -m1 "^1.35.4-")
  apt-mark unhold kubeadm >/dev/null 2>&1 || true
  apt-get install -y -qq "kubeadm=$v" >/dev/null
  apt-mark hold kubeadm >/dev/null
fi
test "$(kubeadm version -o short)" = 'v1.35.4'
