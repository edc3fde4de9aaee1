// SPDX-License-Identifier: Apache-2.0
// Every bad input of `tandem smooth`: a clear message naming the file and reason, the exit code
// `tandem svd` uses (1 item failed, 2 usage), and nothing half-written left behind.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

class SmoothErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TANDEM_REQUIRE_PYTHON();
    ASSERT_FALSE(tandem().empty()) << "TANDEM_BIN is not set";
    auto r = run(python() + " " + script("make_image.py") + " " + (d_ / "good.nii.gz") +
                 " --shape 8,8,8,2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  RunResult smooth(const std::string& args) { return run(tandem() + " smooth " + args); }
  void make(const std::string& args) {
    auto r = run(python() + " " + script("make_image.py") + " " + args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  // Only the given names remain in dir: no temporaries, no partial outputs.
  void expect_only(const std::string& dir, std::vector<std::string> names) {
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(dir)) found.push_back(e.path().filename().string());
    std::sort(found.begin(), found.end());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(found, names);
  }
  ScratchDir d_;
};

TEST_F(SmoothErrorsTest, NotANiftiFile) {
  std::ofstream(d_ / "notes.nii")
      << "plain text, not an image; long enough to have a header size\n";
  auto r = smooth((d_ / "notes.nii") + " --fwhm 6 -o " + (d_ / "out.nii"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("tandem: error: " + (d_ / "notes.nii") + ": not a NIfTI file"),
            std::string::npos)
      << r.output;
  expect_only(d_.str(), {"good.nii.gz", "notes.nii"});
}

TEST_F(SmoothErrorsTest, CorruptHeaderFieldsAreNamedInOneLine) {
  // A valid .nii with dim[0] (offset 40) or datatype (offset 70) overwritten: tandem names the
  // field, and nifti_clib's own "** ERROR" lines never reach the user.
  auto m = run(python() + " " + script("make_image.py") + " " + (d_ / "ok.nii") + " --shape 4,4,4");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  const std::pair<std::size_t, std::string> cases[] = {
      {40, "invalid NIfTI header: dim[0] is 9 (must be 1 to 7)"},
      {70, "invalid NIfTI header: datatype 9 is not a NIfTI voxel type"}};
  for (const auto& [offset, message] : cases) {
    std::string bytes;
    {
      std::ifstream in(d_ / "ok.nii", std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    bytes[offset] = 9;
    bytes[offset + 1] = 0;
    std::ofstream(d_ / "bad.nii", std::ios::binary | std::ios::trunc) << bytes;
    auto r = smooth((d_ / "bad.nii") + " --fwhm 6 -o " + (d_ / "out.nii") + " -q --device cpu");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find((d_ / "bad.nii") + ": " + message), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("** ERROR"), std::string::npos) << r.output;
  }
  expect_only(d_.str(), {"good.nii.gz", "ok.nii", "bad.nii"});
}

TEST_F(SmoothErrorsTest, SeveralInputsWithOneOutputFileNameAreRefused) {
  fs::copy_file(d_ / "good.nii.gz", d_ / "second.nii.gz");
  auto r = smooth((d_ / "good.nii.gz") + " " + (d_ / "second.nii.gz") + " --fwhm 6 -o " +
                  (d_ / "out.nii.gz"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("2 inputs need an output directory, not one file"), std::string::npos)
      << r.output;
  expect_only(d_.str(), {"good.nii.gz", "second.nii.gz"});
}

TEST_F(SmoothErrorsTest, TruncatedGzip) {
  fs::copy_file(d_ / "good.nii.gz", d_ / "cut.nii.gz");
  fs::resize_file(d_ / "cut.nii.gz", fs::file_size(d_ / "cut.nii.gz") * 2 / 3);
  auto r = smooth((d_ / "cut.nii.gz") + " --fwhm 6 -o " + (d_ / "out.nii.gz"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find((d_ / "cut.nii.gz") + ": truncated gzip stream"), std::string::npos)
      << r.output;
  expect_only(d_.str(), {"good.nii.gz", "cut.nii.gz"});
}

TEST_F(SmoothErrorsTest, TwoAndFiveDimensionalImages) {
  for (const char* shape : {"8,9", "3,3,3,2,2"}) {
    auto m = run(python() + " " + script("make_image.py") + " " + (d_ / "bad.nii") + " --shape " +
                 shape);
    ASSERT_EQ(m.exit_code, 0) << m.output;
    auto r = smooth((d_ / "bad.nii") + " --fwhm 6 -o " + (d_ / "out.nii"));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("-D image; smoothing needs 3-D or 4-D"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(d_ / "out.nii"));
  }
}

TEST_F(SmoothErrorsTest, BadFwhmIsAUsageError) {
  for (const char* f : {"0", "-2", "abc", "nan", "6,6", "1,2,3,4", "0,0,0", "6,-1,6", "inf"}) {
    auto r = smooth((d_ / "good.nii.gz") + " --fwhm " + f + " -o " + (d_ / "out.nii"));
    EXPECT_EQ(r.exit_code, 2) << "--fwhm " << f << ": " << r.output;
    EXPECT_NE(r.output.find("--fwhm"), std::string::npos) << r.output;
  }
  auto none = smooth((d_ / "good.nii.gz") + " -o " + (d_ / "out.nii"));
  EXPECT_EQ(none.exit_code, 2) << none.output;
  expect_only(d_.str(), {"good.nii.gz"});
}

TEST_F(SmoothErrorsTest, MaskOnAnotherGrid) {
  make((d_ / "mask.nii") + " --shape 8,8,7 --mask-of 1");
  auto r = smooth((d_ / "good.nii.gz") + " --fwhm 6 --mask " + (d_ / "mask.nii") + " -o " +
                  (d_ / "out.nii"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  // The line names the image first, then the mask, each with its own dimensionality.
  EXPECT_NE(r.output.find("tandem: error: " + (d_ / "good.nii.gz") + ": mask " + (d_ / "mask.nii") +
                          " is 8x8x7, the image is 8x8x8"),
            std::string::npos)
      << r.output;
  make((d_ / "mask2.nii") + " --shape 8,8,8 --voxel 2,2,2 --mask-of 1");
  auto r2 = smooth((d_ / "good.nii.gz") + " --fwhm 6 --mask " + (d_ / "mask2.nii") + " -o " +
                   (d_ / "out.nii"));
  EXPECT_EQ(r2.exit_code, 1) << r2.output;
  EXPECT_NE(r2.output.find((d_ / "good.nii.gz") + ": mask " + (d_ / "mask2.nii") +
                           ": affine differs from the image's (not the same grid)"),
            std::string::npos)
      << r2.output;
  EXPECT_FALSE(fs::exists(d_ / "out.nii"));
}

TEST_F(SmoothErrorsTest, MaskShiftedInSpaceIsAnotherGrid) {
  // Same shape and voxel size as good.nii.gz (origin -10,20,-30), 10 mm further along x.
  make((d_ / "shifted.nii") + " --shape 8,8,8 --origin 0,20,-30 --mask-of 1");
  auto r = smooth((d_ / "good.nii.gz") + " --fwhm 6 --mask " + (d_ / "shifted.nii") + " -o " +
                  (d_ / "out.nii"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("affine differs from the image's (not the same grid)"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(d_ / "out.nii"));
  // The same origin to within float rounding is the same grid.
  make((d_ / "same.nii") + " --shape 8,8,8 --origin=-10.000001,20,-30 --mask-of 1");
  auto ok = smooth((d_ / "good.nii.gz") + " --fwhm 6 --mask " + (d_ / "same.nii") + " -o " +
                   (d_ / "out.nii") + " -q");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

TEST_F(SmoothErrorsTest, UnusableMaskIsAUsageErrorBeforeAnyImage) {
  std::ofstream(d_ / "notes.nii")
      << "plain text, not an image; long enough to have a header size\n";
  make((d_ / "two.nii") + " --shape 8,8,8,2");
  fs::copy_file(d_ / "good.nii.gz", d_ / "second.nii.gz");
  make((d_ / "whole.nii.gz") + " --shape 8,8,8 --mask-of 1");
  fs::copy_file(d_ / "whole.nii.gz", d_ / "cut.nii.gz");
  fs::resize_file(d_ / "cut.nii.gz", fs::file_size(d_ / "cut.nii.gz") * 2 / 3);
  const std::pair<std::string, std::string> cases[] = {
      {"nosuch.nii.gz", "No such file or directory"},
      {"notes.nii", "not a NIfTI file"},
      {"two.nii", "a mask is one 3-D volume; this one is 8x8x8x2"},
      {"cut.nii.gz", "truncated"}};
  for (const auto& [mask, reason] : cases) {
    for (const char* mode : {"--fwhm 6 -o ", "--estimate -o "}) {
      auto r = smooth((d_ / "good.nii.gz") + " " + (d_ / "second.nii.gz") + " " + mode +
                      (d_ / "out/") + " --mask " + (d_ / mask));
      EXPECT_EQ(r.exit_code, 2) << mask << ": " << r.output;
      EXPECT_NE(r.output.find("tandem: error: --mask " + (d_ / mask) + ": "), std::string::npos)
          << r.output;
      EXPECT_NE(r.output.find(reason), std::string::npos) << r.output;
      // One line, not one per image.
      EXPECT_EQ(r.output.find("--mask", r.output.find("--mask") + 1), std::string::npos)
          << r.output;
      EXPECT_FALSE(fs::exists(d_ / "out"));
    }
  }
}

TEST_F(SmoothErrorsTest, UnwritableOutputDirectory) {
  std::ofstream(d_ / "plainfile") << "x";
  auto r = smooth((d_ / "good.nii.gz") + " --fwhm 6 -o " + (d_ / "plainfile/out.nii.gz"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find((d_ / "plainfile") + ": cannot create the output directory"),
            std::string::npos)
      << r.output;
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: permission bits do not stop writes";
  fs::create_directory(d_ / "ro");
  ::chmod((d_ / "ro").c_str(), 0555);
  auto r2 = smooth((d_ / "good.nii.gz") + " --fwhm 6 -o " + (d_ / "ro/out.nii.gz"));
  EXPECT_EQ(r2.exit_code, 1) << r2.output;
  EXPECT_NE(r2.output.find("not writable"), std::string::npos) << r2.output;
  EXPECT_TRUE(fs::is_empty(d_ / "ro"));
}

TEST_F(SmoothErrorsTest, FailedWriteNamesTheInputThenTheOutput) {
  // A file size limit fails the write as a full disk does (EFBIG instead of ENOSPC), without a
  // mount; SIGXFSZ is ignored so that the write returns the error instead of killing tandem.
  make((d_ / "big.nii.gz") + " --shape 16,16,16,2");
  auto r = run("trap '' XFSZ; ulimit -f 2; " + tandem() + " smooth " + (d_ / "big.nii.gz") +
               " --fwhm 6 -q --device cpu -o " + (d_ / "out/"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("tandem: error: " + (d_ / "big.nii.gz") +
                          ": cannot write output: " + (d_ / "out/big_desc-sm6.nii.gz") + ": "),
            std::string::npos)
      << r.output;
  expect_only(d_ / "out", {});
}

TEST_F(SmoothErrorsTest, KernelFarWiderThanTheImageIsRefusedPerImage) {
  // good.nii.gz is 8 voxels of 3 mm a side: its limit is the floor, 1024 voxels.
  for (const char* f : {"1e12", "1e8", "6,6,1e5", "1e300"}) {
    auto r =
        smooth((d_ / "good.nii.gz") + " --fwhm " + f + " -q --device cpu -o " + (d_ / "out.nii"));
    EXPECT_EQ(r.exit_code, 1) << "--fwhm " << f << ": " << r.output;
    EXPECT_NE(r.output.find("tandem: error: " + (d_ / "good.nii.gz") + ": --fwhm "),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("is more than the limit of 1024 voxels for this image (the larger "
                            "of 1024 and 16 × its longest axis of 8 voxels)"),
              std::string::npos)
        << r.output;
  }
  auto r = smooth((d_ / "good.nii.gz") + " --fwhm 1e8 -q -o " + (d_ / "out.nii"));
  EXPECT_NE(r.output.find("--fwhm 1e+08: kernel radius 56621453 voxels (x axis)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(smooth((d_ / "good.nii.gz") + " --fwhm 6,6,1e5 -q -o " + (d_ / "out.nii"))
                .output.find("--fwhm 6,6,100000: kernel radius 56621 voxels (z axis)"),
            std::string::npos);
  expect_only(d_.str(), {"good.nii.gz"});
  // The limit follows each image's grid: a radius of 1100 voxels (FWHM 647.6 mm at 1 mm) is
  // beyond the floor but within 16 × 80 voxels.
  make((d_ / "long.nii") + " --shape 80,4,4 --voxel 1,1,1");
  make((d_ / "short.nii") + " --shape 8,4,4 --voxel 1,1,1");
  auto both =
      smooth((d_ / "long.nii") + " " + (d_ / "short.nii") + " --fwhm 647.6 -q -o " + (d_ / "out/"));
  EXPECT_EQ(both.exit_code, 1) << both.output;
  EXPECT_NE(both.output.find((d_ / "short.nii") + ": --fwhm 647.6: kernel radius 1100 voxels"),
            std::string::npos)
      << both.output;
  expect_only(d_ / "out", {"long_desc-sm647p6.nii"});
}

TEST_F(SmoothErrorsTest, ToFwhmSearchStopsAtTheWidestKernel) {
  auto r = smooth((d_ / "good.nii.gz") + " --to-fwhm 1e8 -q --device cpu -o " + (d_ / "t.nii"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find((d_ / "good.nii.gz") +
                          ": --to-fwhm 1e+08: the widest blur this image takes, FWHM 1808.5 mm "
                          "(a kernel radius of 1024 voxels"),
            std::string::npos)
      << r.output;
  expect_only(d_.str(), {"good.nii.gz"});
}

TEST_F(SmoothErrorsTest, InterruptStopsInsideOneWideVolume) {
  // One volume whose three passes take seconds (radius 2000 on every axis of 160 voxels): the
  // signal is honoured between lines, not after the volume.
  make((d_ / "one.nii") + " --shape 160,160,160 --voxel 1,1,1");
  auto r = run("sh -c '" + tandem() + " smooth -q -j 1 --device cpu " + (d_ / "one.nii") +
               " --fwhm 1177.4 -o " + (d_ / "out/o.nii") +
               " & p=$!; sleep 0.5; kill -INT $p; t0=$(date +%s%N); wait $p; rc=$?; "
               "echo waited_ms=$(( ($(date +%s%N) - t0) / 1000000 )); exit $rc'");
  EXPECT_EQ(r.exit_code, 130) << r.output;
  const std::size_t at = r.output.find("waited_ms=");
  ASSERT_NE(at, std::string::npos) << r.output;
  EXPECT_LT(std::stol(r.output.substr(at + 10)), 1000) << r.output;
  expect_only(d_ / "out", {});
}

TEST_F(SmoothErrorsTest, OutputEqualToInputIsRefused) {
  auto before = fs::file_size(d_ / "good.nii.gz");
  auto r = smooth((d_ / "good.nii.gz") + " --fwhm 6 -o " + (d_ / "good.nii.gz"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is the input file"), std::string::npos) << r.output;
  EXPECT_EQ(fs::file_size(d_ / "good.nii.gz"), before);
  // The same file through another spelling of its path.
  auto r2 = smooth((d_ / "good.nii.gz") + " --fwhm 6 -o " + d_.str() + "/./good.nii.gz");
  EXPECT_EQ(r2.exit_code, 2) << r2.output;
  expect_only(d_.str(), {"good.nii.gz"});
}

TEST_F(SmoothErrorsTest, TwoInputsWithOneOutputNameAreRefused) {
  fs::create_directory(d_ / "a");
  fs::copy_file(d_ / "good.nii.gz", d_ / "a/good.nii.gz");
  auto r =
      smooth((d_ / "good.nii.gz") + " " + (d_ / "a/good.nii.gz") + " --fwhm 6 -o " + (d_ / "out"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("would both write"), std::string::npos) << r.output;
}

TEST_F(SmoothErrorsTest, OneBadItemDoesNotStopTheOthers) {
  std::ofstream(d_ / "sub-02_bold.nii")
      << "garbage garbage garbage garbage garbage garbage garbage\n";
  fs::copy_file(d_ / "good.nii.gz", d_ / "sub-01_bold.nii.gz");
  auto r = smooth((d_ / "sub-01_bold.nii.gz") + " " + (d_ / "sub-02_bold.nii") + " --fwhm 6 -o " +
                  (d_ / "out") + " --report " + (d_ / "r.json"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(fs::exists(d_ / "out/sub-01_desc-sm6_bold.nii.gz"));
  expect_only(d_ / "out", {"sub-01_desc-sm6_bold.nii.gz"});
  auto rep = nlohmann::json::parse(std::ifstream(d_ / "r.json"));
  EXPECT_EQ(rep["items"][0]["status"], "ok");
  EXPECT_EQ(rep["items"][1]["status"], "failed");
  EXPECT_NE(rep["items"][1]["message"].get<std::string>().find("not a NIfTI"), std::string::npos);
  EXPECT_EQ(rep["summary"]["failed"].get<int>(), 1);
}

TEST_F(SmoothErrorsTest, InterruptStopsCleanlyWithExit130) {
  auto m = run(python() + " " + script("make_image.py") + " " + (d_ / "big.nii") +
               " --shape 64,64,40,120");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  bool saw_interrupt = false;
  for (const char* delay : {"0.05", "0.15", "0.3"}) {
    fs::remove_all(d_ / "out");
    fs::create_directory(d_ / "out");
    auto r = run("sh -c '" + tandem() + " smooth -q " + (d_ / "big.nii") + " --fwhm 6 " +
                 "--compression-level 9 -o " + (d_ / "out/o.nii.gz") + " & p=$!; sleep " + delay +
                 "; kill -INT $p; wait $p'");
    if (r.exit_code == 130) {
      saw_interrupt = true;
      expect_only(d_ / "out", {});  // no output, no temporary
    } else {
      // Finished before the signal: then the output is whole.
      EXPECT_EQ(r.exit_code, 0) << r.output;
      expect_only(d_ / "out", {"o.nii.gz"});
    }
  }
  EXPECT_TRUE(saw_interrupt) << "every run finished before SIGINT arrived";
}

TEST_F(SmoothErrorsTest, InterruptedReportHasARecordForEveryInput) {
  auto m = run(python() + " " + script("make_image.py") + " " + (d_ / "big.nii") +
               " --shape 64,64,40,120");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  fs::copy_file(d_ / "big.nii", d_ / "second.nii");
  bool saw_interrupt = false;
  for (const char* delay : {"0.05", "0.15", "0.3"}) {
    fs::remove_all(d_ / "out");
    auto r =
        run("sh -c '" + tandem() + " smooth -q " + (d_ / "big.nii") + " " + (d_ / "second.nii") +
            " --fwhm 6 --compression-level 9 -o " + (d_ / "out/") + " --report " + (d_ / "r.json") +
            " & p=$!; sleep " + delay + "; kill -INT $p; wait $p'");
    if (r.exit_code != 130) continue;
    saw_interrupt = true;
    std::ifstream in(d_ / "r.json");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The first image was interrupted (or done); the second never started, and says so.
    EXPECT_NE(text.find("second.nii"), std::string::npos) << text;
    EXPECT_NE(text.find("\"not_started\""), std::string::npos) << text;
    break;
  }
  EXPECT_TRUE(saw_interrupt) << "every run finished before SIGINT arrived";
}

}  // namespace
}  // namespace tandem
