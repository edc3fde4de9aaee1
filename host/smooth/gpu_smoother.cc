// SPDX-License-Identifier: Apache-2.0
#include "smooth/gpu_smoother.h"

namespace tandem {

std::string GpuSmoother::unsupported(const SeparableGaussian& g) const {
  // The device passes reflect at the borders; fslmaths' renormalised edges exist on the CPU only.
  if (g.edges() != EdgeMode::kReflect) return "the GPU passes have reflect edges only, not fsl";
  for (int a = 0; a < 3; ++a) {
    const int r = g.kernel(a).radius;
    if (r > max_radius()) {
      return std::string("the Gaussian radius along ") + "xyz"[a] + ", " + std::to_string(r) +
             " voxels, exceeds the GPU passes' " + std::to_string(max_radius());
    }
  }
  return "";
}

}  // namespace tandem
