// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstdint>
#include <string>
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

/// Builds the kernel for `sigma` voxels (> 0, radius at most 2^26).
GaussianKernel make_gaussian_kernel(double sigma);

/// scipy's radius int(4σ + 0.5) for `sigma` voxels, in double: an absurd σ cannot overflow it.
double kernel_radius(double sigma);

/// The longest kernel radius, in voxels, that smoothing builds for an image whose longest axis
/// has `longest_axis` voxels: max(1024, 16 · longest_axis).
std::int64_t kernel_radius_limit(std::int64_t longest_axis);

/// Why the kernels for `sigma_voxels` are refused on an image whose longest axis has
/// `longest_axis` voxels ("kernel radius 14133231 voxels (x axis) is more than the limit ..."),
/// or "" when every axis is within kernel_radius_limit().
std::string kernel_radius_problem(const std::array<double, 3>& sigma_voxels,
                                  std::int64_t longest_axis);

/// The widest isotropic FWHM in mm whose kernels stay within kernel_radius_limit() on an image
/// with these voxel sizes (mm) and longest axis; infinity when no axis has a voxel size.
double widest_isotropic_fwhm_mm(const std::array<double, 3>& voxel_mm, std::int64_t longest_axis);

/// nilearn's σ per axis in voxels: fwhm_mm / (sqrt(8 ln 2) · voxel_mm); 0 where the fwhm or the
/// voxel size is 0 (that axis is not filtered).
std::array<double, 3> sigmas_in_voxels(const std::array<double, 3>& fwhm_mm,
                                       const std::array<double, 3>& voxel_mm);

/// numpy's pairwise summation of `n` doubles (np.sum on a contiguous float64 array).
double numpy_pairwise_sum(const double* a, long n);

}  // namespace tandem
