// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "smooth/volume_shape.h"

namespace tandem::run {

/// A synthetic resting-state study: Gaussian white noise around a constant baseline, smoothed with
/// a known FWHM, so that its smoothness is known before any pipeline touches it.
struct StudySpec {
  int subjects = 8;
  VolumeShape shape{64, 64, 32};  ///< grid of one volume
  std::int64_t volumes = 60;
  double voxel_mm = 3.0;    ///< isotropic voxel size
  double tr_seconds = 2.0;  ///< repetition time, stored in pixdim[4]
  double fwhm_mm = 4.0;     ///< smoothness of the noise as written
  double baseline = 100.0;  ///< mean signal
  std::uint64_t seed = 1;   ///< the same seed gives the same files
};

/// What write_synthetic_study() wrote.
struct Study {
  std::string participants_tsv;           ///< DIR/participants.tsv
  std::vector<std::string> participants;  ///< "sub-01", "sub-02", ...
  std::vector<std::string> bold_files;    ///< DIR/sub-XX/func/sub-XX_task-rest_bold.nii.gz
};

/// Writes a BIDS-like study under `dir` (created if missing): `participants.tsv` (a participant_id
/// column) and one 4-D float32 `sub-XX/func/sub-XX_task-rest_bold.nii.gz` per subject. Volumes are
/// generated and smoothed on `threads` threads. Throws Error on I/O errors.
Study write_synthetic_study(const std::string& dir, const StudySpec& spec, int threads);

/// Writes a float32 NIfTI-1 series from scratch (`volumes` volumes of `shape`, x fastest) to `path`
/// (.nii or .nii.gz, gzip on `threads` threads): isotropic `voxel_mm` voxels, scanner sform/qform
/// centred on the grid, units mm and s. Written to a temporary name and renamed.
void write_new_nifti(const std::string& path, const VolumeShape& shape, std::int64_t volumes,
                     double voxel_mm, double tr_seconds, const float* data, int threads);

}  // namespace tandem::run
