// SPDX-License-Identifier: Apache-2.0
#pragma once
// tandem smooth's GPU passes: plain C++ face (no CUDA header), so host code and tests include it
// with any compiler.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "smooth/volume_shape.h"

namespace tandem::cuda {

/// One axis of a separable, symmetric Gaussian: weights[k] for k = 0..radius, as
/// tandem::GaussianKernel holds them. radius 0 with no weights leaves the axis untouched.
struct SmoothAxis {
  int radius = 0;               ///< taps on each side (at most kMaxSmoothRadius)
  std::vector<double> weights;  ///< radius + 1 weights, centre first
};

/// Largest radius the GPU passes take (weights live in constant memory).
inline constexpr int kMaxSmoothRadius = 1023;

/// Usable CUDA devices; 0 (never an exception) with the reason in `why` when there are none.
int smooth_device_count(std::string* why);

/// Smooths `volumes` float32 volumes of `shape` (x fastest, volume after volume) from `in` into
/// `out` on `device`, bit-identical to tandem::SeparableGaussian with reflect edges: x, then y,
/// then z, each output w0·v + Σ_{k=r..1} w_k·(v[−k] + v[+k]) in float64 without fused
/// multiply-adds, rounded to float32 after each pass. Host buffers may be pageable; they are
/// page-locked for the call so that copies of one chunk of volumes overlap the passes on the
/// previous one (two streams). Throws CudaError.
void smooth_volumes_gpu(const float* in, float* out, const VolumeShape& shape, std::int64_t volumes,
                        const std::array<SmoothAxis, 3>& axes, int device = 0);

/// Milliseconds per run of the three passes alone over `volumes` volumes already on the device
/// (CUDA events, median of `repeats` runs): the number to compare with a memory-bound floor.
double time_gpu_passes_ms(const VolumeShape& shape, std::int64_t volumes,
                          const std::array<SmoothAxis, 3>& axes, int repeats, int device = 0);

}  // namespace tandem::cuda
