# meshready: one fio job in a scratch folder under /var/lib/it's here, removed whatever happens.
set -eu
if ! command -v fio >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq fio >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq fio; } >&2
  else
    echo "fio is not installed and there is no apt-get to install it" >&2; exit 127
  fi
fi
work=$(mktemp -d '/var/lib/it'\''s here'/meshready-fio.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
cd "$work"
# 4k random reads at queue depth 1, bypassing the page cache.
fio --name=randread --rw=randread --bs=4k --iodepth=1 --direct=1 --ioengine=libaio \
  --time_based --runtime=20 --size=128m --filename="$work/randread.dat" \
  --output-format=json
