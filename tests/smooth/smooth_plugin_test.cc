// SPDX-License-Identifier: Apache-2.0
// `tandem smooth --device gpu` through the real registry and module ABI, on any machine with a
// CUDA build: the registry loads a stand-in module (fake_cuda_plugin.cc: one "Fake GPU" whose
// passes run on the CPU) found through TANDEM_CUDA_PLUGIN, behind an empty libcuda.so.1.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "smooth_test_util.h"

namespace tandem {
namespace {

using smooth_testing::python;
using smooth_testing::run;
using smooth_testing::RunResult;
using smooth_testing::ScratchDir;
using smooth_testing::script;
using smooth_testing::tandem;

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class SmoothPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TANDEM_REQUIRE_PYTHON();
    if (std::string(TANDEM_FAKE_CUDA_PLUGIN).empty())
      GTEST_SKIP() << "CPU-only build: tandem loads no CUDA module";
    auto r = run(python() + " " + script("make_image.py") + " " + in_ +
                 " --shape 23,19,11,9 --voxel 2,2,3 --nan 2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  // tandem smooth with the fake driver and module.
  RunResult fake_gpu(const std::string& args, const std::string& env = "") {
    return run(env + " LD_LIBRARY_PATH=" + TANDEM_FAKE_DRIVER_DIR + " TANDEM_CUDA_PLUGIN=" +
               TANDEM_FAKE_CUDA_PLUGIN + " " + tandem() + " smooth " + args);
  }
  ScratchDir d_;
  std::string in_ = d_ / "bold.nii.gz";
};

TEST_F(SmoothPluginTest, GpuRunsThroughTheModuleAndMatchesTheCpu) {
  for (const char* ext : {".nii.gz", ".nii"}) {
    const std::string cpu = d_ / (std::string("cpu") + ext), gpu = d_ / (std::string("gpu") + ext);
    auto c = run(tandem() + " smooth " + in_ + " --fwhm 5 --device cpu -o " + cpu);
    ASSERT_EQ(c.exit_code, 0) << c.output;
    for (const char* device : {"gpu", "auto"}) {
      auto g = fake_gpu(in_ + " --fwhm 5 --device " + device + " -o " + gpu + " --report " +
                        (d_ / "r.json"));
      ASSERT_EQ(g.exit_code, 0) << g.output;
      EXPECT_NE(g.output.find(" s on cuda:0 (Fake GPU) ("), std::string::npos) << g.output;
      EXPECT_EQ(g.output.find("smoothing on the CPU"), std::string::npos) << g.output;
      EXPECT_TRUE(slurp(gpu) == slurp(cpu)) << ext << " --device " << device;
      auto rep = nlohmann::json::parse(std::ifstream(d_ / "r.json"));
      EXPECT_EQ(rep["device"], "cuda:0 (Fake GPU)");
      EXPECT_EQ(rep["items"][0]["device"], "cuda:0 (Fake GPU)");
    }
  }
}

TEST_F(SmoothPluginTest, FslEdgesFallBackToTheCpuAndSaySo) {
  auto c = run(tandem() + " smooth -q " + in_ + " --fwhm 5 --edges fsl -o " + (d_ / "cpu.nii"));
  ASSERT_EQ(c.exit_code, 0) << c.output;
  auto g = fake_gpu(in_ + " --fwhm 5 --edges fsl --device gpu -o " + (d_ / "gpu.nii"));
  ASSERT_EQ(g.exit_code, 0) << g.output;
  EXPECT_NE(g.output.find("tandem: " + in_ +
                          ": smoothed on the CPU: the GPU passes have reflect edges only, not fsl"),
            std::string::npos)
      << g.output;
  EXPECT_NE(g.output.find(" s on the CPU ("), std::string::npos) << g.output;
  EXPECT_TRUE(slurp(d_ / "gpu.nii") == slurp(d_ / "cpu.nii"));
}

TEST_F(SmoothPluginTest, DeviceErrorsCrossTheModuleAsItemFailures) {
  auto g =
      fake_gpu(in_ + " --fwhm 5 --device gpu -o " + (d_ / "out.nii.gz"), "TANDEM_FAKE_CUDA_FAIL=1");
  EXPECT_EQ(g.exit_code, 1) << g.output;
  EXPECT_NE(g.output.find("tandem: error: " + in_ +
                          ": fake_smooth: an illegal memory access was encountered (device 0)\n"),
            std::string::npos)
      << g.output;
  EXPECT_NE(g.output.find("0 done, 1 failed"), std::string::npos) << g.output;
  EXPECT_FALSE(std::filesystem::exists(d_ / "out.nii.gz"));
}

TEST_F(SmoothPluginTest, UnderAutoADeviceFailureIsRedoneOnTheCpu) {
  auto c = run(tandem() + " smooth -q " + in_ + " --fwhm 5 --device cpu -o " + (d_ / "cpu.nii"));
  ASSERT_EQ(c.exit_code, 0) << c.output;
  auto g =
      fake_gpu(in_ + " --fwhm 5 --device auto -o " + (d_ / "auto.nii"), "TANDEM_FAKE_CUDA_FAIL=1");
  ASSERT_EQ(g.exit_code, 0) << g.output;
  EXPECT_NE(g.output.find("tandem: " + in_ +
                          ": smoothed on the CPU: the GPU failed (fake_smooth: "
                          "an illegal memory access was encountered (device 0))"),
            std::string::npos)
      << g.output;
  EXPECT_NE(g.output.find("1 done, 0 failed"), std::string::npos) << g.output;
  EXPECT_TRUE(slurp(d_ / "auto.nii") == slurp(d_ / "cpu.nii"));
}

TEST_F(SmoothPluginTest, TimeFilterSaysTheDevice) {
  auto g = fake_gpu(in_ + " --fwhm 5 --device gpu --time-filter");
  ASSERT_EQ(g.exit_code, 0) << g.output;
  EXPECT_NE(g.output.find("s on cuda:0 (Fake GPU) ("), std::string::npos) << g.output;
}

}  // namespace
}  // namespace tandem
