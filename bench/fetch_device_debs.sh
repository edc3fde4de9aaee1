#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fetches the Debian packages bench/device_run.sh unpacks on a lent GPU machine that lacks them
# (nifti_clib for tandem smooth; Boost.Filesystem and toml++ for tandem map and run), into
# .device/debs (git-ignored; carry .device to the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .device/debs
cd .device/debs
apt-get download libnifti2-dev libnifti2-2 libniftiio-dev libniftiio2 libnifticdf-dev \
  libnifticdf2 libznz-dev libznz3 libboost1.74-dev libboost-filesystem1.74-dev \
  libboost-filesystem1.74.0 libboost-system1.74-dev libboost-system1.74.0 libtomlplusplus-dev \
  libtomlplusplus3
ls -1
