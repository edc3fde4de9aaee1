#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# First command of the quick start: install what is missing, build, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default --target tandem
build/cli/tandem info
build/cli/tandem demo
