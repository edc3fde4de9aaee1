// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/nifti_image.h"

namespace tandem {

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

/// Everything before vox_offset of an output written like `like`: the header as write_nifti_like()
/// describes, the extender and the extensions, in this machine's byte order. Its size does not
/// depend on `cal_min`/`cal_max`, so a writer can reserve room and fill it in last.
std::vector<std::uint8_t> nifti_output_header(const NiftiImage& like, int datatype, double cal_min,
                                              double cal_max, const std::string& descrip);

/// True when an output named `path` is written gzip-compressed: its name ends in ".gz" in any
/// case, so that x.NII.GZ is as much a .nii.gz as x.nii.gz is.
bool gzip_output_name(const std::string& path);

/// Bytes per voxel of a NIfTI datatype code.
int nifti_bytes_per_voxel(int datatype);

/// Converts `n` floats to `datatype` (as NiftiWriteOptions describes) into `out`
/// (n · nifti_bytes_per_voxel(datatype) bytes, native byte order).
void encode_voxels(int datatype, const float* in, std::size_t n, std::uint8_t* out);

}  // namespace tandem
