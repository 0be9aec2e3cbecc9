# meshready etcd retune on local-cp-2: the new static pod manifest in place,
# then wait until etcd runs with its flags (the kubelet restarts it).
set -eu
mv -f '/etc/kubernetes/meshready-etcd.yaml' '/etc/kubernetes/manifests/etcd.yaml'
has_flags() {
  pid=$(pgrep -xo etcd) || return 1
  args=$(tr '\0' '\n' < /proc/$pid/cmdline)
  printf '%s\n' "$args" | grep -qxF -- '--heartbeat-interval=150' || return 1
  printf '%s\n' "$args" | grep -qxF -- '--snapshot-count=5000' || return 1
}
for i in $(seq 90); do
  if has_flags; then exit 0; fi
  sleep 2
done
echo "etcd does not run with the new flags 3 minutes after its manifest changed" >&2
exit 1
