// SPDX-License-Identifier: Apache-2.0
// NIfTI inputs truncated by another program while they are read through their mapping: the image
// fails with an InputError instead of the process dying of SIGBUS.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <nifti2_io.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "core/error.h"
#include "io/mapped_read_guard.h"
#include "io/nifti_image.h"
#include "io_test_util.h"
#include "smooth/gzip_codec.h"

namespace tandem {
namespace {

using io::kFileShrank;
using io::test::TempDir;
using io::test::write_bytes;

constexpr int kSide = 32;
constexpr std::size_t kVoxels = kSide * kSide * kSide;

// A float32 NIfTI-1 image of `volumes` volumes of noise (finite, incompressible, so that a .gz
// is about as long as the data): header, empty extender, voxels.
std::string nifti_bytes(int volumes) {
  nifti_1_header h{};
  h.sizeof_hdr = 348;
  h.dim[0] = 4;
  h.dim[1] = h.dim[2] = h.dim[3] = kSide;
  h.dim[4] = static_cast<short>(volumes);
  h.dim[5] = h.dim[6] = h.dim[7] = 1;
  h.datatype = NIFTI_TYPE_FLOAT32;
  h.bitpix = 32;
  for (float& p : h.pixdim) p = 1.0f;
  h.vox_offset = 352;
  std::memcpy(h.magic, "n+1", 4);
  std::string out(352 + kVoxels * volumes * sizeof(float), '\0');
  std::memcpy(out.data(), &h, sizeof h);
  uint32_t x = 12345;
  for (std::size_t i = 352; i < out.size(); i += 4) {
    x = x * 1664525u + 1013904223u;
    const uint32_t bits = (x >> 9) | 0x3f800000u;  // a float in [1, 2)
    std::memcpy(out.data() + i, &bits, 4);
  }
  return out;
}

void shrink(const std::string& path, std::size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0) << std::strerror(errno);
  ::close(fd);
}

TEST(NiftiShrinkTest, TruncatedNiiFailsTheVolumePastTheNewEnd) {
  TempDir dir;
  const std::string path = dir.path("big.nii");
  write_bytes(path, nifti_bytes(8));
  NiftiImage img = NiftiImage::read(path);
  std::vector<float> v(kVoxels);
  img.read_volume(0, v.data());
  shrink(path, 352 + 2 * kVoxels * sizeof(float));
  try {
    img.read_volume(6, v.data());
    FAIL() << "read a volume past the end of a truncated file";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_EQ(e.item(), "volume 6");
    EXPECT_EQ(e.reason(), kFileShrank);
  }
}

// The compressed bytes are inflated by a background thread that starts inside read(), so the
// truncation races it; the file is large enough (32 MB) that the thread is nearly always still
// inflating, and a lost race (the whole image already in memory) is retried with a fresh file.
TEST(NiftiShrinkTest, TruncatedNiiGzFailsTheBackgroundInflater) {
  TempDir dir;
  const std::string raw = nifti_bytes(256);
  const std::vector<uint8_t> gz =
      gzip_compress_parallel(reinterpret_cast<const uint8_t*>(raw.data()), raw.size(), 1, 1);
  const std::string gz_bytes(gz.begin(), gz.end());
  for (int attempt = 0; attempt < 5; ++attempt) {
    const std::string path = dir.path("big" + std::to_string(attempt) + ".nii.gz");
    write_bytes(path, gz_bytes);
    NiftiImage img = NiftiImage::read(path);
    shrink(path, 4096);
    try {
      img.wait_complete();
      continue;  // the inflater finished before the truncation
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), path);
      EXPECT_EQ(e.reason(), kFileShrank);
      return;
    }
  }
  FAIL() << "the background inflater finished before every truncation";
}

}  // namespace
}  // namespace tandem
