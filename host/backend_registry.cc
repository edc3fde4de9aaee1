// SPDX-License-Identifier: Apache-2.0
// The one place that knows whether the CUDA backend is compiled in.
#include "backend_registry.h"

#include "core/error.h"
#include "svd/cpu_backend.h"

#ifdef TANDEM_HAVE_CUDA
#include "cuda_api.h"
#endif

namespace tandem {

bool cuda_compiled_in() {
#ifdef TANDEM_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

std::vector<GpuInfo> list_gpus(std::string* why_none) {
#ifdef TANDEM_HAVE_CUDA
  return cuda::list_devices(why_none);
#else
  if (why_none) *why_none = "this tandem was built without CUDA (TANDEM_CUDA=OFF or no nvcc)";
  return {};
#endif
}

std::string cuda_versions() {
#ifdef TANDEM_HAVE_CUDA
  return cuda::versions();
#else
  return "not compiled in";
#endif
}

namespace {

// Devices to use: --gpus as given (each must exist), else every visible one.
[[maybe_unused]] std::vector<int> pick_gpus(const std::vector<GpuInfo>& found,
                                            const std::vector<int>& wanted) {
  if (wanted.empty()) {
    std::vector<int> all;
    for (const auto& g : found) all.push_back(g.ordinal);
    return all;
  }
  for (int w : wanted) {
    bool ok = false;
    for (const auto& g : found) ok = ok || g.ordinal == w;
    if (!ok) {
      throw NoDeviceError("--gpus names device " + std::to_string(w) + ", but only " +
                          std::to_string(found.size()) + " CUDA device(s) are visible");
    }
  }
  return wanted;
}

}  // namespace

std::shared_ptr<Backend> make_backend(const BackendConfig& cfg, std::string* note) {
  auto cpu = std::make_shared<CpuBackend>(cfg.threads);
  if (cfg.device == DeviceChoice::kCpu) return cpu;
  std::string why;
  std::vector<GpuInfo> gpus = list_gpus(&why);
  if (gpus.empty()) {
    if (cfg.device == DeviceChoice::kGpu) throw NoDeviceError("--device gpu: " + why);
    if (note) *note = why + "; using the CPU backend";
    return cpu;
  }
#ifdef TANDEM_HAVE_CUDA
  return cuda::make_cuda_backend(pick_gpus(gpus, cfg.gpus), cpu);
#else
  return cpu;
#endif
}

}  // namespace tandem
