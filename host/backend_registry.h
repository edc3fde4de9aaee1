// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "svd/backend.h"

namespace tandem {

class GpuSmoother;  // smooth/gpu_smoother.h

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

/// The device `tandem smooth` runs its Gaussian passes on (the first visible one), chosen as
/// make_backend() chooses: null for kCpu (CUDA is not touched), and for kAuto without a usable
/// device, when `note` receives one line saying why; throws NoDeviceError ("--device gpu: <why>")
/// for kGpu without one. Loads the CUDA module only for kAuto and kGpu.
std::shared_ptr<GpuSmoother> make_gpu_smoother(DeviceChoice device, std::string* note);

}  // namespace tandem
