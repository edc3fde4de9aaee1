// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem {

/// Grid of a 3-D image or of each volume of a 4-D series, x fastest in memory.
struct VolumeShape {
  std::int64_t nx = 1;  ///< voxels along i (fastest)
  std::int64_t ny = 1;  ///< voxels along j
  std::int64_t nz = 1;  ///< voxels along k (slowest)
  /// Voxels in one volume.
  std::size_t voxels() const { return static_cast<std::size_t>(nx * ny * nz); }
  bool operator==(const VolumeShape& o) const { return nx == o.nx && ny == o.ny && nz == o.nz; }
};

}  // namespace tandem
