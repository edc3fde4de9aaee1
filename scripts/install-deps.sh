#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian/Ubuntu packages tandem needs, only those missing (Debian 12, Ubuntu 24.04).
# CUDA is optional: with /usr/local/cuda/bin/nvcc present the GPU backend is built as well.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git clang-format
  libopenblas-dev libboost-dev libboost-filesystem-dev libcli11-dev nlohmann-json3-dev
  zlib1g-dev libgtest-dev libgmock-dev
  libnifti2-dev libtomlplusplus-dev libdeflate-dev libisal-dev
  python3 python3-numpy python3-scipy python3-nibabel python3-joblib python3-threadpoolctl parallel
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
