// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstdint>

#include "smooth/volume_shape.h"

namespace tandem {

/// Smoothness of an image per axis, as AFNI's `3dFWHMx -ShowMeClassicFWHM` reports it.
struct SmoothnessEstimate {
  /// FWHM in mm along x, y, z; -1 where the estimator is undefined on that axis (too few voxel
  /// pairs, zero variance, or a first-difference ratio outside (0, 1)).
  std::array<double, 3> fwhm_mm{-1.0, -1.0, -1.0};
  /// Geometric mean of the defined axes (AFNI's combined value); -1 when none is defined.
  double combined_mm = -1.0;
};

/// The classic first-difference estimator (Forman et al. 1995, AFNI mri_estimate_FWHM_1dif) on
/// one volume: per axis, arg = 1 − var(Δ)/(2·var(f)) and FWHM = sqrt(8 ln 2)·sqrt(−1/(4 ln arg))·d,
/// using voxels in `mask` (all voxels when null) and differences between neighbours both in it.
SmoothnessEstimate estimate_fwhm_classic(const float* volume, const VolumeShape& shape,
                                         const std::array<double, 3>& voxel_mm,
                                         const std::uint8_t* mask);

/// Averages per-volume estimates axis by axis over the volumes where the axis is defined (as
/// 3dFWHMx does for a time series); `combined_mm` is recomputed from the averages.
SmoothnessEstimate average_estimates(const SmoothnessEstimate* estimates, std::int64_t count);

}  // namespace tandem
