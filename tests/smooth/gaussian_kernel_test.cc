// SPDX-License-Identifier: Apache-2.0
#include "smooth/gaussian_kernel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "smooth/separable_filter.h"
#include "smooth_test_util.h"

namespace tandem {
namespace {

using smooth_testing::python;
using smooth_testing::run;

std::vector<double> parse_hex_list(const std::string& text) {
  std::vector<double> out;
  std::istringstream in(text);
  std::string tok;
  while (in >> tok) out.push_back(std::strtod(tok.c_str(), nullptr));
  return out;
}

// |a − b| in units of b's last place.
double ulps(double a, double b) {
  double ulp = std::nextafter(std::fabs(b), INFINITY) - std::fabs(b);
  return std::fabs(a - b) / ulp;
}

TEST(GaussianKernelTest, RadiusFollowsScipyTruncation) {
  EXPECT_EQ(make_gaussian_kernel(0.3).radius, 1);    // int(1.2 + 0.5)
  EXPECT_EQ(make_gaussian_kernel(0.849).radius, 3);  // int(3.396 + 0.5)
  EXPECT_EQ(make_gaussian_kernel(0.875).radius, 4);  // int(3.5 + 0.5)
  EXPECT_EQ(make_gaussian_kernel(2.5).radius, 10);
}

TEST(GaussianKernelTest, WeightsSumToOneAndDecrease) {
  GaussianKernel k = make_gaussian_kernel(1.7);
  double sum = k.weights[0];
  for (int i = 1; i <= k.radius; ++i) {
    sum += 2 * k.weights[static_cast<std::size_t>(i)];
    EXPECT_LT(k.weights[static_cast<std::size_t>(i)], k.weights[static_cast<std::size_t>(i - 1)]);
  }
  EXPECT_NEAR(sum, 1.0, 1e-15);
}

TEST(GaussianKernelTest, RejectsNonPositiveSigma) {
  EXPECT_THROW(make_gaussian_kernel(0.0), Error);
  EXPECT_THROW(make_gaussian_kernel(-1.0), Error);
  EXPECT_THROW(make_gaussian_kernel(NAN), Error);
}

TEST(GaussianKernelTest, RadiusLimitIsTheLargerOf1024And16TimesTheLongestAxis) {
  EXPECT_EQ(kernel_radius_limit(8), 1024);
  EXPECT_EQ(kernel_radius_limit(64), 1024);
  EXPECT_EQ(kernel_radius_limit(256), 4096);
  EXPECT_EQ(kernel_radius_problem({255.9, 1, 0}, 8), "");  // radius 1024
  EXPECT_EQ(kernel_radius_problem({256.2, 1, 0}, 8),
            "kernel radius 1025 voxels (x axis) is more than the limit of 1024 voxels for this "
            "image (the larger of 1024 and 16 × its longest axis of 8 voxels)");
  EXPECT_NE(kernel_radius_problem({1, 1, 1e300}, 8).find("4e+300 voxels (z axis)"),
            std::string::npos);
  // The widest isotropic FWHM builds the limit's radius on the finest axis, and no more.
  const double f = widest_isotropic_fwhm_mm({3, 2, 4}, 300);
  auto s = sigmas_in_voxels({f, f, f}, {3, 2, 4});
  EXPECT_EQ(kernel_radius(s[1]), 4800);
  EXPECT_EQ(kernel_radius_problem(s, 300), "");
  EXPECT_THROW(SeparableGaussian({8, 8, 8}, {256.2, 0, 0}, EdgeMode::kReflect), Error);
}

TEST(GaussianKernelTest, SigmaFromFwhmAsNilearn) {
  auto s = sigmas_in_voxels({6, 6, 0}, {3, 2, 3});
  EXPECT_DOUBLE_EQ(s[0], 6.0 / (std::sqrt(8 * std::log(2.0)) * 3));
  EXPECT_DOUBLE_EQ(s[1], 6.0 / (std::sqrt(8 * std::log(2.0)) * 2));
  EXPECT_EQ(s[2], 0.0);
}

TEST(GaussianKernelTest, PairwiseSumMatchesNumpyBitForBit) {
  TANDEM_REQUIRE_PYTHON();
  for (int n : {5, 8, 21, 127, 129, 300}) {
    auto r = run(python() + " -c 'import numpy as np; a=np.random.default_rng(" +
                 std::to_string(n) + ").standard_normal(" + std::to_string(n) +
                 ")*1e3; print(\" \".join(float.hex(float(v)) for v in a)); "
                 "print(float.hex(float(a.sum())))'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::vector<double> v = parse_hex_list(r.output);
    ASSERT_EQ(v.size(), static_cast<std::size_t>(n) + 1);
    EXPECT_EQ(numpy_pairwise_sum(v.data(), n), v.back()) << "n = " << n;
  }
}

TEST(GaussianKernelTest, WeightsMatchScipyWithinOneUlp) {
  TANDEM_REQUIRE_PYTHON();
  for (double sigma : {0.31849567510800714, 0.6369913502160143, 0.849321800288, 1.2739827004320285,
                       1.9817508673387112, 3.3, 7.1}) {
    GaussianKernel k = make_gaussian_kernel(sigma);
    char cmd[400];
    std::snprintf(cmd, sizeof cmd,
                  " -c 'from scipy.ndimage import _filters as f; s=float.fromhex(\"%a\"); "
                  "r=int(4*s+0.5); print(\" \".join(float.hex(float(v)) for v in "
                  "f._gaussian_kernel1d(s, 0, r)))'",
                  sigma);
    auto r = run(python() + cmd);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::vector<double> ref = parse_hex_list(r.output);
    ASSERT_EQ(ref.size(), 2 * static_cast<std::size_t>(k.radius) + 1) << "sigma " << sigma;
    for (int x = -k.radius; x <= k.radius; ++x) {
      double mine = k.weights[static_cast<std::size_t>(std::abs(x))];
      // numpy's SIMD exp (AVX-512 builds) and glibc's exp may differ in the last bit of a double,
      // and the normalising sum inherits it: 2 double ulps, far below a float32 ulp.
      EXPECT_LE(ulps(mine, ref[static_cast<std::size_t>(x + k.radius)]), 2.0)
          << "sigma " << sigma << " k " << x;
    }
  }
}

}  // namespace
}  // namespace tandem
