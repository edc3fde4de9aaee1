// SPDX-License-Identifier: Apache-2.0
#pragma once
// The plain C++ face of the cuda/ library. The library is a shared module that
// host/backend_registry.cc loads with dlopen only on a machine with an NVIDIA driver: linked
// in, cuSOLVER and cuBLAS alone cost every tandem process ~260 MB of resident memory and ~80 ms
// of start-up, GPU or not. The registry reaches the functions below through CudaPlugin.

#include <memory>
#include <string>
#include <vector>

#include "backend_registry.h"
#include "svd/backend.h"

namespace tandem::cuda {

/// Visible devices (CUDA_VISIBLE_DEVICES respected). Never throws: with no driver or no device
/// it returns an empty list and says why in `why_none`.
std::vector<GpuInfo> list_devices(std::string* why_none);

/// "runtime 13.0, driver 13.0" (or what is missing).
std::string versions();

/// The CUDA SVD backend on the given device ordinals (all of `devices` must be usable).
/// `cpu_fallback` receives matrices that failed every GPU route, and those too large for the
/// device unless `gpu_required` (--device gpu), which makes them per-item errors instead.
std::shared_ptr<Backend> make_cuda_backend(const std::vector<int>& devices,
                                           std::shared_ptr<Backend> cpu_fallback,
                                           bool gpu_required = false);

/// The module's entry points, as one versioned table.
struct CudaPlugin {
  int abi_version;
  std::vector<GpuInfo> (*list_devices)(std::string* why_none);
  std::string (*versions)();
  std::shared_ptr<Backend> (*make_backend)(const std::vector<int>& devices,
                                           std::shared_ptr<Backend> cpu_fallback,
                                           bool gpu_required);
};

/// Bumped whenever CudaPlugin or the types it passes change.
constexpr int kCudaPluginAbi = 2;

/// File name of the module and of its entry point.
constexpr const char* kCudaPluginFile = "libtandem_cuda.so";
constexpr const char* kCudaPluginSymbol = "tandem_cuda_plugin";

}  // namespace tandem::cuda

/// The module's one exported symbol: returns its table (never null).
extern "C" const tandem::cuda::CudaPlugin* tandem_cuda_plugin();
