// SPDX-License-Identifier: Apache-2.0
// End-to-end tests of `tandem demo --quick` on the CPU: exit code, the printed summary, the data
// it makes, its outputs (read back with tandem's readers and numpy), and its temporary directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli_test_util.h"
#include "io/nifti_image.h"
#include "io/npz.h"

namespace tandem::testing {
namespace {

namespace fs = std::filesystem;

RunResult demo(const std::string& args, const std::string& env = "") {
  return run_command(env + " '" + tandem_bin() + "' demo " + args);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string smoothed(const std::string& dir, const std::string& id) {
  return dir + "/derivatives/smooth/" + id + "_task-rest_desc-sm6_bold.nii.gz";
}

TEST(DemoCliTest, QuickDemoRunsOnCpuAndSaysWhereAndHowFast) {
  ScratchDir tmp;
  const std::string dir = tmp / "demo";
  RunResult r = demo("--quick --cores 2 --dir '" + dir + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("svd on cpu"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no GPU"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("smooth (FWHM 6 mm)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("budget of 2 cores"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("serial loop, same work"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("speedup: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("outputs: " + dir + "/svd/random.npz"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("removed now"), std::string::npos) << "--dir is kept";
}

TEST(DemoCliTest, QuickDemoWritesABidsStudyAndReadableOutputs) {
  ScratchDir tmp;
  const std::string dir = tmp / "demo";
  RunResult r = demo("--quick --quiet --dir '" + dir + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  EXPECT_EQ(read_text(dir + "/participants.tsv"), "participant_id\nsub-01\nsub-02\n");
  for (const std::string id : {"sub-01", "sub-02"}) {
    NiftiImage in = NiftiImage::read(dir + "/" + id + "/func/" + id + "_task-rest_bold.nii.gz");
    EXPECT_EQ(in.shape(), (VolumeShape{32, 32, 16}));
    EXPECT_EQ(in.volumes(), 10);
    EXPECT_EQ(in.header().datatype, NIFTI_TYPE_FLOAT32);
    EXPECT_DOUBLE_EQ(in.voxel_sizes()[0], 3.0);
    NiftiImage out = NiftiImage::read(smoothed(dir, id));
    EXPECT_EQ(out.shape(), in.shape());
    EXPECT_EQ(out.volumes(), 10);
    std::vector<float> v(out.shape().voxels());
    EXPECT_EQ(out.read_volume(9, v.data()), 0u) << "no non-finite values";
  }

  const std::string npz = dir + "/svd/random.npz";
  auto u = io::open_npz_member(npz, "U");
  EXPECT_EQ(u->count(), 4);
  EXPECT_EQ(u->rows(), 300);
  EXPECT_EQ(u->cols(), 300);
  auto vh = io::open_npz_member(npz, "Vh");
  EXPECT_EQ(vh->count(), 4);
  auto s = io::open_npz_member(npz, "S");
  EXPECT_EQ(s->rows() * s->cols() * s->count(), 4 * 300);
}

TEST(DemoCliTest, NumpyReadsTheSvdOutputAsOrthogonalFactors) {
  const std::string py = python_with_numpy();
  if (py.empty()) GTEST_SKIP() << "no Python with numpy (set TANDEM_PYTHON)";
  ScratchDir tmp;
  const std::string dir = tmp / "demo";
  ASSERT_EQ(demo("--quick --quiet --dir '" + dir + "'").exit_code, 0);
  const std::string check =
      "import numpy as np, sys\n"
      "z = np.load(sys.argv[1])\n"
      "u, s, vh = z[\"U\"], z[\"S\"], z[\"Vh\"]\n"
      "assert u.shape == (4, 300, 300) and s.shape == (4, 300) and vh.shape == (4, 300, 300)\n"
      "assert u.dtype == np.float64\n"
      "assert np.allclose(u[2].T @ u[2], np.eye(300), atol=1e-10)\n"
      "assert np.allclose(vh[2] @ vh[2].T, np.eye(300), atol=1e-10)\n"
      "assert np.all(np.diff(s, axis=1) <= 0) and np.all(s >= 0)\n"
      "a = (u[1] * s[1]) @ vh[1]\n"
      "assert a.min() > -1e-9 and a.max() < 1 + 1e-9, \"np.random.rand-like values in [0, 1)\"\n";
  RunResult r = run_command(py + " -c '" + check + "' '" + dir + "/svd/random.npz'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(DemoCliTest, SecondRunInTheSameDirectoryRedoesTheWorkItTimes) {
  ScratchDir tmp;
  const std::string dir = tmp / "demo";
  ASSERT_EQ(demo("--quick --quiet --dir '" + dir + "'").exit_code, 0);
  // Outputs of the first run exist; the speedup must still compare the same work.
  RunResult again = demo("--quick --dir '" + dir + "'");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("one `tandem smooth -j 1` per subject: 2 subjects in"),
            std::string::npos)
      << again.output;
  EXPECT_NE(again.output.find(": 4 matrices in"), std::string::npos) << again.output;
}

TEST(DemoCliTest, TemporaryDirectoryIsRemovedAtTheEnd) {
  ScratchDir tmp;
  RunResult r = demo("--quick", "TMPDIR='" + tmp.str() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("removed now"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_empty(tmp.str()))
      << "left behind: " << fs::directory_iterator(tmp.str())->path();
}

TEST(DemoCliTest, CoresAboveTheUsableOnesAreWarnedOfAndTheDemoGoesOn) {
  // Pinned to one CPU, so that 2 is more than this process may use on any machine.
  RunResult r = demo("--quick --cores 2", "taskset -c 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tandem: warning: --cores 2 is more than the 1 usable core here"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("budget of 2 cores"), std::string::npos) << r.output;
}

TEST(DemoCliTest, BadFlagsAreUsageErrors) {
  EXPECT_EQ(demo("--cores 0").exit_code, 2);
  EXPECT_EQ(demo("--no-such-flag").exit_code, 2);
  EXPECT_EQ(demo("extra-argument").exit_code, 2);
}

TEST(DemoCliTest, UnwritableDirectoryIsAnErrorNotACrash) {
  ScratchDir tmp;
  const std::string file = tmp / "a-file";
  std::ofstream(file) << "x";
  RunResult r = demo("--quick --dir '" + file + "/demo'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("tandem: error:"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tandem::testing
