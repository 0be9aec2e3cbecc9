# meshready host prep on local-cp-1: swap, kernel modules, sysctls, /dev/kmsg.
set -eu
virt=$(systemd-detect-virt --container 2>/dev/null || true)
if [ -n "$virt" ] && [ "$virt" != none ]; then
  # In a container, swap and modules belong to the host: never change them from here.
  if [ "$(sed 1d /proc/swaps | wc -l)" -gt 0 ]; then
    echo "swap is on (the host's): kubelet refuses to run with swap; turn it off on the host" >&2; exit 1
  fi
else
  swapoff -a
  sed -i '/^[^#].*[[:space:]]swap[[:space:]]/ s/^/#/' /etc/fstab
  for m in overlay br_netfilter; do modprobe "$m"; done
  printf 'overlay\nbr_netfilter\n' > /etc/modules-load.d/meshready-k8s.conf
fi
cat > /etc/sysctl.d/90-meshready-k8s.conf <<'CONF'
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
CONF
sysctl -q -w net.ipv4.ip_forward=1
if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
  sysctl -q -w net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
else
  echo "note: br_netfilter is not available here; kube-proxy's iptables rules still work for routed pod traffic" >&2
fi
[ -e /dev/kmsg ] || ln -s /dev/console /dev/kmsg
test "$(hostname)" = 'local-cp-1' || hostname 'local-cp-1'
