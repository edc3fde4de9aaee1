// SPDX-License-Identifier: Apache-2.0
#include "smooth/smoothness.h"

#include <cmath>

#include "smooth/gaussian_kernel.h"

namespace tandem {

namespace {

struct Moments {
  double sum = 0, sumsq = 0;
  std::int64_t count = 0;
  void add(double v) {
    sum += v;
    sumsq += v * v;
    ++count;
  }
  // Unbiased variance; -1 when fewer than 9 samples (AFNI's minimum).
  double variance() const {
    if (count < 9) return -1.0;
    return (sumsq - sum * sum / static_cast<double>(count)) / (static_cast<double>(count) - 1.0);
  }
};

double combined(const std::array<double, 3>& f) {
  double log_sum = 0;
  int n = 0;
  for (double v : f) {
    if (v > 0) {
      log_sum += std::log(v);
      ++n;
    }
  }
  return n == 0 ? -1.0 : std::exp(log_sum / n);
}

}  // namespace

SmoothnessEstimate estimate_fwhm_classic(const float* f, const VolumeShape& s,
                                         const std::array<double, 3>& voxel_mm,
                                         const std::uint8_t* mask) {
  Moments all;
  Moments diff[3];
  const std::int64_t step[3] = {1, s.nx, s.nx * s.ny};
  auto in_mask = [&](std::int64_t i) { return mask == nullptr || mask[i] != 0; };
  for (std::int64_t z = 0; z < s.nz; ++z) {
    for (std::int64_t y = 0; y < s.ny; ++y) {
      for (std::int64_t x = 0; x < s.nx; ++x) {
        std::int64_t i = (z * s.ny + y) * s.nx + x;
        if (!in_mask(i)) continue;
        all.add(f[i]);
        const bool has_next[3] = {x + 1 < s.nx, y + 1 < s.ny, z + 1 < s.nz};
        for (int a = 0; a < 3; ++a) {
          if (has_next[a] && in_mask(i + step[a])) {
            diff[a].add(static_cast<double>(f[i + step[a]]) - static_cast<double>(f[i]));
          }
        }
      }
    }
  }
  SmoothnessEstimate est;
  const double var = all.variance();
  if (var <= 0) return est;
  for (int a = 0; a < 3; ++a) {
    double vd = diff[a].variance();
    if (vd <= 0) continue;
    double arg = 1.0 - 0.5 * (vd / var);
    if (arg <= 0.0 || arg >= 1.0) continue;
    est.fwhm_mm[a] = fwhm_per_sigma() * std::sqrt(-1.0 / (4.0 * std::log(arg))) * voxel_mm[a];
  }
  est.combined_mm = combined(est.fwhm_mm);
  return est;
}

SmoothnessEstimate average_estimates(const SmoothnessEstimate* e, std::int64_t count) {
  SmoothnessEstimate out;
  for (int a = 0; a < 3; ++a) {
    double sum = 0;
    int n = 0;
    for (std::int64_t t = 0; t < count; ++t) {
      if (e[t].fwhm_mm[a] > 0) {
        sum += e[t].fwhm_mm[a];
        ++n;
      }
    }
    if (n > 0) out.fwhm_mm[a] = sum / n;
  }
  out.combined_mm = combined(out.fwhm_mm);
  return out;
}

}  // namespace tandem
