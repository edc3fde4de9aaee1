// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nifti2_io.h>

#include "smooth/volume_shape.h"

namespace tandem {

/// A NIfTI-1 or NIfTI-2 image (.nii or .nii.gz, either byte order) held in memory: the header as
/// nifti_clib's nifti_image (no data attached) and the voxel bytes exactly as stored in the file.
/// Volumes are decoded to float32 on demand, so a series is never held twice as float. Move-only.
class NiftiImage {
 public:
  /// Reads and validates `path`; gzip is inflated with ISA-L when available. Throws InputError
  /// (file, "", reason) for a file that is not NIfTI, truncated, 2-D, 5-D or more, or of an
  /// unsupported datatype (complex, RGB).
  static NiftiImage read(const std::string& path);

  NiftiImage(NiftiImage&&) noexcept;
  NiftiImage& operator=(NiftiImage&&) noexcept;
  ~NiftiImage();

  /// The path given to read().
  const std::string& path() const { return path_; }
  /// The parsed header (nifti_clib's struct; `data` is null).
  const nifti_image& header() const { return *nim_; }
  /// Grid of one volume.
  VolumeShape shape() const;
  /// Volumes: dim[4] for a 4-D image, 1 for a 3-D one.
  std::int64_t volumes() const;
  /// 1 for NIfTI-1, 2 for NIfTI-2.
  int nifti_version() const { return version_; }
  /// The header as stored (348 or 540 bytes), before any byte swapping.
  const std::vector<std::uint8_t>& raw_header() const { return raw_header_; }
  /// True when the file's byte order is not this machine's.
  bool swapped() const;
  /// Voxel sizes in mm as nibabel's `img.affine` column norms: sform when sform_code > 0, else
  /// qform when qform_code > 0, else |pixdim|.
  std::array<double, 3> voxel_sizes() const;
  /// The 3x3 part of that affine, row-major.
  std::array<double, 9> affine3() const;

  /// Decodes volume `t` into `out` (shape().voxels() floats) as nibabel's scaled data in float32:
  /// raw·scl_slope + scl_inter when the slope is finite and non-zero. Non-finite values become 0
  /// and are counted in the return value.
  std::size_t read_volume(std::int64_t t, float* out) const;

 private:
  NiftiImage() = default;
  std::string path_;
  nifti_image* nim_ = nullptr;
  std::vector<std::uint8_t> bytes_;  // whole (inflated) file
  std::size_t data_offset_ = 0;
  int version_ = 1;
  std::vector<std::uint8_t> raw_header_;
};

/// How write_nifti_like() stores voxels.
struct NiftiWriteOptions {
  /// NIfTI datatype code of the output: NIFTI_TYPE_FLOAT32, or the input's (values rounded to
  /// nearest, ties to even, and clipped to the type's range).
  int datatype = NIFTI_TYPE_FLOAT32;
  /// zlib-scale gzip level 0..9 for .nii.gz outputs.
  int compression_level = 1;
  /// Threads compressing gzip members in parallel.
  int threads = 1;
  /// Text for the header's descrip field (cut to 79 characters).
  std::string descrip;
};

/// Writes `data` (float32, `like`'s grid and volume count, x fastest) to `path` (.nii or .nii.gz)
/// in this machine's byte order with a copy of `like`'s header (every field as stored, extensions
/// too) except: datatype/bitpix, scl_slope = scl_inter = 0, glmax = glmin = 0, cal_min/cal_max =
/// the data range, descrip and vox_offset. Written to a temporary name in the same directory and
/// renamed, so `path` is either absent or complete.
void write_nifti_like(const NiftiImage& like, const std::string& path, const float* data,
                      const NiftiWriteOptions& options);

/// True when `path` ends in ".gz".
bool has_gz_suffix(const std::string& path);

}  // namespace tandem
