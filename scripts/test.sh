#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Second command of the quick start (and CI): install what is missing, build everything, run
# every test. GPU tests skip with their reason when no device is present.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Layout is checked in CI only: another clang-format release may lay the same code out differently.
if [ -n "${CI:-}" ]; then scripts/check-format.sh; fi
cmake --preset default
cmake --build --preset default
ctest --preset default -j "$(nproc)"
