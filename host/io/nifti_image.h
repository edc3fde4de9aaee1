// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <nifti2_io.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "smooth/volume_shape.h"

namespace tandem {

/// A NIfTI-1 or NIfTI-2 image (.nii or .nii.gz, either byte order) held in memory: the header as
/// nifti_clib's nifti_image (no data attached) and the voxel bytes exactly as stored in the file.
/// Volumes are decoded to float32 on demand, so a series is never held twice as float. Move-only.
class NiftiImage {
 public:
  /// Reads and validates `path`'s header; gzip is inflated with ISA-L when available, the voxel
  /// data in a background thread while callers already decode the first volumes. Throws
  /// InputError (file, "", reason) for a file that is not NIfTI, truncated, 2-D, 5-D or more, or
  /// of an unsupported datatype (complex, RGB); truncation past the header surfaces from
  /// read_volume() / wait_complete().
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

  /// True while a background thread may still be inflating the voxel data (.nii.gz input): that
  /// thread takes one core of the caller's budget.
  bool inflating() const;
  /// Blocks until every voxel byte is inflated; throws InputError if the file is truncated.
  void wait_complete() const;

  /// Decodes volume `t` into `out` (shape().voxels() floats) as nibabel's scaled data in float32:
  /// raw·scl_slope + scl_inter when the slope is finite and non-zero. Non-finite values become 0
  /// and are counted in the return value.
  std::size_t read_volume(std::int64_t t, float* out) const;

 private:
  struct Stream;
  NiftiImage();
  void validate() const;
  void load();  // read()'s parsing, run guarded against the file shrinking under the mapping
  std::string path_;
  nifti_image* nim_ = nullptr;
  std::unique_ptr<Stream> stream_;  // the bytes; .nii.gz keep inflating in the background
  std::size_t data_offset_ = 0;
  int version_ = 1;
  std::vector<std::uint8_t> raw_header_;
};

/// True when `path` ends in ".gz".
bool has_gz_suffix(const std::string& path);

}  // namespace tandem
