// SPDX-License-Identifier: Apache-2.0
#pragma once
// NIfTI voxel data of any supported datatype, either byte order, into float32 as nibabel gives
// it (nilearn's smooth_img works on that): the bits tandem smooth starts from.

#include <cstddef>
#include <cstdint>
#include <string>

namespace tandem {

/// nibabel holds scl_slope and scl_inter as Python floats, so scaled data is computed in float64
/// (raw·slope, then +inter) and rounded to float32 once; unscaled data is converted directly.
enum class NiftiScaling { kNone, kFloat64 };

/// Decodes `n` values of NIfTI `datatype` (one already checked as supported) at `src`, stored
/// byte-swapped when `swap`, into `out` as float32; non-finite results become 0. Returns how
/// many did. Throws InputError naming `path` for an unsupported datatype.
std::size_t decode_volume(int datatype, const std::uint8_t* src, std::size_t n, bool swap,
                          NiftiScaling scaling, double slope, double inter, float* out,
                          const std::string& path);

}  // namespace tandem
