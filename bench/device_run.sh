#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One run on a lent GPU machine: build, GPU tests, memcheck, benchmark. Every step is
# time-boxed and the next one runs even when a step fails; logs and JSON go to $OUT.
# Usage (repository root): OUT=/some/dir bench/device_run.sh   (BUILD, JOBS override the
# build folder and ninja -j; SKIP="configure build cuda_test_new ..." leaves out the steps so
# named, e.g. on a second call to a still-warm machine whose build folder is kept)
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
BUILD=${BUILD:-build-gpu}
JOBS=${JOBS:-16}
START=$(date +%s)
declare -a SUMMARY=()

# The whole run stays under 9 minutes: a step gets its own box or what is left, whichever
# is shorter, and is skipped when under 20 s remain.
DEADLINE=$((START + ${RUN_SECONDS:-540}))

step() {  # step NAME SECONDS LOG CMD... : runs CMD with a timeout, logs, records the outcome
  local name=$1 limit=$2 log=$3; shift 3
  case " ${SKIP:-} " in
    *" $name "*)
      SUMMARY+=("$(printf '%-22s skipped: in SKIP' "$name")")
      return 0 ;;
  esac
  local t0=$(date +%s)
  local left=$((DEADLINE - t0))
  if [ "$left" -lt 20 ]; then
    SUMMARY+=("$(printf '%-22s skipped: out of time' "$name")")
    return 124
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name (limit ${limit}s)"
  timeout --kill-after=10 "$limit" "$@" >"$OUT/$log" 2>&1
  local rc=$?
  local took=$(( $(date +%s) - t0 ))
  SUMMARY+=("$(printf '%-22s rc=%-4s %4ss  %s' "$name" "$rc" "$took" "$log")")
  tail -n 6 "$OUT/$log"
  return $rc
}

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv
  "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)" --version | tail -n 2
  cmake --version | head -n 1
  nproc
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# nifti_clib (for tandem smooth) is not installed on the lent machine: the Debian packages
# bench/fetch_device_debs.sh put in .device/debs (carried with the tree) are unpacked here and
# found through CMAKE_PREFIX_PATH.
if ls .device/debs/*.deb >/dev/null 2>&1; then
  ROOT=$PWD/.device/root
  LIB=$ROOT/usr/lib/x86_64-linux-gnu
  for d in .device/debs/*.deb; do dpkg -x "$d" "$ROOT"; done
  # Their pkg-config files say prefix=/usr: point them at where they were unpacked.
  sed -i "s|^prefix=/usr\$|prefix=$ROOT/usr|" "$LIB"/pkgconfig/*.pc 2>/dev/null
  export CMAKE_PREFIX_PATH=$ROOT/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  export PKG_CONFIG_PATH=$LIB/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
  export LD_LIBRARY_PATH=$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi

step configure 90 configure.log \
  cmake -S . -B "$BUILD" -G Ninja -DTANDEM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
        -DCMAKE_BUILD_TYPE=Release
# -k 0: one broken target (another part of the tree) must not stop the others.
# Only the targets this configuration has (no nifti_clib: no smooth targets): ninja refuses an
# unknown target outright, which would build nothing at all.
WANTED="tandem cuda_test svd_test svd_gpu_driver svd_pipeline_driver smooth_test smooth_gpu_test smooth_gpu_driver"
HAVE=$(ninja -C "$BUILD" -t targets all 2>/dev/null | sed 's/:.*//')
TARGETS=$(for t in $WANTED; do grep -qx "$t" <<<"$HAVE" && echo "$t"; done | tr '\n' ' ')
echo "targets: $TARGETS"
# shellcheck disable=SC2086
step build 240 build.log ninja -C "$BUILD" -j"$JOBS" -k 0 $TARGETS

CUDA_TEST=$BUILD/tests/cuda/cuda_test
# The suites whose code has not run on a card yet go first, in a box of their own, so that a
# slow full run cannot hide their results; the benchmarks next, then everything else.
NEW_SUITES='CudaStreamedTest.*:CudaFailureTest.*:CudaOptionsTest.*:GramRouteTest.*:Gram/*:UpTo32/*'
# 66,000 matrices in one chunk: should the chunk fail as a whole, each matrix is redone on its
# own, which takes minutes; it runs last, in a box of its own, so it cannot cost the others.
BIG_CHUNK='GramRouteTest.OneChunkOfMoreMatricesThanOneGridHolds'
if [ -x "$CUDA_TEST" ]; then
  step cuda_test_new 150 cuda_test_new.log "$CUDA_TEST" --gtest_filter="$NEW_SUITES-$BIG_CHUNK" \
    --gtest_output="json:$OUT/cuda_test_new.json"
  grep -sE "^\[  (FAILED|PASSED) " "$OUT/cuda_test_new.log" | tail -n 30
else
  SUMMARY+=("cuda_test              not built (see build.log)")
fi

if [ -x "$BUILD/bench/svd_gpu_driver" ]; then
  step svd_gpu 200 svd_gpu.log python3 bench/svd_gpu --build "$BUILD" --quick
