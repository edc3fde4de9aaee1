// SPDX-License-Identifier: Apache-2.0
// Mutation fuzzing of the NIfTI reader, .nii and .nii.gz: damaged copies of a valid image must
// either read (every volume decoded) or fail with an InputError, never crash or throw anything
// else. Deterministic seeds: a failure names a reproducible case.
#include <gtest/gtest.h>
#include <nifti1.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/nifti_image.h"
#include "smooth/gzip_codec.h"

namespace tandem {
namespace {

// A 4×3×2×2 float32 NIfTI-1 image (.nii layout: header, 4 extension bytes, voxels).
std::string small_nifti() {
  nifti_1_header h{};
  h.sizeof_hdr = 348;
  h.dim[0] = 4;
  h.dim[1] = 4;
  h.dim[2] = 3;
  h.dim[3] = 2;
  h.dim[4] = 2;
  for (int i = 5; i < 8; ++i) h.dim[i] = 1;
  h.datatype = DT_FLOAT32;
  h.bitpix = 32;
  for (int i = 0; i < 8; ++i) h.pixdim[i] = 1.0f;
  h.pixdim[1] = 2.0f;
  h.vox_offset = 352;
  h.scl_slope = 1.0f;
  h.qform_code = 1;
  h.sform_code = 1;
  h.srow_x[0] = 2.0f;
  h.srow_y[1] = 1.0f;
  h.srow_z[2] = 1.0f;
  std::memcpy(h.magic, "n+1", 4);
  std::string s(reinterpret_cast<const char*>(&h), sizeof h);
  s.append(4, '\0');
  for (int i = 0; i < 4 * 3 * 2 * 2; ++i) {
    const float v = float(i) * 0.25f;
    s.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  return s;
}

std::string mutate(const std::string& base, std::mt19937_64& rng) {
  std::string s = base;
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : std::size_t(rng() % n); };
  const int edits = 1 + int(rng() % 3);
  for (int e = 0; e < edits && !s.empty(); ++e) {
    // Most edits hit the 348-byte header, where sizes, types and offsets live.
    const std::size_t at =
        rng() % 4 != 0 ? pick(std::min<std::size_t>(s.size(), 352)) : pick(s.size());
    switch (rng() % 4) {
      case 0:
        s[at] ^= char(1 << (rng() % 8));
        break;
      case 1:
        s[at] = char(rng());
        break;
      case 2:
        s.resize(pick(s.size()));
        break;
      default:
        s.append(1 + pick(32), char(rng()));
        break;
    }
  }
  return s;
}

void fuzz_nifti(bool gz, int runs, uint64_t seed) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("tandem-nifti-fuzz-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / (gz ? "f.nii.gz" : "f.nii")).string();
  const std::string base = small_nifti();
  std::mt19937_64 rng(seed);
  int refused = 0;
  for (int i = 0; i < runs; ++i) {
    std::string bytes = mutate(base, rng);
    if (gz) {
      // Damage the image, or the gzip stream itself.
      auto z = gzip_compress_parallel(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                      bytes.size(), 1, 1);
      bytes.assign(reinterpret_cast<const char*>(z.data()), z.size());
      if (rng() % 2 == 0) bytes = mutate(bytes, rng);
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    try {
      NiftiImage img = NiftiImage::read(path);
      const std::size_t n = img.shape().voxels();
      ASSERT_LE(n * std::size_t(img.volumes()), std::size_t(1) << 24) << "run " << i;
      std::vector<float> out(n);
      for (std::int64_t t = 0; t < img.volumes(); ++t) img.read_volume(t, out.data());
      img.wait_complete();
    } catch (const InputError&) {
      ++refused;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "seed " << seed << " run " << i << ": " << e.what();
    }
  }
  std::filesystem::remove_all(dir);
  EXPECT_GT(refused, runs / 10);
}

TEST(NiftiFuzzTest, DamagedNiiFilesReadOrFailCleanly) { fuzz_nifti(false, 2000, 41); }

TEST(NiftiFuzzTest, DamagedNiiGzFilesReadOrFailCleanly) { fuzz_nifti(true, 1000, 43); }

}  // namespace
}  // namespace tandem
