// SPDX-License-Identifier: Apache-2.0
#include "smooth/separable_filter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "smooth/gaussian_kernel.h"

namespace tandem {
namespace {

std::vector<float> run_filter(const SeparableGaussian& g, const std::vector<float>& in,
                              int threads = 1) {
  std::vector<float> out(in.size()), scratch(in.size());
  g.apply(in.data(), out.data(), scratch.data(), threads);
  return out;
}

TEST(SeparableGaussianTest, ReflectIndexIsScipysReflect) {
  // d c b a | a b c d | d c b a, and periodic beyond for short axes.
  std::vector<std::int64_t> got;
  for (int i = -5; i < 8; ++i) got.push_back(reflect_index(i, 3));
  std::vector<std::int64_t> want = {1, 2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0, 1};
  EXPECT_EQ(got, want);
  for (int i = -4; i < 4; ++i) EXPECT_EQ(reflect_index(i, 1), 0);
}

TEST(SeparableGaussianTest, OneDimensionalPassMatchesHandComputation) {
  // A 5-sample line along x, sigma 0.6 (radius 2), reflect edges, computed by hand in float64.
  VolumeShape s{5, 1, 1};
  SeparableGaussian g(s, {0.6, 0, 0}, EdgeMode::kReflect);
  const GaussianKernel& k = g.kernel(0);
  ASSERT_EQ(k.radius, 2);
  std::vector<float> in = {1.0f, 4.0f, -2.0f, 8.5f, 3.25f};
  std::vector<float> out = run_filter(g, in);
  for (int n = 0; n < 5; ++n) {
    double acc = static_cast<double>(in[static_cast<std::size_t>(n)]) * k.weights[0];
    for (int j = 2; j >= 1; --j) {
      acc += (static_cast<double>(in[static_cast<std::size_t>(reflect_index(n - j, 5))]) +
              static_cast<double>(in[static_cast<std::size_t>(reflect_index(n + j, 5))])) *
             k.weights[static_cast<std::size_t>(j)];
    }
    EXPECT_EQ(out[static_cast<std::size_t>(n)], static_cast<float>(acc)) << "n " << n;
  }
}

TEST(SeparableGaussianTest, ImpulseHasRequestedFwhmOnEachAnisotropicAxis) {
  const std::array<double, 3> voxel = {2.0, 3.0, 4.0};
  const double fwhm = 8.0;
  VolumeShape s{41, 41, 41};
  std::vector<float> in(s.voxels(), 0.0f);
  in[(20 * 41 + 20) * 41 + 20] = 1.0f;
  SeparableGaussian g(s, sigmas_in_voxels({fwhm, fwhm, fwhm}, voxel), EdgeMode::kReflect);
  std::vector<float> out = run_filter(g, in);
  // Second moment along each axis through the centre, in mm: FWHM = sqrt(8 ln 2)·σ.
  for (int a = 0; a < 3; ++a) {
    double m0 = 0, m2 = 0;
    for (int i = 0; i < 41; ++i) {
      int x = a == 0 ? i : 20, y = a == 1 ? i : 20, z = a == 2 ? i : 20;
      double v = out[static_cast<std::size_t>((z * 41 + y) * 41 + x)];
      double d = (i - 20) * voxel[static_cast<std::size_t>(a)];
      m0 += v;
      m2 += v * d * d;
    }
    double measured = std::sqrt(8 * std::log(2.0)) * std::sqrt(m2 / m0);
    EXPECT_NEAR(measured, fwhm, 0.01 * fwhm) << "axis " << a;
  }
}

TEST(SeparableGaussianTest, ConstantImageStaysConstantWithBothEdgeModes) {
  VolumeShape s{7, 5, 3};
  std::vector<float> in(s.voxels(), 2.5f);
  for (EdgeMode e : {EdgeMode::kReflect, EdgeMode::kFsl}) {
    SeparableGaussian g(s, {1.3, 2.1, 4.0}, e);
    for (float v : run_filter(g, in)) EXPECT_NEAR(v, 2.5f, 2e-6f);
  }
}

TEST(SeparableGaussianTest, FslEdgesRenormaliseByInBoundsWeights) {
  VolumeShape s{6, 1, 1};
  SeparableGaussian g(s, {1.0, 0, 0}, EdgeMode::kFsl);
  const GaussianKernel& k = g.kernel(0);
  std::vector<float> in = {3, 1, 4, 1, 5, 9};
  std::vector<float> out = run_filter(g, in);
  for (int n = 0; n < 6; ++n) {
    double num = 0, den = 0;
    for (int j = -k.radius; j <= k.radius; ++j) {
      if (n + j < 0 || n + j >= 6) continue;
      num += k.weights[static_cast<std::size_t>(std::abs(j))] * in[static_cast<std::size_t>(n + j)];
      den += k.weights[static_cast<std::size_t>(std::abs(j))];
    }
    EXPECT_NEAR(out[static_cast<std::size_t>(n)], num / den, 1e-5) << "n " << n;
  }
}

TEST(SeparableGaussianTest, ThreadedPassesEqualSerialBitForBit) {
  VolumeShape s{23, 17, 11};
  std::vector<float> in(s.voxels());
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0, 10);
  for (auto& v : in) v = dist(rng);
  SeparableGaussian g(s, {1.1, 0.7, 2.3}, EdgeMode::kReflect);
  EXPECT_EQ(run_filter(g, in, 1), run_filter(g, in, 3));
}

TEST(SeparableGaussianTest, SkippedAxesLeaveDataUntouched) {
  VolumeShape s{4, 3, 2};
  std::vector<float> in(s.voxels());
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i) * 0.5f;
  SeparableGaussian none(s, {0, 0, 0}, EdgeMode::kReflect);
  EXPECT_EQ(run_filter(none, in), in);
  // Only y filtered: every x column pair stays independent of x neighbours.
  SeparableGaussian only_y(s, {0, 0.9, 0}, EdgeMode::kReflect);
  std::vector<float> a = run_filter(only_y, in);
  std::vector<float> b = in;
  b[0] += 100.0f;  // changes only column x=0 of slice z=0
  std::vector<float> c = run_filter(only_y, b);
  for (std::int64_t z = 0; z < 2; ++z)
    for (std::int64_t y = 0; y < 3; ++y)
      for (std::int64_t x = 1; x < 4; ++x) {
        std::size_t i = static_cast<std::size_t>((z * 3 + y) * 4 + x);
        EXPECT_EQ(a[i], c[i]);
      }
}

}  // namespace
}  // namespace tandem
