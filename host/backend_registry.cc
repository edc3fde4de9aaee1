// SPDX-License-Identifier: Apache-2.0
// The one place that knows whether the CUDA backend is compiled in. It lives in a shared
// module (cuda/cuda_api.h) loaded on first use, and only where an NVIDIA driver is installed,
// so CPU machines never pay for loading cuSOLVER and cuBLAS.
#include "backend_registry.h"

#include <dlfcn.h>

#include <array>
#include <mutex>

#include "core/error.h"
#include "core/self_exe.h"
#include "smooth/gpu_smoother.h"
#include "svd/cpu_backend.h"

#ifdef TANDEM_HAVE_CUDA
#include "cuda_api.h"
#endif

namespace tandem {

namespace {

#ifdef TANDEM_HAVE_CUDA

std::string exe_dir() {
  try {
    const std::string path = self_executable();
    return path.substr(0, path.find_last_of('/'));
  } catch (const Error&) {
    return ".";
  }
}

// The module beside the binary (build tree), in ../lib/tandem (installed), or where
// TANDEM_CUDA_PLUGIN points.
void* open_plugin(std::string* tried) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("TANDEM_CUDA_PLUGIN")) candidates.emplace_back(env);
  const std::string dir = exe_dir();
  candidates.push_back(dir + "/" + cuda::kCudaPluginFile);
  candidates.push_back(dir + "/../lib/tandem/" + cuda::kCudaPluginFile);
  for (const std::string& c : candidates) {
    if (void* h = ::dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
    const char* err = ::dlerror();
    *tried += (tried->empty() ? "" : "; ") + std::string(err ? err : c);
  }
  return nullptr;
}

struct PluginState {
  const cuda::CudaPlugin* plugin = nullptr;
  std::string why_none;  // set when plugin is null
};

const PluginState& plugin_state() {
  static PluginState state;
  static std::once_flag once;
  std::call_once(once, [] {
    // No driver, no GPU: answer without loading the CUDA libraries at all.
    if (!::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL)) {
      state.why_none = "no NVIDIA driver found (libcuda.so.1 is not installed)";
      return;
    }
    std::string tried;
    void* handle = open_plugin(&tried);
    if (!handle) {
      state.why_none = "the CUDA backend module could not be loaded: " + tried;
      return;
    }
    using Entry = const cuda::CudaPlugin* (*)();
    auto entry = reinterpret_cast<Entry>(::dlsym(handle, cuda::kCudaPluginSymbol));
    const cuda::CudaPlugin* plugin = entry ? entry() : nullptr;
    if (!plugin || plugin->abi_version != cuda::kCudaPluginAbi) {
      state.why_none = std::string("the CUDA backend module ") + cuda::kCudaPluginFile +
                       " does not match this tandem binary";
      return;
    }
    state.plugin = plugin;
  });
  return state;
}

// tandem smooth's passes through the module. Errors the module throws (CudaError) pass through
// as they do for make_backend and CudaBackend::svd: both sides share one compiler and libstdc++.
class PluginSmoother : public GpuSmoother {
 public:
  PluginSmoother(const cuda::CudaPlugin* plugin, const GpuInfo& gpu)
      : plugin_(plugin),
        device_(gpu.ordinal),
        name_("cuda:" + std::to_string(gpu.ordinal) + " (" + gpu.name + ")") {}

  std::string name() const override { return name_; }
  int max_radius() const override { return plugin_->max_smooth_radius; }

  void apply(const SeparableGaussian& g, const float* in, float* out,
             std::int64_t volumes) const override {
    TANDEM_EXPECTS(unsupported(g).empty(), "GPU smoothing: " + unsupported(g));
    std::array<cuda::SmoothAxis, 3> axes;
    for (int a = 0; a < 3; ++a) {
      axes[static_cast<std::size_t>(a)].radius = g.kernel(a).radius;
      axes[static_cast<std::size_t>(a)].weights = g.kernel(a).weights;
    }
    // The module keeps the weights in the device's constant memory: one call at a time, from
    // any smoother in the process.
    std::lock_guard<std::mutex> lock(mu_);
    plugin_->smooth_volumes(in, out, g.shape(), volumes, axes, device_);
  }

 private:
  const cuda::CudaPlugin* plugin_;
  int device_;
  std::string name_;
  static inline std::mutex mu_;
};

#endif

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

bool cuda_compiled_in() {
#ifdef TANDEM_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

std::vector<GpuInfo> list_gpus(std::string* why_none) {
#ifdef TANDEM_HAVE_CUDA
  const PluginState& s = plugin_state();
  if (!s.plugin) {
    if (why_none) *why_none = s.why_none;
    return {};
  }
  return s.plugin->list_devices(why_none);
#else
  if (why_none) *why_none = "this tandem was built without CUDA (TANDEM_CUDA=OFF or no nvcc)";
  return {};
#endif
}

std::string cuda_versions() {
#ifdef TANDEM_HAVE_CUDA
  const PluginState& s = plugin_state();
  return s.plugin ? s.plugin->versions() : "not loaded (" + s.why_none + ")";
#else
  return "not compiled in";
#endif
}

std::shared_ptr<GpuSmoother> make_gpu_smoother(DeviceChoice device, std::string* note) {
  if (device == DeviceChoice::kCpu) return nullptr;
  std::string why;
  std::vector<GpuInfo> gpus = list_gpus(&why);
  if (gpus.empty()) {
    if (device == DeviceChoice::kGpu) throw NoDeviceError("--device gpu: " + why);
    if (note) *note = why + "; smoothing on the CPU";
    return nullptr;
  }
#ifdef TANDEM_HAVE_CUDA
  return std::make_shared<PluginSmoother>(plugin_state().plugin, gpus.front());
#else
  return nullptr;
#endif
}

std::shared_ptr<Backend> make_backend(const BackendConfig& cfg, std::string* note) {
  // Checked before looking for devices, so that a plan is refused the same way everywhere:
  // twice the same card would be two feeders each planning its memory as if alone.
  for (std::size_t i = 0; i < cfg.gpus.size(); ++i) {
    if (cfg.gpus[i] < 0) throw UsageError("--gpus: device numbers start at 0");
    for (std::size_t j = 0; j < i; ++j) {
      if (cfg.gpus[j] == cfg.gpus[i]) {
        throw UsageError("--gpus names device " + std::to_string(cfg.gpus[i]) + " twice");
      }
    }
  }
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
  return plugin_state().plugin->make_backend(pick_gpus(gpus, cfg.gpus), cpu,
                                             cfg.device == DeviceChoice::kGpu);
#else
  return cpu;
#endif
}

}  // namespace tandem
