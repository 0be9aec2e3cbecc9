# meshready: facts about the disk under /var/lib/etcd and about steal-time reporting.
# Prints key=value lines; a missing fact is an empty value, never an error.
d='/var/lib/etcd'
mm=$(findmnt -no MAJ:MIN -T "$d" 2>/dev/null | head -n1 | tr -d ' ')
echo "source=$(findmnt -no SOURCE -T "$d" 2>/dev/null | head -n1)"
echo "fstype=$(findmnt -no FSTYPE -T "$d" 2>/dev/null | head -n1)"
dev=""
if [ -n "$mm" ] && [ -e "/sys/dev/block/$mm" ]; then
  p=$(readlink -f "/sys/dev/block/$mm")
  # A partition's parent folder is its disk.
  if [ -e "$p/partition" ]; then p=$(dirname "$p"); fi
  dev=$(basename "$p")
fi
echo "device=$dev"
if [ -n "$dev" ] && [ -d "/sys/block/$dev" ]; then
  echo "rotational=$(cat "/sys/block/$dev/queue/rotational" 2>/dev/null)"
  echo "write_cache=$(cat "/sys/block/$dev/queue/write_cache" 2>/dev/null)"
  echo "model=$(cat "/sys/block/$dev/device/model" 2>/dev/null | tr -s ' ' | sed 's/ *$//')"
fi
echo "virt_vm=$(systemd-detect-virt --vm 2>/dev/null || true)"
echo "virt_container=$(systemd-detect-virt --container 2>/dev/null || true)"
if grep -qw hypervisor /proc/cpuinfo; then echo "hypervisor_flag=yes"; else echo "hypervisor_flag=no"; fi
echo "steal_since_boot=$(awk '/^cpu /{print $9}' /proc/stat)"
echo "dmesg_steal=$(dmesg 2>/dev/null | grep -m1 -i 'kvm-stealtime' | tr -d '\n')"
echo "cpus=$(grep -c '^cpu[0-9]' /proc/stat)"
echo "fio=$(command -v fio || true)"