fi
# The CLI's time less the solve: how much of it is the pipeline (read, write, fdatasync).
if [ -x "$BUILD/bench/svd_pipeline_driver" ]; then
  step svd_pipeline 40 svd_pipeline.log "$BUILD/bench/svd_pipeline_driver" --reps 5
fi

# tandem smooth on the GPU: the passes against the CPU bit for bit, the CLI, then CuPy.
if [ -x "$BUILD/tests/smooth/smooth_gpu_test" ]; then
  step smooth_gpu_test 60 smooth_gpu_test.log "$BUILD/tests/smooth/smooth_gpu_test"
fi
if [ -x "$BUILD/tests/smooth/smooth_test" ]; then
  step smooth_cli_gpu 90 smooth_cli_gpu.log "$BUILD/tests/smooth/smooth_test" \
    --gtest_filter='SmoothOnGpuTest.*:SmoothDeviceTest.*:SmoothPluginTest.*'
fi
if [ -x "$BUILD/bench/smooth_gpu_driver" ]; then
  step smooth_bench 90 smooth_bench.log python3 bench/smooth --tandem "$BUILD/cli/tandem" \
    --gpu-only --runs 3
fi
# tandem run with the SVD on the GPU beside CPU jobs (issue target: <= 1.15 x the longer half).
if "$BUILD/cli/tandem" run --help >/dev/null 2>&1; then
  step run_concurrency 90 run_concurrency.log python3 bench/run_concurrency \
    --tandem "$BUILD/cli/tandem" --jobs 32 --reps 3
fi

# The suites that passed on a card before (2026-11-27, H200) come after the figures, so that a
# first call that runs short of time still brings the benchmarks back.
if [ -x "$CUDA_TEST" ]; then
  step cuda_test 200 cuda_test.log "$CUDA_TEST" --gtest_filter="-$NEW_SUITES" \
    --gtest_output="json:$OUT/cuda_test.json"
  grep -sE "^\[  (FAILED|PASSED) " "$OUT/cuda_test.log" | tail -n 30
  echo "skipped: $(cat "$OUT"/cuda_test*.log 2>/dev/null | grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$')"
fi

SAN=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer \
      /usr/local/cuda*/compute-sanitizer/compute-sanitizer 2>/dev/null | head -n 1)
if [ -x "$CUDA_TEST" ] && [ -n "$SAN" ]; then
  step memcheck 90 memcheck.log "$SAN" --tool memcheck --error-exitcode 7 \
    "$CUDA_TEST" --gtest_filter='HandlesTest.*:KernelsTest.*:CudaFailureTest.NanMatrixFailsAloneInBatchedChunk:CudaFailureTest.InfMatrixFailsAloneOnPolarRoute:Square/CudaRouteTest.MatchesLapackWithinTestRatios/auto_float32_64x64_random_full:Square/CudaRouteTest.MatchesLapackWithinTestRatios/qr_float64_33x33_random_full:Shapes/CudaRouteTest.MatchesLapackWithinTestRatios/auto_float64_40x7_random_econ:Gram/CudaRouteTest.MatchesLapackWithinTestRatios/gram_float64_100x100_rankdef_full:Gram/CudaRouteTest.MatchesLapackWithinTestRatios/gram_float32_300x60_random_econ'
  grep -E "ERROR SUMMARY|LEAK SUMMARY" "$OUT/memcheck.log" | tail -n 3
elif [ -z "$SAN" ]; then
  SUMMARY+=("memcheck               skipped: compute-sanitizer not found")
fi

if [ -x "$BUILD/tests/svd/svd_test" ]; then
  step svd_test 45 svd_test.log "$BUILD/tests/svd/svd_test"
fi
if [ -x "$CUDA_TEST" ]; then
  step cuda_test_big 60 cuda_test_big.log "$CUDA_TEST" --gtest_filter="$BIG_CHUNK"
  grep -sE "^\[  (FAILED|PASSED|  OK) " "$OUT/cuda_test_big.log" | tail -n 3
fi

echo
echo "== summary ($(( $(date +%s) - START ))s in all)"
printf '%s\n' "${SUMMARY[@]}"
for j in "$OUT/cuda_test_new.json" "$OUT/cuda_test.json"; do
  [ -f "$j" ] || continue
  python3 - "$j" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
failed = [f"{s['name']}.{t['name']}" for s in d["testsuites"] for t in s["testsuite"] if t.get("failures")]
skipped = sum(1 for s in d["testsuites"] for t in s["testsuite"] if t.get("result") == "SKIPPED")
name = os.path.basename(sys.argv[1])[:-5]
print(f"{name}: {d['tests']} tests, {len(failed)} failed, {skipped} skipped")
for f in failed[:25]:
    print("  FAILED", f)
PY
done
[ -f "$OUT/svd_gpu.log" ] && sed -n '/^# svd_gpu/,$p' "$OUT/svd_gpu.log"
[ -f "$OUT/svd_pipeline.log" ] && cat "$OUT/svd_pipeline.log"
[ -f "$OUT/smooth_bench.log" ] && tail -n 12 "$OUT/smooth_bench.log"
[ -f "$OUT/run_concurrency.log" ] && tail -n 12 "$OUT/run_concurrency.log"
exit 0
