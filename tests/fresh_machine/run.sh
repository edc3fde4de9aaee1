#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs README's two quick-start commands on a fresh Debian 12, as root on a Debian machine:
#   tests/fresh_machine/run.sh [--keep] [--cuda]
# Makes a minimal Debian 12 (debootstrap --variant=minbase, from the mirror this machine's apt
# uses), clones the committed HEAD of this repository into it, and runs `scripts/demo.sh` and
# then `CI=true scripts/test.sh` there in a chroot: nothing that this machine has installed
# helps, so a package missing from scripts/install-deps.sh fails here. --cuda also mounts this
# machine's /usr/local/cuda, so the CUDA backend is built as well (GPU tests skip without a
# device). Prints "N passed, M failed" for the two commands. Not part of CI (.ci/run): it needs
# root, apt and about ten minutes on two cores. --keep leaves the chroot for a look.
set -u

keep=0
cuda=0
for a in "$@"; do
  case "$a" in
    --keep) keep=1 ;;
    --cuda) cuda=1 ;;
    -h|--help) sed -n '3,11p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v debootstrap >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
# The mirror apt already uses here (deb822 "URIs:" or a one-line "deb URL bookworm main").
mirror=${TANDEM_DEBIAN_MIRROR:-$(grep -hoE '^URIs: *[^ ]+/debian/?$|^deb +[^ ]+/debian/? ' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1 |
  sed -E 's/^(URIs:|deb) *//; s/ *$//')}
[ -n "$mirror" ] || { echo "run.sh: no Debian mirror found; set TANDEM_DEBIAN_MIRROR" >&2; exit 2; }

dir=$(mktemp -d /var/tmp/tandem-fresh-XXXXXX)
root=$dir/root
cleanup() {
  for m in usr/local/cuda dev sys proc; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -R "$root/$m"
  done
  if [ "$keep" -eq 1 ]; then echo "kept: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

echo "== debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$dir/debootstrap.log" 2>&1 ||
  { tail -n 20 "$dir/debootstrap.log"; exit 1; }
cp /etc/resolv.conf "$root/etc/"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
if [ "$cuda" -eq 1 ] && [ -x /usr/local/cuda/bin/nvcc ]; then
  mkdir -p "$root/usr/local/cuda"
  mount --rbind "$(readlink -f /usr/local/cuda)" "$root/usr/local/cuda"
fi
# The committed tree only, as a user's clone would have it.
git clone -q "$repo" "$root/src/tandem"

passed=0
failed=0
run() {  # run NAME COMMAND: inside the chroot, from the repository root
  local name=$1 cmd=$2
  echo "== $name: $cmd"
  if chroot "$root" /bin/bash -c "cd /src/tandem && $cmd" >"$dir/$name.log" 2>&1; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failed=$((failed + 1))
    echo "FAILED: $name (last lines of $name.log follow)"
  fi
  grep -vE '^(Unpacking|Selecting|Preparing|Setting up|Processing|\(Reading)' "$dir/$name.log" |
    tail -n 12
}
run demo "scripts/demo.sh"
run test "CI=true scripts/test.sh"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
