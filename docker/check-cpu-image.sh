#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds docker/Dockerfile.cpu with podman and runs the image on real work, as root on a Debian 12
# machine with no Docker engine and no registry: debian:12-slim is made here with debootstrap from
# the Debian mirror apt already uses, trimmed as the official slim image is. Not part of CI.
# Checks: the image builds (its own `RUN tandem info` finds every library); `info`, `svd --random`,
# `demo --quick`, `smooth` and `map` run in it on a bind-mounted directory; `podman stop` makes
# tandem, as PID 1, end its jobs and exit 130.
#
# Usage: docker/check-cpu-image.sh [--clean]
#   --clean   remove the podman storage (images, build cache) at the end
# Storage: $TANDEM_CHECK_DIR (default /var/tmp/tandem-image-check), apart from the machine's own
# podman images; set STORAGE_DRIVER=vfs where overlay is not available.
set -euo pipefail
cd "$(dirname "$0")/.."

clean=0
case "${1:-}" in
  "") ;;
  --clean) clean=1 ;;
  *) echo "usage: $0 [--clean]" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "check-cpu-image: run as root (podman, debootstrap)" >&2; exit 2; }

dir="${TANDEM_CHECK_DIR:-/var/tmp/tandem-image-check}"
mkdir -p "$dir"
# runc, not crun: crun refuses hosts with cgroup v1 controllers mounted beside v2 ("hybrid").
podman=(podman --root "$dir/storage" --runroot "$dir/run" --runtime runc)
# podman 4.3 asks for limits above its own when it lacks CAP_SYS_RESOURCE (sandboxes, some CI):
# ask for what this shell has, nproc at most 32768 (podman lowers its own limit to that).
nproc=$(ulimit -Hu)
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=$nproc:$nproc")
step() { printf '\ncheck-cpu-image: %s\n' "$*"; }
fail() { echo "check-cpu-image: FAILED: $*" >&2; exit 1; }

install_tools() {
  local missing=() p
  for p in podman runc debootstrap; do command -v "$p" >/dev/null || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  step "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# This machine's Debian bookworm entries: those with no key of their own or Debian's (a third-party
# repository for bookworm needs a key the image lacks). deb822 stanzas, then one-line entries.
debian_sources_deb822() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
         /(^|\n)Suites:[^\n]*bookworm/ && !/(^|\n)Enabled: *no/ &&
         (!/(^|\n)Signed-By:/ || /Signed-By: *\/usr\/share\/keyrings\/debian-archive-keyring/)' "$f"
  done
}
debian_sources_list() {
  [ -f /etc/apt/sources.list ] || return 0
  awk '/^deb[ \t].*[ \t]bookworm/ && (!/signed-by=/ || /signed-by=[^] ]*debian-archive-keyring/)' \
    /etc/apt/sources.list
}

# The mirror debootstrap fetches from: $TANDEM_DEBIAN_MIRROR, else the first plain bookworm entry.
debian_mirror() {
  if [ -n "${TANDEM_DEBIAN_MIRROR:-}" ]; then echo "$TANDEM_DEBIAN_MIRROR"; return; fi
  { debian_sources_deb822; debian_sources_list; } | awk '
    /^URIs:/ { uri = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") found = 1 }
    /^$/ { if (found && uri != "") { print uri; exit } uri = ""; found = 0 }
    /^deb / { sub(/\[[^]]*\] */, ""); if ($3 == "bookworm") { print $2; exit } }'
}

make_base() {
  local mirror root
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || fail "no bookworm mirror in /etc/apt/sources.list*; set TANDEM_DEBIAN_MIRROR"
  root=$(mktemp -d "$dir/rootfs.XXXXXX")
  step "debootstrap --variant=minbase bookworm from $mirror"
  nice debootstrap --variant=minbase bookworm "$root" "$mirror" >"$dir/debootstrap.log" 2>&1 \
    || fail "debootstrap (log: $dir/debootstrap.log)"
  if [ -z "${TANDEM_DEBIAN_MIRROR:-}" ]; then
    # The image's apt-get (the Dockerfile's) then reaches the same mirrors as this machine's.
    local deb822 list
    deb822=$(debian_sources_deb822)
    list=$(debian_sources_list)
    rm -f "$root/etc/apt/sources.list"
    [ -z "$deb822" ] || printf '%s\n' "$deb822" >"$root/etc/apt/sources.list.d/debian.sources"
    [ -z "$list" ] || printf '%s\n' "$list" >"$root/etc/apt/sources.list"
  fi
  slimify "$root"
  tar -C "$root" -c . | "${podman[@]}" import -q - debian:12-slim >/dev/null
  rm -rf "$root"
}

# What debuerreotype does to make debian:12-slim: no docs, man pages or locales, no apt caches.
slimify() {
  local root="$1"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::GzipIndexes "true";' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  find "$root/usr/share/doc" -type f ! -name copyright -delete
  find "$root/usr/share/doc" -depth -type d -empty -delete
  rm -rf "$root"/usr/share/{groff,info,linda,locale,man}/* "$root"/usr/share/lintian/overrides/*
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  rm -f "$root"/var/cache/apt/archives/*.deb
}

# Runs tandem:cpu with $data at /data; the rest of the arguments go to tandem.
tandem() { "${podman[@]}" run --rm "${limits[@]}" -v "$data:/data" -w /data tandem:cpu "$@"; }

smoke() {
  step "smoke runs (data in $data)"
  tandem info
  tandem svd --random 4x50x50
  tandem demo --quick --dir /data/demo
  tandem smooth demo/sub-01/func/sub-01_task-rest_bold.nii.gz --fwhm 6 -o /data/smooth/
  [ -s "$data/smooth/sub-01_task-rest_desc-sm6_bold.nii.gz" ] || fail "smooth wrote no output"
  mkdir -p "$data/map"
  tandem map --subjects demo/participants.tsv --joblog map/jobs.log --output 'map/{}.txt' \
    --shell -- 'echo {} > map/{}.txt'
  for s in sub-01 sub-02; do [ -s "$data/map/$s.txt" ] || fail "map wrote no map/$s.txt"; done

  step "podman stop: tandem as PID 1 ends its jobs and exits 130"
  local name="tandem-check-$$" code
  "${podman[@]}" run -d --name "$name" "${limits[@]}" tandem:cpu map --args 100 101 -- sleep {} \
    >/dev/null
  sleep 3
  "${podman[@]}" stop -t 10 "$name" >/dev/null
  code=$("${podman[@]}" inspect "$name" --format '{{.State.ExitCode}}')
  "${podman[@]}" logs "$name" 2>&1 | tail -n 3
  "${podman[@]}" rm "$name" >/dev/null
  [ "$code" = 130 ] || fail "tandem exited $code on SIGTERM, not 130"
}

install_tools
if ! "${podman[@]}" image exists debian:12-slim; then make_base; fi
step "podman build -f docker/Dockerfile.cpu -t tandem:cpu ."
nice "${podman[@]}" build --pull=never "${limits[@]}" -f docker/Dockerfile.cpu -t tandem:cpu .
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
smoke
step "ok: tandem:cpu is $("${podman[@]}" images --format '{{.Size}}' tandem:cpu)"
if [ "$clean" -eq 1 ]; then
  # Not `podman system reset`: that would also remove this machine's podman networks.
  "${podman[@]}" rmi -a -f >/dev/null
  rm -rf "$dir"
else
  echo "check-cpu-image: storage kept in $dir ($(du -sh "$dir" | cut -f1)); --clean removes it"
fi
