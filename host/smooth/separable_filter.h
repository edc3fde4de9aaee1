// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <vector>

#include "smooth/gaussian_kernel.h"
#include "smooth/volume_shape.h"

namespace tandem {

/// What lies beyond the image border.
enum class EdgeMode {
  kReflect,  ///< scipy's 'reflect' (d c b a | a b c d | d c b a), nilearn's default
  kFsl,      ///< zero outside, renormalised by the in-bounds weights, as `fslmaths -s`
};

/// Separable 3-D Gaussian smoothing of float32 volumes, bit-identical to three
/// scipy.ndimage.gaussian_filter1d calls (x, then y, then z) in float32 for kReflect: each output
/// is w0·in[n] + Σ_{k=r..1} w_k·(in[n−k] + in[n+k]) summed in float64, rounded to float32 after
/// each pass. Every pass streams through memory along x (no transposed copies). Immutable after
/// construction; apply() may run concurrently from several threads on different buffers.
class SeparableGaussian {
 public:
  /// `sigma_voxels[a]` = 0 leaves axis a untouched.
  SeparableGaussian(VolumeShape shape, const std::array<double, 3>& sigma_voxels, EdgeMode edges);

  /// Filters `in` into `out`; `scratch` is a third buffer of shape().voxels() floats. None may
  /// alias. `threads` > 1 splits each pass by slices (for a single large volume). Polls
  /// interrupted() between lines and throws InterruptedError.
  void apply(const float* in, float* out, float* scratch, int threads = 1) const;

  const VolumeShape& shape() const { return shape_; }
  /// What lies beyond the border.
  EdgeMode edges() const { return edges_; }
  /// The kernel for axis a (radius 0 and no weights when that axis is skipped).
  const GaussianKernel& kernel(int axis) const { return kernels_[axis]; }

 private:
  void pass_x(const float* in, float* out, std::int64_t z0, std::int64_t z1) const;
  void pass_y(const float* in, float* out, std::int64_t z0, std::int64_t z1) const;
  void pass_z(const float* in, float* out, std::int64_t z0, std::int64_t z1) const;

  VolumeShape shape_;
  EdgeMode edges_;
  std::array<GaussianKernel, 3> kernels_;
  std::array<bool, 3> active_{};
  // kFsl: per position, 1 / (sum of in-bounds weights) along each axis.
  std::array<std::vector<double>, 3> inv_norm_;
};

/// scipy's reflect index for position i on an axis of n samples (any i, any n ≥ 1).
inline std::int64_t reflect_index(std::int64_t i, std::int64_t n) {
  std::int64_t period = 2 * n;
  std::int64_t m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

}  // namespace tandem
