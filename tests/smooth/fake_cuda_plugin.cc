// SPDX-License-Identifier: Apache-2.0
// A stand-in for libtandem_cuda.so on machines without a GPU: the same entry point and CudaPlugin
// table, one fake device, and tandem smooth's passes computed on the CPU in the kernels' order.
// With it (and an empty libcuda.so.1 on LD_LIBRARY_PATH), `tandem smooth --device gpu` runs
// through the registry, the module ABI and the CLI's GPU path. TANDEM_FAKE_CUDA_FAIL=1 makes the
// passes throw CudaError, which must cross the module boundary as the real module's errors do.
#include <algorithm>
#include <array>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "cuda_api.h"

namespace tandem::cuda {
namespace {

std::vector<GpuInfo> fake_devices(std::string* why_none) {
  if (why_none) why_none->clear();
  GpuInfo g;
  g.ordinal = 0;
  g.name = "Fake GPU";
  g.total_bytes = g.free_bytes = std::int64_t{1} << 30;
  g.cc_major = 9;
  g.multiprocessors = 1;
  return {g};
}

std::string fake_versions() { return "runtime fake, driver fake"; }

std::int64_t reflect(std::int64_t i, std::int64_t n) {
  const std::int64_t period = 2 * n;
  std::int64_t m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

// One axis over all volumes: w0·v + Σ_{k=r..1} w_k·(v[−k] + v[+k]) in double, then float.
void pass(const float* in, float* out, const VolumeShape& s, std::int64_t volumes, int axis,
          const SmoothAxis& ax) {
  const std::int64_t n = axis == 0 ? s.nx : axis == 1 ? s.ny : s.nz;
  const std::int64_t stride = axis == 0 ? 1 : axis == 1 ? s.nx : s.nx * s.ny;
  const std::int64_t total = static_cast<std::int64_t>(s.voxels()) * volumes;
  for (std::int64_t i = 0; i < total; ++i) {
    const std::int64_t p = (i / stride) % n;
    double acc = static_cast<double>(in[i]) * ax.weights[0];
    for (int k = ax.radius; k >= 1; --k) {
      const double lo = in[i + (reflect(p - k, n) - p) * stride];
      const double hi = in[i + (reflect(p + k, n) - p) * stride];
      acc = acc + (lo + hi) * ax.weights[static_cast<std::size_t>(k)];
    }
    out[i] = static_cast<float>(acc);
  }
}

void fake_smooth(const float* in, float* out, const VolumeShape& shape, std::int64_t volumes,
                 const std::array<SmoothAxis, 3>& axes, int device) {
  const char* fail = std::getenv("TANDEM_FAKE_CUDA_FAIL");
  if (fail && *fail == '1') {
    throw CudaError("fake_smooth: an illegal memory access was encountered (device " +
                    std::to_string(device) + ")");
  }
  const std::size_t total = shape.voxels() * static_cast<std::size_t>(volumes);
  std::vector<float> a(in, in + total), b(total);
  for (int axis = 0; axis < 3; ++axis) {
    if (axes[static_cast<std::size_t>(axis)].radius <= 0) continue;
    pass(a.data(), b.data(), shape, volumes, axis, axes[static_cast<std::size_t>(axis)]);
    a.swap(b);
  }
  std::copy(a.begin(), a.end(), out);
}

}  // namespace
}  // namespace tandem::cuda

extern "C" __attribute__((visibility("default"))) const tandem::cuda::CudaPlugin*
tandem_cuda_plugin() {
  static const tandem::cuda::CudaPlugin kPlugin{
      tandem::cuda::kCudaPluginAbi,   &tandem::cuda::fake_devices,
      &tandem::cuda::fake_versions,   nullptr,
      tandem::cuda::kMaxSmoothRadius, &tandem::cuda::fake_smooth};
  return &kPlugin;
}
