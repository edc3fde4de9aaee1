// SPDX-License-Identifier: Apache-2.0
// `tandem smooth --device`: without a usable device, gpu is a usage error that says why (as for
// `tandem svd`) and auto is the CPU byte for byte; cpu never loads CUDA; with a device, gpu
// writes the CPU's bytes.
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

namespace fs = std::filesystem;

// Why `tandem info` sees no GPU, as it says it ("gpus: none (<why>)"); "" when it sees one.
std::string why_no_gpu() {
  static const std::string why = [] {
    const std::string text = run(tandem() + " info").output;
    const std::string key = "gpus: none (";
    const std::size_t p = text.find(key);
    if (p == std::string::npos) return std::string();
    const std::size_t start = p + key.size();
    return text.substr(start, text.find(")\n", start) - start);
  }();
  return why;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class SmoothDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TANDEM_REQUIRE_PYTHON();
    ASSERT_FALSE(tandem().empty()) << "TANDEM_BIN is not set";
  }
  void make_image(const std::string& path, const std::string& args) {
    auto r = run(python() + " " + script("make_image.py") + " " + path + " " + args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  RunResult smooth(const std::string& args) { return run(tandem() + " smooth " + args); }
  // Smooths `in` with `args` on --device cpu and on `device` into two files named after `tag`;
  // expects both to succeed and to be the same bytes. Returns the `device` run.
  RunResult expect_same_bytes(const std::string& in, const std::string& args,
                              const std::string& device, const std::string& tag,
                              const std::string& ext) {
    const std::string cpu = d_ / (tag + "_cpu" + ext), other = d_ / (tag + "_" + device + ext);
    auto c = smooth(in + " " + args + " --device cpu -o " + cpu);
    EXPECT_EQ(c.exit_code, 0) << c.output;
    auto o = smooth(in + " " + args + " --device " + device + " -o " + other);
    EXPECT_EQ(o.exit_code, 0) << o.output;
    EXPECT_TRUE(fs::exists(cpu) && fs::exists(other)) << tag;
    EXPECT_TRUE(slurp(cpu) == slurp(other)) << tag << ": --device " << device << " differs";
    return o;
  }
  ScratchDir d_;
};

TEST_F(SmoothDeviceTest, GpuWithoutDeviceIsAUsageErrorSayingWhy) {
  const std::string why = why_no_gpu();
  if (why.empty()) GTEST_SKIP() << "a CUDA device is present: --device gpu works here";
  make_image(d_ / "in.nii.gz", "--shape 8,7,6,3");
  const std::string expected = "tandem: error: --device gpu: " + why + "\n";
  auto r = smooth((d_ / "in.nii.gz") + " --fwhm 6 --device gpu -o " + (d_ / "out.nii.gz"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, expected);
  EXPECT_FALSE(fs::exists(d_ / "out.nii.gz"));
  // The same in every mode, as for `tandem svd --device gpu`.
  for (const char* mode : {"--to-fwhm 8", "--estimate", "--fwhm 6 --time-filter"}) {
    auto m = smooth((d_ / "in.nii.gz") + " " + mode + " --device gpu -o " + (d_ / "o.nii"));
    EXPECT_EQ(m.exit_code, 2) << mode;
    EXPECT_EQ(m.output, expected) << mode;
  }
  auto svd = run(tandem() + " svd --random 2x3x3 --device gpu");
  EXPECT_EQ(svd.exit_code, r.exit_code);
  EXPECT_NE(svd.output.find(expected), std::string::npos) << svd.output;
}

TEST_F(SmoothDeviceTest, AutoWithoutDeviceIsTheCpuByteForByte) {
  const std::string why = why_no_gpu();
  if (why.empty()) GTEST_SKIP() << "a CUDA device is present: auto uses it";
  const std::string in = d_ / "bold.nii.gz";
  make_image(in, "--shape 14,13,9,6 --voxel 2,2,3");
  for (const char* ext : {".nii.gz", ".nii"}) {
    auto r = expect_same_bytes(in, "--fwhm 6", "auto", "plain", ext);
    EXPECT_NE(r.output.find("tandem: " + why + "; smoothing on the CPU\n"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("failed in "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(" s on the CPU ("), std::string::npos) << r.output;
  }
  // -q keeps the note to itself.
  auto q = smooth("-q " + in + " --fwhm 6 -o " + (d_ / "q.nii"));
  EXPECT_EQ(q.exit_code, 0) << q.output;
  EXPECT_EQ(q.output, "");
}

TEST_F(SmoothDeviceTest, CpuNeverLoadsCuda) {
  const std::string in = d_ / "in.nii";
  make_image(in, "--shape 8,7,6,2");
  // The dynamic loader lists every library it looks for; auto looks for the driver first.
  auto cpu = run("LD_DEBUG=libs " + tandem() + " smooth -q " + in + " --fwhm 6 --device cpu -o " +
                 (d_ / "cpu.nii"));
  EXPECT_EQ(cpu.exit_code, 0) << cpu.output.substr(0, 2000);
  EXPECT_EQ(cpu.output.find("libcuda"), std::string::npos);
  EXPECT_EQ(cpu.output.find("libtandem_cuda"), std::string::npos);
  auto est = run("LD_DEBUG=libs " + tandem() + " smooth " + in + " --estimate");
  EXPECT_EQ(est.exit_code, 0) << est.output.substr(0, 2000);
  EXPECT_EQ(est.output.find("libcuda"), std::string::npos) << "--estimate with --device auto";
}

TEST_F(SmoothDeviceTest, ReportNamesTheDevice) {
  const std::string in = d_ / "in.nii";
  make_image(in, "--shape 8,7,6,2");
  auto r = smooth("-q " + in + " --fwhm 6 --device cpu -o " + (d_ / "o.nii") + " --report " +
                  (d_ / "r.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rep = nlohmann::json::parse(std::ifstream(d_ / "r.json"));
  EXPECT_EQ(rep["device"], "cpu") << rep.dump();
  EXPECT_EQ(rep["items"][0]["device"], "cpu") << rep.dump();
  EXPECT_FALSE(rep["items"][0].contains("device_note")) << rep.dump();
}

class SmoothOnGpuTest : public SmoothDeviceTest {
 protected:
  void SetUp() override {
    SmoothDeviceTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (!why_no_gpu().empty()) GTEST_SKIP() << "no CUDA device: " << why_no_gpu();
  }
};

TEST_F(SmoothOnGpuTest, GpuWritesTheCpuBytesForTheFourDimensionalImage) {
  // 120 volumes of 64x64x40 float32: three 32 MiB chunks on the device.
  const std::string in = d_ / "bold.nii.gz";
  make_image(in, "--shape 64,64,40,120 --voxel 3,3,3 --nan 4");
  auto gz = expect_same_bytes(in, "--fwhm 6", "gpu", "plain", ".nii.gz");
  EXPECT_NE(gz.output.find(" s on cuda:"), std::string::npos) << gz.output;
  EXPECT_EQ(gz.output.find("smoothed on the CPU"), std::string::npos) << gz.output;
  expect_same_bytes(in, "--fwhm 4,5,9 -j 1", "gpu", "aniso", ".nii");
  expect_same_bytes(in, "--fwhm 6", "auto", "auto", ".nii.gz");
  // The .nii.gz round trip: what nibabel reads back from the GPU's file is the CPU's array.
  auto back = run(python() +
                  " -c 'import sys, numpy as np, nibabel as nib; "
                  "a = np.asanyarray(nib.load(sys.argv[1]).dataobj); "
                  "b = np.asanyarray(nib.load(sys.argv[2]).dataobj); "
                  "print(a.dtype, a.shape, np.array_equal(a, b))' " +
                  (d_ / "plain_cpu.nii.gz") + " " + (d_ / "plain_gpu.nii.gz"));
  ASSERT_EQ(back.exit_code, 0) << back.output;
  EXPECT_EQ(back.output, "float32 (64, 64, 40, 120) True\n");
}

TEST_F(SmoothOnGpuTest, MaskAndToFwhmRunOnTheGpuFslEdgesOnTheCpu) {
  const std::string in = d_ / "img.nii.gz", mask = d_ / "mask.nii", noise = d_ / "noise.nii";
  make_image(in, "--shape 30,28,20,9 --voxel 2,2,3");
  make_image(mask, "--shape 30,28,20 --voxel 2,2,3 --mask-of 1 --dtype uint8");
  make_image(noise, "--shape 48,48,40,2 --voxel 2,2,2");
  auto m = expect_same_bytes(in, "--fwhm 6 --mask " + mask, "gpu", "mask", ".nii.gz");
  EXPECT_EQ(m.output.find("smoothed on the CPU"), std::string::npos) << m.output;
  auto t = expect_same_bytes(noise, "--to-fwhm 8", "gpu", "tofwhm", ".nii");
  EXPECT_EQ(t.output.find("smoothed on the CPU"), std::string::npos) << t.output;
  auto f = expect_same_bytes(in, "--fwhm 6 --edges fsl", "gpu", "fsl", ".nii");
  EXPECT_NE(f.output.find(": smoothed on the CPU: the GPU passes have reflect edges only"),
            std::string::npos)
      << f.output;
}

TEST_F(SmoothOnGpuTest, TimeFilterAndReportSayTheGpu) {
  const std::string in = d_ / "in.nii";
  make_image(in, "--shape 20,20,20,4");
  auto t = smooth(in + " --fwhm 6 --time-filter --device gpu");
  EXPECT_EQ(t.exit_code, 0) << t.output;
  EXPECT_NE(t.output.find("s on cuda:"), std::string::npos) << t.output;
  auto r = smooth("-q " + in + " --fwhm 6 --device gpu -o " + (d_ / "o.nii") + " --report " +
                  (d_ / "r.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rep = nlohmann::json::parse(std::ifstream(d_ / "r.json"));
  EXPECT_EQ(rep["items"][0]["device"].get<std::string>().rfind("cuda:", 0), 0u) << rep.dump();
}

}  // namespace
}  // namespace tandem
