// SPDX-License-Identifier: Apache-2.0
// The GPU half of tandem smooth without a device: a GpuSmoother that runs the CPU filter stands in
// for the CUDA module, so the chunked loop (staging buffers, mask, hand-off to the writer,
// failures) and smooth_file()'s choice of device are checked on every machine.
#include "smooth/gpu_volume_loop.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "smooth/gpu_smoother.h"
#include "smooth/smooth_job.h"
#include "smooth_test_util.h"

namespace tandem {
namespace {

using smooth_testing::python;
using smooth_testing::run;
using smooth_testing::ScratchDir;
using smooth_testing::script;

// Runs SeparableGaussian::apply volume by volume; counts calls and can fail one of them.
class CpuBackedGpu : public GpuSmoother {
 public:
  explicit CpuBackedGpu(int max_radius = 1023, int fail_on_call = -1)
      : max_radius_(max_radius), fail_on_call_(fail_on_call) {}

  std::string name() const override { return "fake:0 (CPU-backed)"; }
  int max_radius() const override { return max_radius_; }
  void apply(const SeparableGaussian& g, const float* in, float* out,
             std::int64_t volumes) const override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (calls_++ == fail_on_call_) throw CudaError("fake device failure");
      chunk_sizes_.push_back(volumes);
    }
    const std::size_t n = g.shape().voxels();
    std::vector<float> scratch(n);
    for (std::int64_t v = 0; v < volumes; ++v) {
      g.apply(in + static_cast<std::size_t>(v) * n, out + static_cast<std::size_t>(v) * n,
              scratch.data());
    }
  }
  std::vector<std::int64_t> chunk_sizes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return chunk_sizes_;
  }

 private:
  int max_radius_, fail_on_call_;
  mutable std::mutex mu_;
  mutable int calls_ = 0;
  mutable std::vector<std::int64_t> chunk_sizes_;
};

// Volume t: a smooth ramp plus a little noise, the same for every call; one non-finite count each.
std::size_t fill_volume(std::int64_t t, float* dst, std::size_t n) {
  std::uint32_t s = 2463534242u + static_cast<std::uint32_t>(t) * 7919u;
  for (std::size_t i = 0; i < n; ++i) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    dst[i] = 100.0f + 0.01f * static_cast<float>(i % 97) + static_cast<float>(s % 1000) / 37.0f;
  }
  return 1;
}

SmoothingMask ball_mask(const VolumeShape& s) {
  SmoothingMask m;
  m.inside.resize(s.voxels());
  for (std::int64_t z = 0; z < s.nz; ++z)
    for (std::int64_t y = 0; y < s.ny; ++y)
      for (std::int64_t x = 0; x < s.nx; ++x) {
        const double dx = x - s.nx / 2.0, dy = y - s.ny / 2.0, dz = z - s.nz / 2.0;
        m.inside[static_cast<std::size_t>((z * s.ny + y) * s.nx + x)] =
            dx * dx + dy * dy + dz * dz < 0.2 * static_cast<double>(s.nx * s.nx);
      }
  return m;
}

std::size_t differing(const std::vector<float>& a, const std::vector<float>& b) {
  std::size_t d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
  return d;
}

TEST(GpuVolumeLoopTest, MatchesCpuAcrossChunksThreadsAndMask) {
  const VolumeShape s{13, 11, 7};
  const std::size_t n = s.voxels();
  const std::int64_t volumes = 23;
  SeparableGaussian g(s, {1.3, 0.8, 2.1}, EdgeMode::kReflect);
  VolumeSource source = [&](std::int64_t t, float* dst) { return fill_volume(t, dst, n); };
  for (bool masked : {false, true}) {
    SmoothingMask mask = ball_mask(s);
    SmoothingMask* m = masked ? &mask : nullptr;
    std::vector<float> cpu(n * volumes);
    EXPECT_EQ(smooth_volumes(g, volumes, source, m, 2, cpu.data()), 23u);
    // 3 volumes a chunk (8 chunks, both staging buffers reused), one, or all at once.
    for (std::size_t chunk : {3 * n * sizeof(float), std::size_t{1}, kGpuChunkBytes}) {
      for (int threads : {1, 2, 5}) {
        CpuBackedGpu gpu;
        std::vector<float> out(n * volumes, -7.0f);
        EXPECT_EQ(
            smooth_volumes_on_gpu(g, gpu, volumes, source, m, threads, out.data(), nullptr, chunk),
            23u);
        EXPECT_EQ(differing(out, cpu), 0u)
            << "mask " << masked << ", chunk " << chunk << " bytes, " << threads << " threads";
        std::int64_t sum = 0;
        for (std::int64_t c : gpu.chunk_sizes()) sum += c;
        EXPECT_EQ(sum, volumes);
        if (chunk == 3 * n * sizeof(float)) EXPECT_EQ(gpu.chunk_sizes().size(), 8u);
      }
    }
  }
}

