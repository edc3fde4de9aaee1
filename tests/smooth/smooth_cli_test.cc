// SPDX-License-Identifier: Apache-2.0
// End-to-end: the tandem binary against nilearn's recipe run with scipy + nibabel.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "smooth_test_util.h"

namespace tandem {
namespace {

using smooth_testing::last_json_line;
using smooth_testing::python;
using smooth_testing::run;
using smooth_testing::ScratchDir;
using smooth_testing::script;
using smooth_testing::tandem;

void make_image(const std::string& path, const std::string& args) {
  auto r = run(python() + " " + script("make_image.py") + " " + path + " " + args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

// Runs tandem smooth IN -o OUT <args>, then the oracle on IN; returns the oracle's JSON.
nlohmann::json smooth_and_compare(const ScratchDir& d, const std::string& in,
                                  const std::string& fwhm, const std::string& extra = "",
                                  const std::string& out_name = "out.nii.gz") {
  auto t = run(tandem() + " smooth -q " + in + " --fwhm " + fwhm + " -o " + (d / out_name) + " " +
               extra);
  EXPECT_EQ(t.exit_code, 0) << t.output;
  std::string oracle_extra;
  if (extra.find("--mask") != std::string::npos)
    oracle_extra += extra.substr(extra.find("--mask"));
  else if (extra.find("--edges fsl") != std::string::npos)
    oracle_extra += " --edges fsl";
  auto r = run(python() + " " + script("nilearn_reference.py") + " " + in + " " + (d / "ref.npy") +
               " --fwhm " + fwhm + " --compare " + (d / out_name) + " " + oracle_extra);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0 ? last_json_line(r.output) : nlohmann::json::object();
}

class SmoothCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TANDEM_REQUIRE_PYTHON();
    ASSERT_FALSE(tandem().empty()) << "TANDEM_BIN is not set";
  }
  ScratchDir d_;
};

TEST_F(SmoothCliTest, NibabelExamplesMatchNilearnWithinOneUlp) {
  std::string dir = smooth_testing::nibabel_data_dir();
  if (dir.empty()) GTEST_SKIP() << "nibabel's example data is not installed";
  for (const char* name :
       {"example4d.nii.gz", "functional.nii", "anatomical.nii", "example_nifti2.nii.gz"}) {
    for (const char* fwhm : {"6", "4,5,9"}) {
      auto j = smooth_and_compare(d_, dir + "/" + name, fwhm);
      ASSERT_TRUE(j.contains("max_ulp")) << name << ": " << j.dump();
      EXPECT_LE(j["max_ulp"].get<int>(), 1) << name << " fwhm " << fwhm;
    }
  }
}

TEST_F(SmoothCliTest, SyntheticImagesMatchNilearnWithinOneUlp) {
  const char* cases[] = {
      "--shape 9,8,3 --voxel 2,3,4",    // 3-slice axis, anisotropic
      "--shape 5,4,1,3 --voxel 2,2,2",  // one slice: radius ≥ N everywhere
      "--shape 2,2,2 --voxel 1,1,1",    // tiny
      "--shape 7,5,4,4 --dtype int16 --slope 0.37 --inter -2.5",
      "--shape 6,7,5 --dtype float64 --big-endian",
      "--shape 6,7,5 --qform-only --voxel 1.5,2,2.5",
      "--shape 6,7,5 --no-xform --voxel 2,2,3",
      "--shape 6,7,3,2 --nifti2 --dtype uint8 --slope 1.5 --inter 1",
      "--shape 4,4,4 --dtype int32",
      "--shape 4,3,6 --dtype uint16 --big-endian --slope 2 --inter 0",
      "--shape 11,10,9 --dtype int8",
      "--shape 5,6,4 --dtype uint32",
      "--shape 5,6,4 --dtype int64 --big-endian",
      "--shape 5,6,4 --dtype uint64",
      "--shape 5,6,4,2 --big-endian --slope 0.25 --inter 2",
  };
  int i = 0;
  for (const char* c : cases) {
    std::string in = d_ / ("in" + std::to_string(i++) + ".nii");
    make_image(in, c);
    auto j = smooth_and_compare(d_, in, "7");
    ASSERT_TRUE(j.contains("max_ulp")) << c << ": " << j.dump();
    EXPECT_LE(j["max_ulp"].get<int>(), 1) << c;
    EXPECT_TRUE(j["shape_ok"].get<bool>()) << c;
  }
}

TEST_F(SmoothCliTest, WidestAcceptedKernelStillMatchesNilearn) {
  // FWHM 602.6 mm at 1 mm voxels: σ 255.9, radius int(4σ + 0.5) = 1024, the limit for a small
  // image; the kernel is built as for any other FWHM.
  std::string in = d_ / "wide.nii";
  make_image(in, "--shape 6,5,4,2 --voxel 1,1,1");
  auto j = smooth_and_compare(d_, in, "602.6");
  ASSERT_TRUE(j.contains("max_ulp")) << j.dump();
  EXPECT_LE(j["max_ulp"].get<int>(), 1);
}

TEST_F(SmoothCliTest, OutputMembersSpanningVolumesAreExact) {
  // 4 MiB gzip members: here members end mid-volume, and one 3-D volume spans two members.
  std::string series = d_ / "series.nii.gz", big = d_ / "big.nii";
  make_image(series, "--shape 100,100,30,7 --voxel 2,2,3");
  make_image(big, "--shape 128,128,80 --dtype int16");
  for (const char* out : {"series_out.nii.gz", "series_out.nii"}) {
    auto j = smooth_and_compare(d_, series, "5", "-j 2", out);
    ASSERT_TRUE(j.contains("max_ulp")) << j.dump();
    EXPECT_LE(j["max_ulp"].get<int>(), 1) << out;
  }
  auto j = smooth_and_compare(d_, big, "4,4,6", "--datatype float32");
  ASSERT_TRUE(j.contains("max_ulp")) << j.dump();
  EXPECT_LE(j["max_ulp"].get<int>(), 1);
}

TEST_F(SmoothCliTest, NonFiniteValuesBecomeZeroAndAreCounted) {
  std::string in = d_ / "nan.nii.gz";
  make_image(in, "--shape 10,9,8,2 --nan 5 --inf 4");
  auto j = smooth_and_compare(d_, in, "5", "--report " + (d_ / "r.json"));
  EXPECT_EQ(j["nonfinite"].get<int>(), 9);
  EXPECT_LE(j["max_ulp"].get<int>(), 1);
  auto rep = nlohmann::json::parse(std::ifstream(d_ / "r.json"));
  EXPECT_EQ(rep["items"][0]["nonfinite_zeroed"].get<int>(), 9);
  EXPECT_EQ(rep["items"][0]["status"], "ok");
  EXPECT_EQ(rep["summary"]["done"].get<int>(), 1);
}

TEST_F(SmoothCliTest, MaskSmoothsInsideOnlyAsTheFormula) {
  std::string in = d_ / "img.nii", mask = d_ / "mask.nii";
  make_image(in, "--shape 12,11,10,2 --voxel 2,2,3");
  make_image(mask, "--shape 12,11,10 --voxel 2,2,3 --mask-of 1 --dtype uint8");
  auto j = smooth_and_compare(d_, in, "6", "--mask " + mask);
  ASSERT_TRUE(j.contains("max_ulp")) << j.dump();
  EXPECT_LE(j["max_ulp"].get<int>(), 1);
  // Zero outside the mask.
  auto r =
      run(python() + " -c 'import nibabel as nib, numpy as np; o=np.asanyarray(nib.load(\"" +
          (d_ / "out.nii.gz") + "\").dataobj); m=np.asanyarray(nib.load(\"" + mask +
          "\").dataobj); print(int(np.count_nonzero(o[m==0])), int(np.count_nonzero(o[m!=0])))'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.substr(0, 2), "0 ");
}

TEST_F(SmoothCliTest, FslEdgesRenormaliseAsTheFormula) {
  std::string in = d_ / "img.nii";
  make_image(in, "--shape 9,8,5 --voxel 2,3,3");
  auto j = smooth_and_compare(d_, in, "8", "--edges fsl");
  ASSERT_TRUE(j.contains("max_rel")) << j.dump();
  EXPECT_LT(j["max_rel"].get<double>(), 1e-6);
}

TEST_F(SmoothCliTest, HeaderFieldsArePreserved) {
  std::string in = d_ / "h.nii";
  make_image(in,
             "--shape 6,5,4,3 --dtype int16 --slope 0.5 --inter 7 --header-fields --voxel 2,2.5,3");
  auto t = run(tandem() + " smooth -q " + in + " --fwhm 5 -o " + (d_ / "h_out.nii.gz"));
  ASSERT_EQ(t.exit_code, 0) << t.output;
  const char* check = R"PY(
import sys, gzip, numpy as np, nibabel as nib
def raw(p):
    f = gzip.open(p) if p.endswith(".gz") else open(p, "rb")
    return nib.Nifti1Header.from_fileobj(f)
a, b = raw(sys.argv[1]), raw(sys.argv[2])
same = ["dim", "pixdim", "qform_code", "sform_code", "quatern_b", "quatern_c", "quatern_d",
        "qoffset_x", "qoffset_y", "qoffset_z", "srow_x", "srow_y", "srow_z", "xyzt_units",
        "intent_code", "intent_p1", "intent_name", "dim_info", "slice_code", "slice_start",
        "slice_end", "slice_duration", "toffset"]
bad = [k for k in same if not np.array_equal(a[k], b[k])]
data = np.asanyarray(nib.load(sys.argv[2]).dataobj)
checks = {
  "datatype": int(b["datatype"]) == 16, "bitpix": int(b["bitpix"]) == 32,
  "scl": float(b["scl_slope"]) == 0 and float(b["scl_inter"]) == 0, "glmax": int(b["glmax"]) == 0,
  "cal": float(b["cal_min"]) == float(data.min()) and float(b["cal_max"]) == float(data.max()),
  "descrip": b"tandem smooth" in np.asarray(b["descrip"]).tobytes(),
  "magic": np.asarray(b["magic"]).tobytes().rstrip(b"\0") == b"n+1"}
print(" ".join(bad + [k for k, ok in checks.items() if not ok]) or "ok")
)PY";
  std::ofstream(d_ / "check.py") << check;
  auto r = run(python() + " " + (d_ / "check.py") + " " + in + " " + (d_ / "h_out.nii.gz"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "ok\n");
}

TEST_F(SmoothCliTest, KeepDatatypeRoundsAndClips) {
  std::string in = d_ / "i16.nii";
  make_image(in, "--shape 8,7,6 --dtype int16");
  auto t = run(tandem() + " smooth -q " + in + " --fwhm 6 --datatype keep -o " + (d_ / "k.nii"));
  ASSERT_EQ(t.exit_code, 0) << t.output;
  auto r = run(python() + " " + script("nilearn_reference.py") + " " + in + " " + (d_ / "ref.npy") +
               " --fwhm 6 && " + python() +
               " -c 'import nibabel as nib, numpy as np; "
               "o=nib.load(\"" +
               (d_ / "k.nii") + "\"); ref=np.load(\"" + (d_ / "ref.npy") +
               "\"); "
               "want=np.clip(np.rint(ref), -32768, 32767).astype(np.int16); "
               "print(o.get_data_dtype(), int(np.abs(np.asanyarray(o.dataobj).astype(np.int64) - "
               "want).max()))'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("int16 0"), std::string::npos) << r.output;
}

TEST_F(SmoothCliTest, DirectoryOutputUsesBidsNames) {
  std::string a = d_ / "sub-01_task-rest_bold.nii.gz", b = d_ / "sub-02_task-rest_bold.nii";
  make_image(a, "--shape 5,5,5,2");
  make_image(b, "--shape 5,5,5");
  auto t = run(tandem() + " smooth -q " + a + " " + b + " --fwhm 6,6,8 -o " + (d_ / "out"));
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_TRUE(std::filesystem::exists(d_ / "out/sub-01_task-rest_desc-sm6x6x8_bold.nii.gz"));
  EXPECT_TRUE(std::filesystem::exists(d_ / "out/sub-02_task-rest_desc-sm6x6x8_bold.nii"));
}

TEST_F(SmoothCliTest, DirectoryOutputAppendsDescToOtherNames) {
  std::string a = d_ / "patient_01.nii.gz", b = d_ / "sub-03_desc-preproc_bold.nii";
  make_image(a, "--shape 5,5,5");
  make_image(b, "--shape 5,5,5");
  auto t = run(tandem() + " smooth -q " + a + " " + b + " --fwhm 6 -o " + (d_ / "out/"));
  ASSERT_EQ(t.exit_code, 0) << t.output;
  EXPECT_TRUE(std::filesystem::exists(d_ / "out/patient_01_desc-sm6.nii.gz"));
  EXPECT_TRUE(std::filesystem::exists(d_ / "out/sub-03_desc-sm6_bold.nii"));
}

TEST_F(SmoothCliTest, ThreadCountDoesNotChangeTheResult) {
  std::string in = d_ / "s.nii.gz";
  make_image(in, "--shape 13,12,11,5");
  for (const char* j : {"1", "2", "3"}) {
    auto t = run(tandem() + " smooth -q " + in + " --fwhm 6 -j " + j + " -o " +
                 (d_ / ("j" + std::string(j) + ".nii")));
    ASSERT_EQ(t.exit_code, 0) << t.output;
  }
  auto slurp = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  EXPECT_EQ(slurp(d_ / "j1.nii"), slurp(d_ / "j2.nii"));
  EXPECT_EQ(slurp(d_ / "j1.nii"), slurp(d_ / "j3.nii"));
}

TEST_F(SmoothCliTest, CompressionLevelsAllReadBack) {
  std::string in = d_ / "c.nii";
  make_image(in, "--shape 16,16,16,3");
  for (const char* level : {"0", "1", "9"}) {
    auto j = smooth_and_compare(d_, in, "4", std::string("--compression-level ") + level);
    EXPECT_EQ(j["max_ulp"].get<int>(), 0) << "level " << level;
  }
}

}  // namespace
}  // namespace tandem
