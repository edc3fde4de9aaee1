// SPDX-License-Identifier: Apache-2.0
#include "smooth/gzip_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "core/error.h"

namespace tandem {
namespace {

std::vector<std::uint8_t> sample_bytes(std::size_t n) {
  std::vector<std::uint8_t> b(n);
  std::mt19937 rng(3);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i / 7) % 13 + (rng() % 4));
  return b;
}

TEST(GzipCodecTest, ParallelMembersRoundTrip) {
  auto data = sample_bytes(1'000'003);
  for (int level : {0, 1, 6, 9}) {
    auto z = gzip_compress_parallel(data.data(), data.size(), level, 3, 64u << 10);
    ASSERT_TRUE(is_gzip(z.data(), z.size()));
    EXPECT_EQ(gzip_decompress(z.data(), z.size(), "mem"), data) << "level " << level;
  }
}

TEST(GzipCodecTest, EmptyInputIsOneValidMember) {
  auto z = gzip_compress_parallel(nullptr, 0, 1, 2);
  EXPECT_TRUE(gzip_decompress(z.data(), z.size(), "mem").empty());
}

TEST(GzipCodecTest, TruncatedStreamIsAnInputError) {
  auto data = sample_bytes(300'000);
  auto z = gzip_compress_parallel(data.data(), data.size(), 1, 1);
  for (std::size_t keep : {z.size() / 2, z.size() - 3}) {
    try {
      gzip_decompress(z.data(), keep, "cut.nii.gz");
      FAIL() << "no error for a stream cut at " << keep;
    } catch (const InputError& e) {
      EXPECT_EQ(e.file(), "cut.nii.gz");
      EXPECT_NE(std::string(e.reason()).find("gzip"), std::string::npos) << e.what();
    }
  }
}

TEST(GzipCodecTest, CorruptStreamIsAnInputError) {
  auto data = sample_bytes(100'000);
  auto z = gzip_compress_parallel(data.data(), data.size(), 1, 1);
  for (std::size_t i = 20; i < 60; ++i) z[i] ^= 0x5a;
  EXPECT_THROW(gzip_decompress(z.data(), z.size(), "bad.gz"), InputError);
}

TEST(GzipCodecTest, NamesItsBackend) {
  std::string name = gzip_backend_name();
  EXPECT_TRUE(name == "isa-l" || name == "zlib") << name;
}

}  // namespace
}  // namespace tandem
