// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>

#include "smooth/separable_filter.h"

namespace tandem {

/// A CUDA device running SeparableGaussian's passes: the plain C++ face of cuda/smooth_gpu.h.
/// host/backend_registry.cc makes the one implementation, from the CUDA module
/// (make_gpu_smoother()); tests may fake it. The passes implement scipy's reflect edges only.
class GpuSmoother {
 public:
  virtual ~GpuSmoother() = default;

  /// The device, for summaries and reports: "cuda:0 (NVIDIA H100 80GB HBM3)".
  virtual std::string name() const = 0;
  /// Largest kernel radius (taps on each side of the centre) apply() takes.
  virtual int max_radius() const = 0;
  /// Filters `volumes` consecutive volumes of g.shape() from `in` into `out` (host memory,
  /// pageable, not aliasing), each bit for bit as g.apply() would. Requires unsupported(g) to be
  /// empty. Blocks until `out` is written. Thread-safe: concurrent calls run one after the other.
  /// Throws CudaError (or Error) when the device fails.
  virtual void apply(const SeparableGaussian& g, const float* in, float* out,
                     std::int64_t volumes) const = 0;

  /// Why `g` cannot run on this device, in a few words (fsl edges, too large a radius), or "" when
  /// it can.
  std::string unsupported(const SeparableGaussian& g) const;
};

}  // namespace tandem
