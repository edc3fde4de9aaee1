// SPDX-License-Identifier: Apache-2.0
#pragma once
// The plain C++ face of the cuda/ library. The library is a shared module that
// host/backend_registry.cc loads with dlopen only on a machine with an NVIDIA driver: linked
// in, cuSOLVER and cuBLAS alone cost every tandem process ~260 MB of resident memory and ~80 ms
// of start-up, GPU or not. The registry reaches the functions below through CudaPlugin.
// Everything CudaPlugin passes is plain C++ (no CUDA header), and both sides come from one build
// with one compiler and one shared libstdc++: tandem::Error and its subclasses thrown in the
// module (CudaError, NoDeviceError) reach the host's catch blocks as they are.

#include <memory>
#include <string>
#include <vector>

#include "backend_registry.h"
#include "smooth_gpu.h"
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
  /// kMaxSmoothRadius: the largest Gaussian radius smooth_volumes takes.
  int max_smooth_radius;
  /// smooth_volumes_gpu (smooth_gpu.h): tandem smooth's three reflect-edge passes on one device.
  void (*smooth_volumes)(const float* in, float* out, const VolumeShape& shape,
                         std::int64_t volumes, const std::array<SmoothAxis, 3>& axes, int device);
};

/// Bumped whenever CudaPlugin or the types it passes change.
constexpr int kCudaPluginAbi = 4;

/// File name of the module and of its entry point.
constexpr const char* kCudaPluginFile = "libtandem_cuda.so";
constexpr const char* kCudaPluginSymbol = "tandem_cuda_plugin";

}  // namespace tandem::cuda

/// The module's one exported symbol: returns its table (never null).
extern "C" const tandem::cuda::CudaPlugin* tandem_cuda_plugin();
