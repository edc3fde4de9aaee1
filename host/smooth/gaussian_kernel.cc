// SPDX-License-Identifier: Apache-2.0
#include "smooth/gaussian_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace tandem {

double fwhm_per_sigma() { return std::sqrt(8.0 * std::log(2.0)); }

double numpy_pairwise_sum(const double* a, long n) {
  // numpy/core/src/umath/loops_utils.h.src: 8 accumulators up to 128 elements, halves above.
  if (n < 8) {
    double res = 0.0;
    for (long i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    long i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  long n2 = n / 2;
  n2 -= n2 % 8;
  return numpy_pairwise_sum(a, n2) + numpy_pairwise_sum(a + n2, n - n2);
}

double kernel_radius(double sigma) { return std::floor(4.0 * sigma + 0.5); }

// With scipy's reflect edges an axis of n voxels repeats with period 2n, so a kernel of σ = 4n
// (radius 16n) already turns every line into its mean: the folded Gaussian's first Fourier
// coefficient is exp(-π²σ²/2n²) < 1e-34, and what remains is the ~1e-4 of the line's range that
// the truncation at 4σ leaves. A longer kernel changes nothing that matters but costs time and
// memory in proportion to its radius (an FWHM of 1e8 mm asked for gigabytes and minutes). The floor
// of 1024 voxels keeps small images (a few slices, a test phantom) open to any FWHM a study uses:
// at 1 mm that is an FWHM of 600 mm. Kernels within the limit are built exactly as before, so
// accepted values stay scipy's to the bit.
std::int64_t kernel_radius_limit(std::int64_t longest_axis) {
  return std::max<std::int64_t>(1024, 16 * longest_axis);
}

std::string kernel_radius_problem(const std::array<double, 3>& sigma_voxels,
                                  std::int64_t longest_axis) {
  const std::int64_t limit = kernel_radius_limit(longest_axis);
  for (int a = 0; a < 3; ++a) {
    const double r = kernel_radius(sigma_voxels[a]);
    if (!(r <= static_cast<double>(limit))) {
      char radius[32];
      if (r < 1e15) {
        std::snprintf(radius, sizeof radius, "%.0f", r);
      } else {
        std::snprintf(radius, sizeof radius, "%.3g", r);
      }
      return std::string("kernel radius ") + radius + " voxels (" + "xyz"[a] +
             " axis) is more than the limit of " + std::to_string(limit) +
             " voxels for this image (the larger of 1024 and 16 × its longest axis of " +
             std::to_string(longest_axis) + " voxels)";
    }
  }
  return "";
}

double widest_isotropic_fwhm_mm(const std::array<double, 3>& voxel_mm, std::int64_t longest_axis) {
  double smallest = INFINITY;
  for (double v : voxel_mm) {
    if (v > 0) smallest = std::min(smallest, v);
  }
  // σ a hair under limit/4 on the finest axis: 4σ + 0.5 rounds down to the limit itself.
  const double sigma = static_cast<double>(kernel_radius_limit(longest_axis)) / 4 * (1 - 1e-12);
  return sigma * fwhm_per_sigma() * smallest;
}

GaussianKernel make_gaussian_kernel(double sigma) {
  TANDEM_EXPECTS(sigma > 0 && std::isfinite(sigma), "sigma must be positive and finite");
  // The callers check kernel_radius_problem() first; this keeps the int radius and x² exact.
  TANDEM_EXPECTS(kernel_radius(sigma) <= 67108864.0,
                 "sigma is too large for a kernel (radius > 2^26)");
  GaussianKernel k;
  k.sigma = sigma;
  k.radius = static_cast<int>(kernel_radius(sigma));
  const double sigma2 = sigma * sigma;
  const double c = -0.5 / sigma2;
  std::vector<double> phi(2 * static_cast<std::size_t>(k.radius) + 1);
  for (int x = -k.radius; x <= k.radius; ++x) {
    phi[static_cast<std::size_t>(x + k.radius)] = std::exp(c * (static_cast<double>(x) * x));
  }
  const double sum = numpy_pairwise_sum(phi.data(), static_cast<long>(phi.size()));
  k.weights.resize(static_cast<std::size_t>(k.radius) + 1);
  for (int x = 0; x <= k.radius; ++x) {
    k.weights[static_cast<std::size_t>(x)] = phi[static_cast<std::size_t>(x + k.radius)] / sum;
  }
  return k;
}

std::array<double, 3> sigmas_in_voxels(const std::array<double, 3>& fwhm_mm,
                                       const std::array<double, 3>& voxel_mm) {
  std::array<double, 3> s{};
  const double ratio = fwhm_per_sigma();
  for (int i = 0; i < 3; ++i) {
    s[i] = (fwhm_mm[i] == 0.0 || voxel_mm[i] == 0.0) ? 0.0 : fwhm_mm[i] / (ratio * voxel_mm[i]);
  }
  return s;
}

}  // namespace tandem
