// SPDX-License-Identifier: Apache-2.0
#include <cuda_runtime.h>

#include <cstdlib>
#include <string>

#include "cuda_api.h"

namespace tandem::cuda {

namespace {

std::string version_text(int v) {
  return v > 0 ? std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10) : "none";
}

}  // namespace

std::vector<GpuInfo> list_devices(std::string* why_none) {
  std::vector<GpuInfo> out;
  int driver = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess || driver == 0) {
    // The runtime reports a missing driver as "driver version is insufficient": say it plainly.
    if (why_none) *why_none = "no NVIDIA driver found (no GPU on this machine)";
    cudaGetLastError();
    return out;
  }
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    // cudaErrorNoDevice / cudaErrorInsufficientDriver are normal on CPU machines.
    if (why_none) *why_none = std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    cudaGetLastError();
    return out;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    GpuInfo info;
    info.ordinal = i;
    info.name = prop.name;
    info.total_bytes = static_cast<int64_t>(prop.totalGlobalMem);
    info.cc_major = prop.major;
    info.cc_minor = prop.minor;
    info.multiprocessors = prop.multiProcessorCount;
    size_t free_b = 0, total_b = 0;
    if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) {
      info.free_bytes = static_cast<int64_t>(free_b);
    }
    cudaGetLastError();
    out.push_back(info);
  }
  if (out.empty() && why_none) {
    const char* vis = std::getenv("CUDA_VISIBLE_DEVICES");
    *why_none =
        vis && !*vis ? "no CUDA device: CUDA_VISIBLE_DEVICES is empty" : "no CUDA device found";
  }
  return out;
}

std::string versions() {
  int rt = 0, drv = 0;
  cudaRuntimeGetVersion(&rt);
  cudaDriverGetVersion(&drv);
  cudaGetLastError();
  return "runtime " + version_text(rt) + ", driver " + (drv > 0 ? version_text(drv) : "none");
}

}  // namespace tandem::cuda
