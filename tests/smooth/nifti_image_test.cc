// SPDX-License-Identifier: Apache-2.0
#include "io/nifti_image.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "smooth/output_name.h"
#include "smooth/smooth_job.h"
#include "smooth_test_util.h"

namespace tandem {
namespace {

using smooth_testing::python;
using smooth_testing::run;
using smooth_testing::ScratchDir;
using smooth_testing::script;

void make_image(const std::string& path, const std::string& args) {
  auto r = run(python() + " " + script("make_image.py") + " " + path + " " + args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

std::string reason_of(const std::string& path) {
  try {
    NiftiImage::read(path).wait_complete();
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), path);
    return e.reason();
  }
  return "<no error>";
}

TEST(NiftiImageTest, ReadsNibabelExamples) {
  std::string dir = smooth_testing::nibabel_data_dir();
  if (dir.empty()) GTEST_SKIP() << "nibabel's example data is not installed";
  NiftiImage a = NiftiImage::read(dir + "/example4d.nii.gz");
  EXPECT_EQ(a.shape(), (VolumeShape{128, 96, 24}));
  EXPECT_EQ(a.volumes(), 2);
  NiftiImage b = NiftiImage::read(dir + "/anatomical.nii");  // big-endian
  EXPECT_EQ(b.shape(), (VolumeShape{33, 41, 25}));
  EXPECT_EQ(b.volumes(), 1);
  NiftiImage c = NiftiImage::read(dir + "/example_nifti2.nii.gz");
  EXPECT_EQ(c.nifti_version(), 2);
  NiftiImage f = NiftiImage::read(dir + "/functional.nii");
  EXPECT_GT(f.header().scl_slope, 0.0);  // stored scaling, applied by read_volume
  std::vector<float> v(f.shape().voxels());
  f.read_volume(0, v.data());
  EXPECT_NEAR(v[0], 4004.1372, 1e-3);  // nibabel: np.asanyarray(img.dataobj)[0, 0, 0, 0]
}

TEST(NiftiImageTest, VoxelSizesComeFromTheAffine) {
  TANDEM_REQUIRE_PYTHON();
  ScratchDir d;
  make_image(d / "q.nii", "--shape 4,4,4 --voxel 1.5,2,2.5 --qform-only");
  auto q = NiftiImage::read(d / "q.nii").voxel_sizes();
  EXPECT_NEAR(q[0], 1.5, 1e-6);
  EXPECT_NEAR(q[1], 2.0, 1e-6);
  EXPECT_NEAR(q[2], 2.5, 1e-6);
  make_image(d / "s.nii", "--shape 4,4,4 --voxel 3,2,1");
  auto s = NiftiImage::read(d / "s.nii").voxel_sizes();
  EXPECT_EQ(s[0], 3.0);
  EXPECT_EQ(s[2], 1.0);
}

TEST(NiftiImageTest, NotANiftiFileIsRejected) {
  ScratchDir d;
  std::ofstream(d / "text.nii") << "this is not an image, just some text that is long enough\n";
  EXPECT_NE(reason_of(d / "text.nii").find("not a NIfTI"), std::string::npos);
  std::ofstream(d / "tiny.nii") << "ab";
  EXPECT_NE(reason_of(d / "tiny.nii").find("not a NIfTI"), std::string::npos);
  EXPECT_NE(reason_of(d / "missing.nii").find("No such file"), std::string::npos);
}

TEST(NiftiImageTest, TruncatedFilesAreRejected) {
  TANDEM_REQUIRE_PYTHON();
  ScratchDir d;
  make_image(d / "a.nii.gz", "--shape 20,20,20");
  auto size = std::filesystem::file_size(d / "a.nii.gz");
  std::filesystem::resize_file(d / "a.nii.gz", size / 2);
  EXPECT_NE(reason_of(d / "a.nii.gz").find("truncated gzip"), std::string::npos);
  make_image(d / "b.nii", "--shape 20,20,20");
  std::filesystem::resize_file(d / "b.nii", 352 + 1000);
  EXPECT_NE(reason_of(d / "b.nii").find("truncated"), std::string::npos);
}

TEST(NiftiImageTest, TwoAndFiveDimensionalImagesAreRejected) {
  TANDEM_REQUIRE_PYTHON();
  ScratchDir d;
  make_image(d / "two.nii", "--shape 8,9");
  EXPECT_NE(reason_of(d / "two.nii").find("2-D image"), std::string::npos);
  make_image(d / "five.nii", "--shape 3,3,3,2,2");
  EXPECT_NE(reason_of(d / "five.nii").find("5-D image"), std::string::npos);
}

TEST(NiftiImageTest, ComplexAndRgbAreUnsupported) {
  TANDEM_REQUIRE_PYTHON();
  ScratchDir d;
  make_image(d / "c.nii", "--shape 4,4,4 --dtype complex64");
  EXPECT_NE(reason_of(d / "c.nii").find("unsupported datatype"), std::string::npos);
}

TEST(NiftiImageTest, ScaledIntegersFollowNibabel) {
  TANDEM_REQUIRE_PYTHON();
  ScratchDir d;
  make_image(d / "s.nii", "--shape 3,2,2 --dtype int16 --slope 0.37 --inter -2.5 --big-endian");
  NiftiImage img = NiftiImage::read(d / "s.nii");
  std::vector<float> v(img.shape().voxels());
  img.read_volume(0, v.data());
  auto r = run(python() + " -c 'import nibabel as nib, numpy as np; a=np.asanyarray(nib.load(\"" +
               (d / "s.nii") +
               "\").dataobj).astype(np.float32).ravel(order=\"F\"); "
               "print(\" \".join(float.hex(float(x)) for x in a))'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream in(r.output);
  std::string tok;
  for (std::size_t i = 0; i < v.size(); ++i) {
    ASSERT_TRUE(in >> tok);
    EXPECT_EQ(v[i], static_cast<float>(std::strtod(tok.c_str(), nullptr))) << "voxel " << i;
  }
}

TEST(BidsNameTest, SetsDescBeforeTheSuffix) {
  EXPECT_EQ(smoothed_file_name("/data/sub-01_task-rest_bold.nii.gz", "6"),
            "sub-01_task-rest_desc-sm6_bold.nii.gz");
  EXPECT_EQ(smoothed_file_name("sub-01_task-rest_desc-preproc_bold.nii", "6p5"),
            "sub-01_task-rest_desc-sm6p5_bold.nii");
  EXPECT_EQ(smoothed_file_name("sub-01_bold.NII.GZ", "6"), "sub-01_desc-sm6_bold.NII.GZ");
  EXPECT_EQ(smoothed_file_name("anatomical.nii", "4"), "anatomical_desc-sm4.nii");
  EXPECT_EQ(fwhm_label({6, 6, 8}), "6x6x8");
  EXPECT_EQ(fwhm_label({2.5, 2.5, 2.5}), "2p5");
}

TEST(BidsNameTest, OtherNamesGetDescAtTheEnd) {
  EXPECT_EQ(smoothed_file_name("patient_01.nii.gz", "6"), "patient_01_desc-sm6.nii.gz");
  EXPECT_EQ(smoothed_file_name("subject_002_rest.nii", "6"), "subject_002_rest_desc-sm6.nii");
  EXPECT_EQ(smoothed_file_name("mni_2mm.nii.gz", "6"), "mni_2mm_desc-sm6.nii.gz");
  // Entities without a suffix, or an entity with an empty side: not BIDS, nothing replaced.
  EXPECT_EQ(smoothed_file_name("sub-01_task-rest.nii", "6"), "sub-01_task-rest_desc-sm6.nii");
  EXPECT_EQ(smoothed_file_name("sub-_bold.nii", "6"), "sub-_bold_desc-sm6.nii");
  EXPECT_EQ(smoothed_file_name("scan_desc-x_01.nii", "6"), "scan_desc-x_01_desc-sm6.nii");
}

}  // namespace
}  // namespace tandem
