// SPDX-License-Identifier: Apache-2.0
#include "smooth/gaussian_kernel.h"

#include <cmath>

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

GaussianKernel make_gaussian_kernel(double sigma) {
  TANDEM_EXPECTS(sigma > 0 && std::isfinite(sigma), "sigma must be positive and finite");
  GaussianKernel k;
  k.sigma = sigma;
  k.radius = static_cast<int>(4.0 * sigma + 0.5);
  const double sigma2 = sigma * sigma;
  const double c = -0.5 / sigma2;
  std::vector<double> phi(2 * static_cast<std::size_t>(k.radius) + 1);
  for (int x = -k.radius; x <= k.radius; ++x) {
    phi[static_cast<std::size_t>(x + k.radius)] = std::exp(c * static_cast<double>(x * x));
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
