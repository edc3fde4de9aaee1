// SPDX-License-Identifier: Apache-2.0
// Mutation fuzzing of the .npy and .npz readers: thousands of damaged copies of valid files
// (bytes flipped, runs overwritten, cut short, grown), each of which must either read or fail
// with an InputError; any other exception (a bad_alloc from a size taken on trust, a logic
// error) or a crash is a bug. Deterministic seeds, so a failure names a reproducible case.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/npy.h"
#include "io/npz.h"
#include "io_test_util.h"

namespace tandem::io {
namespace {

using namespace test;  // TempDir, npy_bytes, npy_dict, make_zip, write_bytes

// One damaged copy of `base`: most edits land in the first 200 bytes, where headers live.
std::string mutate(const std::string& base, std::mt19937_64& rng) {
  std::string s = base;
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : std::size_t(rng() % n); };
  auto where = [&] {
    return rng() % 4 != 0 ? pick(std::min<std::size_t>(s.size(), 200)) : pick(s.size());
  };
  const int edits = 1 + int(rng() % 4);
  for (int e = 0; e < edits && !s.empty(); ++e) {
    switch (rng() % 6) {
      case 0:  // one bit
        s[where()] ^= char(1 << (rng() % 8));
        break;
      case 1:  // one byte, often a digit or a quote (dict text)
        s[where()] = "0123456789'\"(),:{} \n\xff\x00"[rng() % 22];
        break;
      case 2: {  // a run of bytes
        const std::size_t at = where(), len = 1 + pick(16);
        for (std::size_t i = at; i < std::min(s.size(), at + len); ++i) s[i] = char(rng());
        break;
      }
      case 3:  // cut short
        s.resize(pick(s.size()));
        break;
      case 4:  // grown
        s.append(1 + pick(64), char(rng()));
        break;
      default: {  // a large number where a small one was
        const std::string big =
            std::to_string(rng() % 4 == 0 ? 4000000000000000000ull : rng() % 100000);
        s.replace(where(), std::min(big.size(), s.size()),
                  big.substr(0, std::min(big.size(), s.size())));
        break;
      }
    }
  }
  return s;
}

// Reads every matrix the file offers; a size no file could back is refused before this point.
void read_everything(MatrixStack& m, std::uint64_t file_bytes) {
  const std::uint64_t elems = std::uint64_t(m.rows()) * std::uint64_t(m.cols());
  if (m.count() <= 0 || elems == 0) return;
  // Deflated members may inflate past the file's size, but not by more than zip's 1032:1.
  ASSERT_LE(elems * dtype_size(m.dtype()), 1100 * file_bytes + 4096) << m.where();
  std::vector<char> buf(elems * dtype_size(m.dtype()));
  for (int64_t i = 0; i < m.count(); ++i) m.read(i, buf.data());
}

// Runs `open_and_read` on `runs` mutations of `base`; fails on anything but success or
// InputError, naming the seed and iteration.
template <typename Fn>
void fuzz(const std::string& base, const std::string& path, int runs, uint64_t seed,
          Fn open_and_read) {
  std::mt19937_64 rng(seed);
  int refused = 0;
  for (int i = 0; i < runs; ++i) {
    const std::string bytes = mutate(base, rng);
    write_bytes(path, bytes);
    try {
      open_and_read(bytes.size());
    } catch (const InputError&) {
      ++refused;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "seed " << seed << " run " << i << ": " << typeid(e).name() << ": "
                    << e.what();
    }
    if (::testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "seed " << seed << " run " << i;
      return;
    }
  }
  // The mutations must actually reach the error paths, or this test proves nothing.
  EXPECT_GT(refused, runs / 10);
}

TEST(FuzzTest, DamagedNpyFilesReadOrFailCleanly) {
  TempDir dir;
  const std::string path = dir.path("f.npy");
  std::vector<double> v(3 * 4 * 5);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = double(i) * 0.5;
  const std::string data(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
  for (const auto& [dict, major] :
       std::vector<std::pair<std::string, int>>{{npy_dict("<f8", false, {3, 4, 5}), 1},
                                                {npy_dict("<f8", true, {12, 5}), 2},
                                                {npy_dict(">i4", false, {6, 5}), 3}}) {
    const std::string base = npy_bytes(dict, data.substr(0, 240), major);
    fuzz(base, path, 3000, 17 + uint64_t(major), [&](std::size_t size) {
      auto m = open_npy(path);
      read_everything(*m, size);
    });
  }
}

TEST(FuzzTest, DamagedNpzArchivesReadOrFailCleanly) {
  TempDir dir;
  const std::string path = dir.path("f.npz");
  std::vector<float> v(2 * 6 * 7);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  const std::string a =
      npy_bytes(npy_dict("<f4", false, {2, 6, 7}),
                std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
  const std::string b = npy_bytes(npy_dict("<f8", false, {3, 3}), std::string(72, '\x11'));
  for (bool deflate : {false, true}) {
    const std::string base = make_zip({{"a.npy", a}, {"b.npy", b}}, deflate);
    fuzz(base, path, 3000, deflate ? 29 : 23, [&](std::size_t size) {
      for (const std::string& member : npz_members(path)) {
        auto m = open_npz_member(path, member);
        read_everything(*m, size);
      }
    });
  }
}

}  // namespace
}  // namespace tandem::io
