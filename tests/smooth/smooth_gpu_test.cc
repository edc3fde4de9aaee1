// SPDX-License-Identifier: Apache-2.0
// The GPU passes against the CPU ones (which match scipy): bit for bit, or skipped without a
// device.
#include "smooth_gpu.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <vector>

#include "core/error.h"
#include "smooth/gaussian_kernel.h"
#include "smooth/separable_filter.h"

namespace tandem {
namespace {

std::array<cuda::SmoothAxis, 3> axes_of(const SeparableGaussian& g) {
  std::array<cuda::SmoothAxis, 3> axes;
  for (int a = 0; a < 3; ++a) {
    axes[static_cast<std::size_t>(a)].radius = g.kernel(a).radius;
    axes[static_cast<std::size_t>(a)].weights = g.kernel(a).weights;
  }
  return axes;
}

class SmoothGpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (cuda::smooth_device_count(&why) == 0) GTEST_SKIP() << "no CUDA device: " << why;
  }
};

void expect_gpu_equals_cpu(const VolumeShape& s, std::int64_t volumes,
                           const std::array<double, 3>& sigma) {
  std::vector<float> in(s.voxels() * static_cast<std::size_t>(volumes));
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(100, 30);
  for (auto& v : in) v = dist(rng);
  SeparableGaussian g(s, sigma, EdgeMode::kReflect);
  std::vector<float> cpu(in.size()), scratch(s.voxels());
  for (std::int64_t t = 0; t < volumes; ++t) {
    std::size_t off = static_cast<std::size_t>(t) * s.voxels();
    g.apply(in.data() + off, cpu.data() + off, scratch.data());
  }
  std::vector<float> gpu(in.size(), -1.0f);
  cuda::smooth_volumes_gpu(in.data(), gpu.data(), s, volumes, axes_of(g));
  std::size_t differ = 0;
  for (std::size_t i = 0; i < in.size(); ++i) differ += gpu[i] != cpu[i];
  EXPECT_EQ(differ, 0u) << s.nx << "x" << s.ny << "x" << s.nz << "x" << volumes;
}

TEST_F(SmoothGpuTest, MatchesCpuBitForBit) {
  expect_gpu_equals_cpu({37, 29, 11}, 5, {1.3, 0.9, 2.2});
  expect_gpu_equals_cpu({64, 64, 40}, 3, {0.8493218, 0.8493218, 0.8493218});
}

TEST_F(SmoothGpuTest, ShortAxesAndSkippedAxes) {
  expect_gpu_equals_cpu({9, 8, 2}, 2, {0.7, 3.5, 4.0});  // radius far beyond the axis length
  expect_gpu_equals_cpu({5, 4, 1}, 3, {1.0, 0.0, 2.0});  // y skipped, one slice
  expect_gpu_equals_cpu({6, 6, 6}, 1, {0.0, 0.0, 0.0});  // nothing to do: a copy
  // σ below 1/8 voxel: radius 0, a CPU pass with weight 1 that the GPU skips.
  expect_gpu_equals_cpu({7, 5, 3}, 2, {0.1, 1.0, 0.05});
}

TEST_F(SmoothGpuTest, SliceTallerThanTheGridIsRefusedWithAReason) {
  // (ny + 7) / 8 blocks along gridDim.y, which stops at 65535.
  const VolumeShape s{1, 8 * 65535 + 8, 1};
  SeparableGaussian g(s, {0.0, 1.0, 0.0}, EdgeMode::kReflect);
  std::vector<float> in(s.voxels(), 1.0f), out(s.voxels());
  try {
    cuda::smooth_volumes_gpu(in.data(), out.data(), s, 1, axes_of(g));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("larger than the GPU passes take"), std::string::npos)
        << e.what();
  }
}

TEST_F(SmoothGpuTest, ManyChunksOfVolumes) {
  // More than one 128 MiB chunk, so both streams and buffer reuse are exercised.
  expect_gpu_equals_cpu({96, 96, 64}, 70, {1.1, 1.1, 1.4});
}

TEST_F(SmoothGpuTest, ReportsPassTimeForTheBenchmarkSeries) {
  VolumeShape s{64, 64, 40};
  SeparableGaussian g(s, sigmas_in_voxels({6, 6, 6}, {3, 3, 3}), EdgeMode::kReflect);
  double ms = cuda::time_gpu_passes_ms(s, 200, axes_of(g), 10);
  // Three passes, each reading and writing the 131 MB series, set the memory-bound floor.
  double bytes = 3.0 * 2.0 * 4.0 * static_cast<double>(s.voxels()) * 200;
  RecordProperty("passes_ms", std::to_string(ms));
  std::printf(
      "GPU passes, 64x64x40x200 float32, fwhm 6 mm at 3 mm: %.3f ms (%.0f GB/s effective)\n", ms,
      bytes / (ms * 1e-3) / 1e9);
  EXPECT_GT(ms, 0.0);
}

}  // namespace
}  // namespace tandem
