#!/usr/bin/env bash
# Installs the Debian packages meshready needs on this machine, only those missing.
set -euo pipefail

packages=(
  git             # make test lists tracked files for gofmt
  fio             # disk benchmarks (the tests benchmark this machine over SSH)
  openssh-server  # tests run a real sshd on loopback
  openssh-client  # ssh-keygen
  iputils-ping    # RTT between nodes
  util-linux      # taskset, findmnt, lsblk
  systemd-container  # systemd-nspawn: the local backend's machines
  debootstrap        # builds the local machines' Debian root
  iproute2           # ip: the local backend's bridge
  shellcheck         # actionlint checks the workflows' run: scripts with it
  postgresql         # the tests start their own PostgreSQL on loopback: Pulumi's shared-state backend
)

if ! command -v go >/dev/null; then
  echo "meshready needs Go 1.26 or newer on PATH" >&2
  exit 1
fi

# A first build fills about 45 GB (the Go build cache about 22, the module
# cache 9, meshready's cache 8, the test clusters' machines the rest): say so
# before an hour of building stops on a full disk.
cache="${MESHREADY_CACHE:-$HOME/.cache/meshready}"
if [ ! -d "$cache/tools" ]; then
  dir="$cache"; while [ ! -d "$dir" ]; do dir=$(dirname "$dir"); done
  free=$(df --output=avail -BG "$dir" | tail -1 | tr -dc 0-9)
  if [ "${free:-0}" -lt 45 ]; then
    echo "warning: ${free} GB free under $dir; a first build of meshready's tools and its tests needs about 45 GB" >&2
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
