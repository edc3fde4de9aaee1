// SPDX-License-Identifier: Apache-2.0
// Where `tandem smooth -o` writes: a file or a directory by one rule, missing parent directories
// created (also for `tandem run`'s [smooth] output template), and a clear error otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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

class SmoothOutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TANDEM_REQUIRE_PYTHON();
    ASSERT_FALSE(tandem().empty()) << "TANDEM_BIN is not set";
    auto r = run(python() + " " + script("make_image.py") + " " + (d_ / "bold.nii.gz") +
                 " --shape 8,8,6,2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  RunResult smooth(const std::string& args) {
    return run(tandem() + " smooth -q --device cpu " + (d_ / "bold.nii.gz") + " --fwhm 6 " + args);
  }
  // True when `path` is a regular file starting with the gzip magic bytes.
  static bool is_gzip_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    unsigned char magic[2] = {0, 0};
    in.read(reinterpret_cast<char*>(magic), 2);
    return fs::is_regular_file(path) && magic[0] == 0x1f && magic[1] == 0x8b;
  }
  ScratchDir d_;
};

TEST_F(SmoothOutputTest, MissingParentDirectoriesAreCreated) {
  auto r = smooth("-o " + (d_ / "new/deeper/x.nii.gz"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(is_gzip_file(d_ / "new/deeper/x.nii.gz"));
}

TEST_F(SmoothOutputTest, ParentThatCannotBeCreatedIsNamed) {
  std::ofstream(d_ / "plainfile") << "x";
  auto r = smooth("-o " + (d_ / "plainfile/sub/out.nii.gz"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("tandem: error: " + (d_ / "bold.nii.gz") + ": " + (d_ / "plainfile/sub") +
                          ": cannot create the output directory: "),
            std::string::npos)
      << r.output;
  // Root ignores permission bits; the immutable attribute stops it too, where there is one.
  fs::create_directory(d_ / "ro");
  bool immutable = false;
  if (::geteuid() == 0) {
    immutable = run("chattr +i " + (d_ / "ro") + " 2>/dev/null").exit_code == 0;
    if (!immutable) GTEST_SKIP() << "running as root without chattr: nothing stops writes";
  } else {
    fs::permissions(d_ / "ro", fs::perms::owner_read | fs::perms::owner_exec);
  }
  auto r2 = smooth("-o " + (d_ / "ro/sub/out.nii.gz"));
  if (immutable) run("chattr -i " + (d_ / "ro"));
  EXPECT_EQ(r2.exit_code, 1) << r2.output;
  EXPECT_NE(r2.output.find((d_ / "ro/sub") + ": cannot create the output directory"),
            std::string::npos)
      << r2.output;
  EXPECT_TRUE(fs::is_empty(d_ / "ro"));
}

TEST_F(SmoothOutputTest, RunPlanSmoothTemplateCreatesItsDirectory) {
  fs::create_directories(d_ / "data/sub-01");
  fs::copy_file(d_ / "bold.nii.gz", d_ / "data/sub-01/sub-01_bold.nii.gz");
  std::ofstream(d_ / "participants.tsv") << "participant_id\nsub-01\n";
  std::ofstream(d_ / "plan.toml") << "[smooth]\nsubjects = \"" << (d_ / "participants.tsv")
                                  << "\"\ninput = \"" << (d_ / "data/{}/{}_bold.nii.gz")
                                  << "\"\noutput = \"" << (d_ / "smoothed/{}_desc-sm6_bold.nii.gz")
                                  << "\"\nfwhm = 6\n";
  auto r = run(tandem() + " run -q " + (d_ / "plan.toml"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(is_gzip_file(d_ / "smoothed/sub-01_desc-sm6_bold.nii.gz")) << r.output;
}

TEST_F(SmoothOutputTest, NiftiExtensionsAreMatchedInAnyCase) {
  auto r = smooth("-o " + (d_ / "x.NII.GZ"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(is_gzip_file(d_ / "x.NII.GZ"));
  auto r2 = smooth("-o " + (d_ / "y.Nii"));
  EXPECT_EQ(r2.exit_code, 0) << r2.output;
  EXPECT_TRUE(fs::is_regular_file(d_ / "y.Nii"));
  EXPECT_FALSE(is_gzip_file(d_ / "y.Nii"));
  // Into a directory, an input's extension keeps its spelling.
  fs::copy_file(d_ / "bold.nii.gz", d_ / "sub-01_bold.NII.GZ");
  auto r3 = run(tandem() + " smooth -q --device cpu " + (d_ / "sub-01_bold.NII.GZ") +
                " --fwhm 6 -o " + (d_ / "out/"));
  EXPECT_EQ(r3.exit_code, 0) << r3.output;
  EXPECT_TRUE(is_gzip_file(d_ / "out/sub-01_desc-sm6_bold.NII.GZ"));
}

TEST_F(SmoothOutputTest, OtherExtensionForOneInputIsRefused) {
  for (const char* name : {"out.img", "x.nii.gzz", "sub-01.v2"}) {
    auto r = smooth("-o " + (d_ / name));
    EXPECT_EQ(r.exit_code, 2) << name << ": " << r.output;
    EXPECT_NE(r.output.find("an output file must end in .nii or .nii.gz (end the path with '/'"),
              std::string::npos)
        << r.output;
    EXPECT_FALSE(fs::exists(d_ / name)) << name;
  }
}

TEST_F(SmoothOutputTest, DirectoriesAreATrailingSlashAnExistingOneOrANameWithoutExtension) {
  for (const std::string out : {"slash.img/", "plain"}) {
    auto r = smooth("-o " + (d_ / out));
    EXPECT_EQ(r.exit_code, 0) << out << ": " << r.output;
    EXPECT_TRUE(is_gzip_file(d_ / out + "/bold_desc-sm6.nii.gz")) << out;
  }
  fs::create_directory(d_ / "existing.d");
  auto r = smooth("-o " + (d_ / "existing.d"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(is_gzip_file(d_ / "existing.d/bold_desc-sm6.nii.gz"));
}

TEST_F(SmoothOutputTest, OneFileNamedTwiceIsSmoothedOnce) {
  auto r = smooth((d_ / ".") + "/bold.nii.gz " + (d_ / "bold.nii.gz") + " -o " + (d_ / "out/"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(is_gzip_file(d_ / "out/bold_desc-sm6.nii.gz"));
  const auto entries = std::distance(fs::directory_iterator(d_ / "out"), fs::directory_iterator());
  EXPECT_EQ(entries, 1);  // no second output, no leftover temporary
}

TEST_F(SmoothOutputTest, SeveralInputsWithAFileLikeNameAreRefused) {
  fs::copy_file(d_ / "bold.nii.gz", d_ / "second.nii.gz");
  for (const char* name : {"out.img", "out.NII.GZ"}) {
    auto r = smooth((d_ / "second.nii.gz") + " -o " + (d_ / name));
    EXPECT_EQ(r.exit_code, 2) << name << ": " << r.output;
    EXPECT_NE(r.output.find("2 inputs need an output directory, not one file"), std::string::npos)
        << r.output;
    EXPECT_FALSE(fs::exists(d_ / name)) << name;
  }
}

}  // namespace
}  // namespace tandem