TEST(GpuVolumeLoopTest, SmoothVolumesTakesTheGpuWhenGiven) {
  const VolumeShape s{9, 8, 6};
  SeparableGaussian g(s, {1.0, 1.0, 1.0}, EdgeMode::kReflect);
  VolumeSource source = [&](std::int64_t t, float* dst) { return fill_volume(t, dst, s.voxels()); };
  SmoothingMask mask = ball_mask(s), mask2 = ball_mask(s);
  std::vector<float> cpu(s.voxels() * 4), gpu_out(s.voxels() * 4);
  smooth_volumes(g, 4, source, &mask, 1, cpu.data());
  CpuBackedGpu gpu;
  smooth_volumes(g, 4, source, &mask2, 1, gpu_out.data(), nullptr, &gpu);
  EXPECT_EQ(gpu.chunk_sizes().size(), 1u);
  EXPECT_EQ(mask2.smoothed, mask.smoothed);
  EXPECT_EQ(differing(gpu_out, cpu), 0u);
}

TEST(GpuVolumeLoopTest, UnsupportedFiltersSayWhy) {
  const VolumeShape s{20, 20, 20};
  CpuBackedGpu gpu(/*max_radius=*/4);
  EXPECT_EQ(gpu.unsupported(SeparableGaussian(s, {1.0, 1.0, 1.0}, EdgeMode::kReflect)), "");
  EXPECT_NE(gpu.unsupported(SeparableGaussian(s, {1.0, 1.0, 1.0}, EdgeMode::kFsl)).find("fsl"),
            std::string::npos);
  // σ = 2 gives radius int(8.5) = 8 on y.
  std::string why = gpu.unsupported(SeparableGaussian(s, {1.0, 2.0, 0.0}, EdgeMode::kReflect));
  EXPECT_EQ(why, "the Gaussian radius along y, 8 voxels, exceeds the GPU passes' 4");
  SeparableGaussian fsl(s, {1.0, 1.0, 1.0}, EdgeMode::kFsl);
  std::vector<float> in(s.voxels()), out(s.voxels());
  EXPECT_THROW(smooth_volumes_on_gpu(
                   fsl, gpu, 1, [&](std::int64_t, float*) { return std::size_t{0}; }, nullptr, 1,
                   out.data(), nullptr),
               Error);
}

TEST(GpuVolumeLoopTest, DeviceFailureEndsEveryWorkerAndIsRethrown) {
  const VolumeShape s{8, 8, 8};
  SeparableGaussian g(s, {1.0, 1.0, 1.0}, EdgeMode::kReflect);
  VolumeSource source = [&](std::int64_t t, float* dst) { return fill_volume(t, dst, s.voxels()); };
  for (int threads : {1, 3}) {
    CpuBackedGpu gpu(1023, /*fail_on_call=*/1);
    std::vector<float> out(s.voxels() * 40);
    EXPECT_THROW(smooth_volumes_on_gpu(g, gpu, 40, source, nullptr, threads, out.data(), nullptr,
                                       2 * s.voxels() * sizeof(float)),
                 CudaError)
        << threads << " threads";
  }
}

