// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <vector>

namespace tandem {

/// sqrt(8 ln 2): FWHM = kFwhmPerSigma · σ.
double fwhm_per_sigma();

/// A symmetric 1-D Gaussian exactly as scipy.ndimage.gaussian_filter1d builds it (truncate 4):
/// radius = int(4σ + 0.5), w[k] ∝ exp(-0.5/σ² · k²) in float64, normalised by numpy's pairwise
/// sum over k = -radius..radius.
struct GaussianKernel {
  double sigma = 0;             ///< standard deviation in voxels
  int radius = 0;               ///< taps on each side of the centre
  std::vector<double> weights;  ///< weights[k] for k = 0..radius (the kernel is symmetric)
};

/// Builds the kernel for `sigma` voxels (> 0).
GaussianKernel make_gaussian_kernel(double sigma);

/// nilearn's σ per axis in voxels: fwhm_mm / (sqrt(8 ln 2) · voxel_mm); 0 where the fwhm or the
/// voxel size is 0 (that axis is not filtered).
std::array<double, 3> sigmas_in_voxels(const std::array<double, 3>& fwhm_mm,
                                       const std::array<double, 3>& voxel_mm);

/// numpy's pairwise summation of `n` doubles (np.sum on a contiguous float64 array).
double numpy_pairwise_sum(const double* a, long n);

}  // namespace tandem
