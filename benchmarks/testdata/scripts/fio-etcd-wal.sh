# meshready: one fio job in a scratch folder under /var/lib/etcd, removed whatever happens.
set -eu
if ! command -v fio >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq fio >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq fio; } >&2
  else
    echo "fio is not installed and there is no apt-get to install it" >&2; exit 127
  fi
fi
work=$(mktemp -d '/var/lib/etcd'/meshready-fio.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
cd "$work"
# etcd's own disk test (etcd docs, op-guide/hardware): 2300-byte writes, fdatasync after each.
fio --rw=write --ioengine=sync --fdatasync=1 --directory="$work" --size=22m --bs=2300 \
  --name=etcd-wal --output-format=json
