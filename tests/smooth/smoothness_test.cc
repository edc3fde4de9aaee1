// SPDX-License-Identifier: Apache-2.0
#include "smooth/smoothness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include "smooth/separable_filter.h"
#include "smooth_test_util.h"

namespace tandem {
namespace {

using smooth_testing::python;
using smooth_testing::run;
using smooth_testing::ScratchDir;
using smooth_testing::script;
using smooth_testing::tandem;

std::vector<float> smoothed_noise(const VolumeShape& s, const std::array<double, 3>& fwhm,
                                  const std::array<double, 3>& voxel, unsigned seed) {
  std::vector<float> in(s.voxels()), out(s.voxels()), scratch(s.voxels());
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0, 1);
  for (auto& v : in) v = dist(rng);
  SeparableGaussian g(s, sigmas_in_voxels(fwhm, voxel), EdgeMode::kReflect);
  g.apply(in.data(), out.data(), scratch.data());
  return out;
}

TEST(SmoothnessTest, ClassicEstimateRecoversAppliedFwhm) {
  VolumeShape s{64, 64, 48};
  std::array<double, 3> voxel = {2.0, 2.0, 3.0};
  auto v = smoothed_noise(s, {8.0, 8.0, 8.0}, voxel, 11);
  SmoothnessEstimate e = estimate_fwhm_classic(v.data(), s, voxel, nullptr);
  for (int a = 0; a < 3; ++a) EXPECT_NEAR(e.fwhm_mm[a], 8.0, 0.8) << "axis " << a;
  EXPECT_NEAR(e.combined_mm, 8.0, 0.8);
}

TEST(SmoothnessTest, MaskRestrictsTheVoxelsUsed) {
  VolumeShape s{40, 40, 40};
  std::array<double, 3> voxel = {1, 1, 1};
  auto v = smoothed_noise(s, {6, 6, 6}, voxel, 3);
  std::vector<std::uint8_t> mask(s.voxels(), 0);
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = (i / 40) % 40 < 20;  // half the y rows
  // Garbage outside the mask must not matter.
  auto w = v;
  for (std::size_t i = 0; i < w.size(); ++i)
    if (!mask[i]) w[i] = 1e6f * static_cast<float>(i % 7);
  auto a = estimate_fwhm_classic(v.data(), s, voxel, mask.data());
  auto b = estimate_fwhm_classic(w.data(), s, voxel, mask.data());
  EXPECT_EQ(a.fwhm_mm, b.fwhm_mm);
}

TEST(SmoothnessTest, ConstantImageHasNoEstimate) {
  VolumeShape s{10, 10, 10};
  std::vector<float> v(s.voxels(), 3.0f);
  auto e = estimate_fwhm_classic(v.data(), s, {1, 1, 1}, nullptr);
  EXPECT_EQ(e.combined_mm, -1.0);
}

TEST(SmoothnessTest, AverageSkipsUndefinedAxes) {
  SmoothnessEstimate a, b;
  a.fwhm_mm = {4, -1, 6};
  b.fwhm_mm = {6, 5, -1};
  auto m = average_estimates(std::vector<SmoothnessEstimate>{a, b}.data(), 2);
  EXPECT_EQ(m.fwhm_mm[0], 5.0);
  EXPECT_EQ(m.fwhm_mm[1], 5.0);
  EXPECT_EQ(m.fwhm_mm[2], 6.0);
}

// The combined column of `tandem smooth --estimate`'s line for `path` (-2 when there is none).
double combined_estimate(const std::string& estimate_output, const std::string& path) {
  std::istringstream lines(estimate_output);
  std::string line, name;
  double fx = 0, fy = 0, fz = 0, combined = -2;
  while (std::getline(lines, line)) {
    if (line.rfind(path + " ", 0) == 0)
      std::istringstream(line) >> name >> fx >> fy >> fz >> combined;
  }
  return combined;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(SmoothnessTest, CliEstimateAndBlurToFwhm) {
  if (python().empty()) GTEST_SKIP() << "no Python with numpy, scipy and nibabel";
  ScratchDir d;
  // White noise, 2 mm voxels: blur to 8 mm and check the result's own estimate.
  auto m = run(python() + " " + script("make_image.py") + " " + (d / "noise.nii.gz") +
               " --shape 48,48,40,2 --voxel 2,2,2");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  auto b = run(tandem() + " smooth -q " + (d / "noise.nii.gz") + " --to-fwhm 8 -o " +
               (d / "b.nii.gz") + " --report " + (d / "r.json"));
  ASSERT_EQ(b.exit_code, 0) << b.output;
  auto e = run(tandem() + " smooth --estimate " + (d / "b.nii.gz"));
  ASSERT_EQ(e.exit_code, 0) << e.output;
  double combined = combined_estimate(e.output, d / "b.nii.gz");
  EXPECT_GE(combined, 8.0) << e.output;
  EXPECT_LE(combined, 8.8) << e.output;
  auto rep = nlohmann::json::parse(std::ifstream(d / "r.json"));
  EXPECT_GE(rep["items"][0]["trial_fwhm_mm"].size(), 1u);
}

TEST(SmoothnessTest, ToFwhmReachesGoalsNearTheVoxelSize) {
  if (python().empty()) GTEST_SKIP() << "no Python with numpy, scipy and nibabel";
  ScratchDir d;
  // White noise at 3 mm voxels estimates about 1.6 mm: reaching 2-4 mm takes sub-voxel kernels,
  // which a blur of an already blurred copy in small steps never got past.
  auto m = run(python() + " " + script("make_image.py") + " " + (d / "noise.nii.gz") +
               " --shape 20,20,10,3 --voxel 3,3,3");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  for (double goal : {2.0, 3.0, 4.0, 6.0}) {
    const std::string g = std::to_string(goal), out = d / ("t" + g + ".nii.gz");
    auto b = run(tandem() + " smooth -q --device cpu " + (d / "noise.nii.gz") + " --to-fwhm " + g +
                 " -o " + out + " --report " + (d / "r.json"));
    ASSERT_EQ(b.exit_code, 0) << "goal " << g << ": " << b.output;
    auto e = run(tandem() + " smooth --estimate " + out);
    double combined = combined_estimate(e.output, out);
    EXPECT_GE(combined, goal) << e.output;
    EXPECT_LE(combined, 1.1 * goal) << e.output;
    auto rep = nlohmann::json::parse(std::ifstream(d / "r.json"));
    EXPECT_LE(rep["items"][0]["trial_fwhm_mm"].size(), 12u);
  }
}

TEST(SmoothnessTest, ToFwhmWritesTheInputBlurredByTheAppliedFwhm) {
  if (python().empty()) GTEST_SKIP() << "no Python with numpy, scipy and nibabel";
  ScratchDir d;
  auto m = run(python() + " " + script("make_image.py") + " " + (d / "noise.nii") +
               " --shape 20,20,10,2 --voxel 3,3,3");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  auto b = run(tandem() + " smooth -q --device cpu " + (d / "noise.nii") + " --to-fwhm 3 -o " +
               (d / "to.nii") + " --report " + (d / "r.json"));
  ASSERT_EQ(b.exit_code, 0) << b.output;
  auto rep = nlohmann::json::parse(std::ifstream(d / "r.json"));
  const double applied = rep["items"][0]["applied_fwhm_mm"].get<double>();
  ASSERT_GT(applied, 0);
  EXPECT_EQ(applied, rep["items"][0]["trial_fwhm_mm"].back().get<double>());
  char fwhm[40];
  std::snprintf(fwhm, sizeof(fwhm), "%.17g", applied);
  auto f = run(tandem() + " smooth -q --device cpu " + (d / "noise.nii") + " --fwhm " + fwhm +
               " -o " + (d / "fwhm.nii"));
  ASSERT_EQ(f.exit_code, 0) << f.output;
  // Bit for bit the same file but for the header's descrip (bytes 148-227).
  std::string a = file_bytes(d / "to.nii"), c = file_bytes(d / "fwhm.nii");
  ASSERT_EQ(a.size(), c.size());
  std::fill(a.begin() + 148, a.begin() + 228, '\0');
  std::fill(c.begin() + 148, c.begin() + 228, '\0');
  EXPECT_TRUE(a == c);
}

TEST(SmoothnessTest, ToFwhmSaysWhenTheImageIsAlreadySmoother) {
  if (python().empty()) GTEST_SKIP() << "no Python with numpy, scipy and nibabel";
  ScratchDir d;
  auto m = run(python() + " " + script("make_image.py") + " " + (d / "noise.nii.gz") +
               " --shape 20,20,10,2 --voxel 3,3,3");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  auto s = run(tandem() + " smooth -q " + (d / "noise.nii.gz") + " --fwhm 8 -o " +
               (d / "smooth.nii.gz"));
  ASSERT_EQ(s.exit_code, 0) << s.output;
  auto b = run(tandem() + " smooth -q " + (d / "smooth.nii.gz") + " --to-fwhm 2 -o " +
               (d / "out.nii.gz"));
  EXPECT_EQ(b.exit_code, 1) << b.output;
  EXPECT_NE(b.output.find((d / "smooth.nii.gz") + ": --to-fwhm 2: the image is already smoother ("),
            std::string::npos)
      << b.output;
  EXPECT_NE(b.output.find(" mm) than the goal 2 mm; nothing was written"), std::string::npos)
      << b.output;
  EXPECT_FALSE(std::filesystem::exists(d / "out.nii.gz"));
}

TEST(SmoothnessTest, EstimatePrintsNaWhereAnAxisCannotBeEstimated) {
  if (python().empty()) GTEST_SKIP() << "no Python with numpy, scipy and nibabel";
  ScratchDir d;
  const std::pair<std::string, std::string> images[] = {
      {"const.nii.gz", "--shape 12,13,14 --constant 5 --voxel 2,2,2"},
      {"noise_slice.nii.gz", "--shape 24,26,1"}};
  for (const auto& [name, args] : images) {
    auto m = run(python() + " " + script("make_image.py") + " " + (d / name) + " " + args);
    ASSERT_EQ(m.exit_code, 0) << m.output;
  }
  // Smoothed in-plane so that x and y are defined for sure (white noise can fall either way);
  // one slice has no neighbours along z.
  auto s = run(tandem() + " smooth -q " + (d / "noise_slice.nii.gz") + " --fwhm 6 -o " +
               (d / "slice.nii.gz"));
  ASSERT_EQ(s.exit_code, 0) << s.output;
  auto e = run(tandem() + " smooth --estimate " + (d / "const.nii.gz") + " " +
               (d / "slice.nii.gz") + " 2>/dev/null");
  EXPECT_EQ(e.exit_code, 0) << e.output;
  EXPECT_NE(e.output.find((d / "const.nii.gz") + " n/a n/a n/a n/a\n"), std::string::npos)
      << e.output;
  std::size_t slice = e.output.find((d / "slice.nii.gz") + " ");
  ASSERT_NE(slice, std::string::npos) << e.output;
  std::string line = e.output.substr(slice, e.output.find('\n', slice) - slice);
  std::istringstream fields(line);
  std::string path, x, y, z, combined;
  fields >> path >> x >> y >> z >> combined;
  EXPECT_NE(x, "n/a") << line;
  EXPECT_NE(y, "n/a") << line;
  EXPECT_EQ(z, "n/a") << line;
  EXPECT_NE(combined, "n/a") << line;
  EXPECT_EQ(e.output.find("-1.0000"), std::string::npos) << e.output;
  // --to-fwhm has nothing to aim with on a constant image.
  auto t = run(tandem() + " smooth -q " + (d / "const.nii.gz") + " --to-fwhm 6 -o " +
               (d / "out.nii.gz"));
  EXPECT_EQ(t.exit_code, 1) << t.output;
  EXPECT_NE(t.output.find((d / "const.nii.gz") + ": --to-fwhm 6: smoothness cannot be estimated"),
            std::string::npos)
      << t.output;
  EXPECT_FALSE(std::filesystem::exists(d / "out.nii.gz"));
}

TEST(SmoothnessTest, EstimateWarnsThatItIgnoresOutputs) {
  if (python().empty()) GTEST_SKIP() << "no Python with numpy, scipy and nibabel";
  ScratchDir d;
  auto m =
      run(python() + " " + script("make_image.py") + " " + (d / "in.nii.gz") + " --shape 8,8,8");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  // Only stderr is captured: the warnings, not the estimates.
  auto e = run("{ " + tandem() + " smooth -q --estimate " + (d / "in.nii.gz") + " -o " +
               (d / "x.nii.gz") + " --report " + (d / "r.json") + " 2>&1 >/dev/null; }");
  EXPECT_EQ(e.exit_code, 0) << e.output;
  EXPECT_NE(e.output.find("tandem: warning: -o is ignored: --estimate writes nothing\n"),
            std::string::npos)
      << e.output;
  EXPECT_NE(e.output.find("tandem: warning: --report is ignored"), std::string::npos) << e.output;
  EXPECT_FALSE(std::filesystem::exists(d / "x.nii.gz"));
  auto quiet =
      run("{ " + tandem() + " smooth -q --estimate " + (d / "in.nii.gz") + " 2>&1 >/dev/null; }");
  EXPECT_EQ(quiet.output.find("warning"), std::string::npos) << quiet.output;
}

}  // namespace
}  // namespace tandem
