// SPDX-License-Identifier: Apache-2.0
// `tandem info`: version, build options, devices, BLAS and cores.
#include <cstdio>

#include "backend_registry.h"
#include "command.h"
#include "core/cores.h"
#include "svd/blas_threads.h"

namespace tandem::cli {

namespace {

int run_info() {
  std::printf("tandem %s\n", TANDEM_VERSION);
  std::printf("cuda backend: %s\n", cuda_compiled_in() ? "compiled in" : "not compiled in");
  if (cuda_compiled_in()) std::printf("cuda: %s\n", cuda_versions().c_str());
  std::string why;
  auto gpus = list_gpus(&why);
  if (gpus.empty()) std::printf("gpus: none (%s)\n", why.c_str());
  for (const GpuInfo& g : gpus) {
    std::printf("gpu %d: %s, compute capability %d.%d, %d SMs, %.1f GiB (%.1f GiB free)\n",
                g.ordinal, g.name.c_str(), g.cc_major, g.cc_minor, g.multiprocessors,
                static_cast<double>(g.total_bytes) / (1 << 30),
                static_cast<double>(g.free_bytes) / (1 << 30));
  }
  pin_blas_single_thread();
  std::printf("blas: %s (pinned to 1 thread inside tandem's workers)\n",
              blas_description().c_str());
  const double quota = cgroup_cpu_quota();
  std::printf("cores: %d usable", available_cores());
  if (quota > 0) std::printf(" (cgroup quota %.2f cores)", quota);
  std::printf("\n");
  return kExitOk;
}

std::function<int()> setup_info(CLI::App&) {
  return [] { return run_info(); };
}

}  // namespace

TANDEM_REGISTER_COMMAND(90, "info", "Version, build options, GPUs, BLAS and usable cores",
                        setup_info);

}  // namespace tandem::cli
