# meshready container runtime on local-cp-1: containerd + runc, cgroupfs cgroups.
set -eu
if ! command -v containerd >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 || [ ! -x /usr/lib/cni/bridge ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq containerd runc containernetworking-plugins conntrack socat ethtool iptables >/dev/null
fi
mkdir -p /etc/containerd /etc/cni/net.d
cat > /etc/containerd/config.toml.meshready <<'TOML'
version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    restrict_oom_score_adj = true
    sandbox_image = "registry.k8s.io/pause:3.10.1"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      snapshotter = "overlayfs"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            SystemdCgroup = false
TOML
if ! cmp -s /etc/containerd/config.toml.meshready /etc/containerd/config.toml; then
  mv /etc/containerd/config.toml.meshready /etc/containerd/config.toml
  systemctl restart containerd
else
  rm /etc/containerd/config.toml.meshready
fi
systemctl enable --now containerd >/dev/null 2>&1
for i in $(seq 50); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.2; done
echo "containerd did not come up" >&2; exit 1
