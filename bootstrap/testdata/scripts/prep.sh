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
# kubelet sets vm.overcommit_memory, kernel.panic and kernel.panic_on_oops at
# start. They are not namespaced: on a container node they are the host's, and
# /proc/sys is read-only. Rather than change the host, show the kubelet the
# values it wants through files bound over them inside this node only.
cat > /usr/local/sbin/meshready-kernel-tunables <<'SH'
#!/bin/sh
mkdir -p /run/meshready/sysctl
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1; do
  k=${kv%=*}; v=${kv#*=}
  f=/run/meshready/sysctl/$(echo "$k" | tr / _)
  [ "$(cat "/proc/sys/$k")" = "$v" ] && continue
  echo "$v" > "$f"
  # Seen to fail once, in a CI run with other machines booting beside it:
  # tried again, and said why when it still fails.
  for try in 1 2 3; do
    if mount --bind "$f" "/proc/sys/$k"; then continue 2; fi
    sleep 1
  done
  echo "could not show /proc/sys/$k=$v inside this node" >&2
  exit 1
done
SH
chmod 755 /usr/local/sbin/meshready-kernel-tunables
cat > /etc/systemd/system/meshready-kernel-tunables.service <<'UNIT'
[Unit]
Description=Kernel tunables kubelet expects, shown inside this container node only
Before=kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/meshready-kernel-tunables

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable -q meshready-kernel-tunables.service
if ! systemctl start meshready-kernel-tunables.service; then
  journalctl -u meshready-kernel-tunables.service --no-pager -n 20 -o cat >&2 || true
  exit 1
fi
# This node's cgroups are a subtree of the host's of its own, in a cgroup
# namespace: nspawn mounts the controllers read-only, and the kubelet and
# containerd make cgroups in them. Writable here, in this node's view only
# (the host's tree stays out of reach), before either starts.
cat > /etc/systemd/system/meshready-cgroups.service <<'UNIT'
[Unit]
Description=This node's own cgroup subtree, writable for the kubelet and containerd
DefaultDependencies=no
Before=containerd.service kubelet.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for d in /sys/fs/cgroup /sys/fs/cgroup/*; do [ -e "$d/cgroup.procs" ] && mountpoint -q "$d" && mount -o remount,bind,rw "$d"; done; true'

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable -q meshready-cgroups.service
if ! systemctl start meshready-cgroups.service; then
  journalctl -u meshready-cgroups.service --no-pager -n 20 -o cat >&2 || true
  exit 1
fi
# The kubelet's cgroup root, in every hierarchy (kubelet's cgroupfs driver
# requires it to exist).
for h in /sys/fs/cgroup/*/; do
  [ -e "$h/cgroup.procs" ] && mkdir -p "$h"'/meshready/local-cp-1'
done
# etcd gets the best best-effort IO priority (etcd tuning guide: ionice -c2 -n0),
# re-applied as its static pod restarts; nothing to do on nodes without etcd.
cat > /etc/systemd/system/meshready-etcd-ionice.service <<'UNIT'
[Unit]
Description=Best-effort IO class 2, level 0 for etcd (etcd tuning guide)

[Service]
ExecStart=/bin/sh -c 'while :; do for p in $(pgrep -x etcd); do ionice -c2 -n0 -p "$p"; done; sleep 15; done'
Restart=always

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable -q --now meshready-etcd-ionice.service
# etcd serves /metrics on loopback only (kubeadm's listen-metrics-urls, no
# authentication): every 15 s its disk, backend and leader series are copied
# into a file for node_exporter's textfile collector, which Prometheus
# scrapes over the pod network; the file goes when etcd does not answer.
# bash's /dev/tcp, as the nodes have no HTTP client of their own.
# The folder is node_exporter's (it runs as nobody): readable by all, as
# the scripts here run with a umask that is not.
mkdir -p /usr/local/lib/meshready
install -d -m 0755 /var/lib/meshready/metrics
cat > /usr/local/lib/meshready/etcd-metrics.sh <<'SCRIPT'
#!/bin/bash
out=/var/lib/meshready/metrics/etcd.prom
while :; do
  if exec 3<>/dev/tcp/127.0.0.1/2381; then
    printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    if sed '1,/^\r$/d' <&3 | grep -E '^(# (HELP|TYPE) )?etcd_(disk_|server_has_leader|server_leader_changes_seen_total|mvcc_db_total_size_in_bytes)' >"$out.tmp"; then
      chmod 0644 "$out.tmp" && mv -f "$out.tmp" "$out"
    else
      rm -f "$out" "$out.tmp"
    fi
    exec 3<&-
  else
    rm -f "$out"
  fi
  sleep 15
done 2>/dev/null
SCRIPT
chmod 0755 /usr/local/lib/meshready/etcd-metrics.sh
cat > /etc/systemd/system/meshready-etcd-metrics.service <<'UNIT'
[Unit]
Description=etcd's loopback metrics for node_exporter's textfile collector

[Service]
ExecStart=/usr/local/lib/meshready/etcd-metrics.sh
Restart=always

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable -q --now meshready-etcd-metrics.service