TEST(GpuVolumeLoopTest, SourceFailureEndsTheRun) {
  const VolumeShape s{8, 8, 8};
  SeparableGaussian g(s, {1.0, 1.0, 1.0}, EdgeMode::kReflect);
  VolumeSource source = [&](std::int64_t t, float* dst) {
    if (t == 9) throw InputError("x.nii", "volume 9", "truncated");
    return fill_volume(t, dst, s.voxels());
  };
  CpuBackedGpu gpu;
  std::vector<float> out(s.voxels() * 30);
  EXPECT_THROW(smooth_volumes_on_gpu(g, gpu, 30, source, nullptr, 3, out.data(), nullptr,
                                     2 * s.voxels() * sizeof(float)),
               InputError);
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class GpuSmoothFileTest : public ::testing::Test {
 protected:
  void SetUp() override { TANDEM_REQUIRE_PYTHON(); }
  void make_image(const std::string& path, const std::string& args) {
    auto r = run(python() + " " + script("make_image.py") + " " + path + " " + args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  ScratchDir d_;
};

TEST_F(GpuSmoothFileTest, SameBytesAsTheCpuForEveryGpuPath) {
  const std::string bold = d_ / "bold.nii.gz", mask = d_ / "mask.nii", noise = d_ / "noise.nii";
  make_image(bold, "--shape 12,11,9,7 --voxel 2,2,3 --nan 3");
  make_image(mask, "--shape 12,11,9 --voxel 2,2,3 --mask-of 1 --dtype uint8");
  make_image(noise, "--shape 48,48,40,2 --voxel 2,2,2");  // white noise: --to-fwhm 8 reaches 8 mm
  struct Case {
    const char* name;
    std::string in;
    const char* ext;
    std::string mask;
    double to_fwhm;
  };
  for (const Case& c :
       {Case{"plain", bold, ".nii.gz", "", 0}, Case{"raw", bold, ".nii", "", 0},
        Case{"mask", bold, ".nii.gz", mask, 0}, Case{"to_fwhm", noise, ".nii", "", 8.0}}) {
    const std::string& in = c.in;
    SmoothOptions o;
    o.fwhm_mm = {5, 5, 6};
    o.mask_path = c.mask;
    o.to_fwhm_mm = c.to_fwhm;
    o.threads = 2;
    const std::string cpu_out = d_ / (std::string(c.name) + "_cpu" + c.ext);
    const std::string gpu_out = d_ / (std::string(c.name) + "_gpu" + c.ext);
    SmoothReport cpu = smooth_file(in, cpu_out, o);
    EXPECT_EQ(cpu.device, "cpu");
    auto gpu = std::make_shared<CpuBackedGpu>();
    o.gpu = gpu;
    SmoothReport r = smooth_file(in, gpu_out, o);
    EXPECT_EQ(r.device, "fake:0 (CPU-backed)") << c.name;
    EXPECT_EQ(r.device_note, "") << c.name;
    EXPECT_FALSE(gpu->chunk_sizes().empty()) << c.name;
    EXPECT_EQ(r.nonfinite, cpu.nonfinite) << c.name;
    EXPECT_EQ(slurp(gpu_out), slurp(cpu_out)) << c.name;
  }
}

TEST_F(GpuSmoothFileTest, FslEdgesAndLargeRadiiRunOnTheCpuAndSaySo) {
  const std::string in = d_ / "img.nii";
  make_image(in, "--shape 9,8,7,2 --voxel 2,2,2");
  SmoothOptions o;
  o.fwhm_mm = {6, 6, 6};
  o.edges = EdgeMode::kFsl;
  auto gpu = std::make_shared<CpuBackedGpu>();
  o.gpu = gpu;
  SmoothReport r = smooth_file(in, d_ / "fsl.nii", o);
  EXPECT_EQ(r.device, "cpu");
  EXPECT_NE(r.device_note.find("fsl"), std::string::npos) << r.device_note;
  EXPECT_TRUE(gpu->chunk_sizes().empty());

  o.edges = EdgeMode::kReflect;
  auto small = std::make_shared<CpuBackedGpu>(/*max_radius=*/1);
  o.gpu = small;
  r = smooth_file(in, d_ / "wide.nii", o);
  EXPECT_EQ(r.device, "cpu");
  EXPECT_NE(r.device_note.find("exceeds the GPU passes' 1"), std::string::npos) << r.device_note;
  EXPECT_TRUE(small->chunk_sizes().empty());
}

TEST_F(GpuSmoothFileTest, DeviceFailureLeavesNoOutput) {
  const std::string in = d_ / "img.nii.gz";
  make_image(in, "--shape 9,8,7,3");
  SmoothOptions o;
  o.fwhm_mm = {6, 6, 6};
  o.gpu = std::make_shared<CpuBackedGpu>(1023, /*fail_on_call=*/0);
  EXPECT_THROW(smooth_file(in, d_ / "out.nii.gz", o), CudaError);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(d_.str()))
    names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"img.nii.gz"});
}

}  // namespace
}  // namespace tandem
