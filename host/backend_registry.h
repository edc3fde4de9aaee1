// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "svd/backend.h"

namespace tandem {

/// One visible CUDA device, as `tandem info` shows it.
struct GpuInfo {
  int ordinal = 0;
  std::string name;
  int64_t total_bytes = 0;
  int64_t free_bytes = 0;
  int cc_major = 0, cc_minor = 0;
  int multiprocessors = 0;
};

/// True when this binary has the CUDA backend compiled in.
bool cuda_compiled_in();

/// The visible devices; when none, `why_none` says why (CPU-only build, no driver, no device,
/// CUDA_VISIBLE_DEVICES empty, ...).
std::vector<GpuInfo> list_gpus(std::string* why_none);

/// CUDA runtime and driver versions as "13.0 / 13.0", or why unknown.
std::string cuda_versions();

}  // namespace tandem
