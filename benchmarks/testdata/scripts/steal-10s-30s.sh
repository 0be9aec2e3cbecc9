# meshready: CPU steal, idle for 10 s then with a busy loop pinned to
# every online CPU for 30 s, sampling /proc/stat each second.
set -u
work=$(mktemp -d /tmp/meshready-steal.XXXXXX)
pids=""
cleanup() { [ -n "$pids" ] && kill $pids 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# HUP and PIPE too: a dropped SSH session or a closed reader must not leave
# the busy loops running.
trap 'exit 143' INT TERM HUP PIPE
snap() { echo "at $(date +%s%N)"; grep '^cpu' /proc/stat; echo end; }
cpus=$(grep '^cpu[0-9]' /proc/stat | sed 's/^cpu\([0-9]*\).*/\1/')

echo "phase idle"
snap
i=0
while [ $i -lt 10 ]; do sleep 1; snap; i=$((i+1)); done

echo "phase loaded"
for c in $cpus; do
  # Each loop counts its iterations and publishes the count every 65536 of them
  # (a redirect is a builtin: no fork in the loop).
  taskset -c "$c" sh -c 'n=0; while :; do n=$((n+1)); if [ $((n & 65535)) -eq 0 ]; then echo $n > "$1"; fi; done' loop "$work/$c" &
  pids="$pids $!"
  echo 0 > "$work/$c.last"
done
sleep 1
for c in $cpus; do cat "$work/$c" > "$work/$c.last" 2>/dev/null || echo 0 > "$work/$c.last"; done
snap
i=0
while [ $i -lt 30 ]; do
  sleep 1
  snap
  for c in $cpus; do
    last=$(cat "$work/$c.last"); now=$(cat "$work/$c" 2>/dev/null)
    [ -n "$now" ] || now=$last  # read while the loop rewrote it
    echo "work $c $((now - last))"; echo "$now" > "$work/$c.last"
  done
  i=$((i+1))
done
