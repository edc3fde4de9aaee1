// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <numeric>
#include <thread>

#include "core/error.h"
#include "io/npz.h"
#include "io/zip_format.h"
#include "io_test_util.h"

namespace tandem::io {
namespace {

using test::TempDir;

std::vector<double> iota(std::size_t n) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), 1.0);
  return v;
}

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  while (dirent* e = ::readdir(d))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
  ::closedir(d);
  return out;
}

// Checks each member's stored CRC-32 against its bytes, as unzip -t or zipfile.testzip would.
void expect_crcs_match(const std::string& path) {
  ZipArchive zip(path);
  for (const auto& e : zip.entries()) {
    const uint64_t start = zip.data_offset(e, path);
    const uLong crc = crc32(0, zip.file()->data() + start, static_cast<uInt>(e.usize));
    EXPECT_EQ(e.crc, crc) << e.name;
  }
}

// Lowers the zip64 threshold for one test.
class Zip64Threshold {
 public:
  explicit Zip64Threshold(uint64_t t) : saved_(detail::zip64_threshold()) {
    detail::zip64_threshold() = t;
  }
  ~Zip64Threshold() { detail::zip64_threshold() = saved_; }

 private:
  uint64_t saved_;
};

TEST(NpzWriterTest, FillsRangesInAnyOrderFromThreads) {
  TempDir tmp;
  const int64_t B = 16, m = 8, n = 5;
  const std::vector<double> u = iota(B * m * n);
  const std::vector<float> s(B * n, 0.5f);
  const std::string path = tmp.path("out.npz");
  {
    NpzWriter w(path, {{"U", DType::kFloat64, {B, m, n}}, {"S", DType::kFloat32, {B, n}}});
    EXPECT_FALSE(npz_is_complete(path, {"U", "S"}));  // nothing under the final name yet
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int64_t i = B - 1 - t; i >= 0; i -= 4) {  // backwards, interleaved across threads
          w.write(0, i * m * n * 8, u.data() + i * m * n, m * n * 8);
          w.write(1, i * n * 4, s.data() + i * n, n * 4);
        }
      });
    for (auto& t : threads) t.join();
    w.commit();
  }
  EXPECT_EQ(npz_members(path), (std::vector<std::string>{"U", "S"}));
  EXPECT_EQ(test::read_all(*open_npz_member(path, "U")), u);
  EXPECT_EQ(test::read_all(*open_npz_member(path, "S")), std::vector<double>(B * n, 0.5));
  EXPECT_TRUE(npz_is_complete(path, {"U", "S"}));
  expect_crcs_match(path);
  EXPECT_EQ(dir_entries(tmp.dir()), (std::vector<std::string>{"out.npz"}));  // no temporary left
}

TEST(NpzWriterTest, AddArrayAppendsAMember) {
  TempDir tmp;
  const std::vector<double> a = iota(6);
  const std::vector<double> failed = {3, 7};
  NpzWriter w(tmp.path("o.npz"), {{"A", DType::kFloat64, {2, 3}}});
  w.write(0, 0, a.data(), 48);
  w.add_array({"failed", DType::kFloat64, {1, 2}}, failed.data());
  w.commit();
  EXPECT_EQ(npz_members(tmp.path("o.npz")), (std::vector<std::string>{"A", "failed"}));
  EXPECT_EQ(test::read_all(*open_npz_member(tmp.path("o.npz"), "failed")), failed);
  EXPECT_EQ(test::read_all(*open_npz_member(tmp.path("o.npz"), "A")), a);
  expect_crcs_match(tmp.path("o.npz"));
}

TEST(NpzWriterTest, CommitRefusesUnwrittenRanges) {
  TempDir tmp;
  const std::vector<double> a = iota(6);
  NpzWriter w(tmp.path("o.npz"), {{"A", DType::kFloat64, {2, 3}}});
  w.write(0, 0, a.data(), 24);
  w.write(0, 32, a.data() + 4, 16);  // bytes 24..31 never written
  try {
    w.commit();
    ADD_FAILURE() << "commit accepted a gap";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("array 'A': bytes from 24 were never written"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(npz_is_complete(tmp.path("o.npz"), {"A"}));
}

TEST(NpzWriterTest, RejectsOverlappingAndOutOfRangeWrites) {
  TempDir tmp;
  const std::vector<double> a = iota(6);
  NpzWriter w(tmp.path("o.npz"), {{"A", DType::kFloat64, {2, 3}}});
  w.write(0, 8, a.data(), 16);
  EXPECT_THROW(w.write(0, 16, a.data(), 16), Error);
  EXPECT_THROW(w.write(0, 0, a.data(), 16), Error);
  EXPECT_THROW(w.write(0, 40, a.data(), 16), Error);
  EXPECT_THROW(w.write(1, 0, a.data(), 8), Error);
}

TEST(NpzWriterTest, UncommittedWriterLeavesNothing) {
  TempDir tmp;
  {
    NpzWriter w(tmp.path("o.npz"), {{"A", DType::kFloat64, {100, 100}}});
    const double x = 1;
    w.write(0, 0, &x, 8);
  }
  EXPECT_TRUE(dir_entries(tmp.dir()).empty());
}

TEST(NpzWriterTest, CommitsToOtherPath) {
  TempDir tmp;
  const std::vector<double> a = iota(4);
  NpzWriter w(tmp.path("o.npz"), {{"A", DType::kFloat64, {2, 2}}});
  w.write(0, 0, a.data(), 32);
  w.commit(tmp.path("renamed.npz"));
  EXPECT_EQ(dir_entries(tmp.dir()), (std::vector<std::string>{"renamed.npz"}));
  EXPECT_EQ(test::read_all(*open_npz_member(tmp.path("renamed.npz"), "A")), a);
}

TEST(NpzWriterTest, WritesZip64RecordsPastTheThreshold) {
  Zip64Threshold low(200);  // members, offsets and the directory all pass 200 bytes
  TempDir tmp;
  const std::vector<double> a = iota(8 * 8);
  const std::vector<double> b = iota(3 * 4);
  const std::string path = tmp.path("z64.npz");
  NpzWriter w(path, {{"A", DType::kFloat64, {8, 8}}, {"B", DType::kFloat64, {3, 4}}});
  w.write(0, 0, a.data(), a.size() * 8);
  w.write(1, 0, b.data(), b.size() * 8);
  w.commit();
  const std::string bytes = test::read_bytes(path);
  EXPECT_NE(bytes.find(std::string("PK\x06\x06", 4)), std::string::npos) << "no zip64 end record";
  EXPECT_NE(bytes.find(std::string("PK\x06\x07", 4)), std::string::npos) << "no zip64 locator";
  ZipArchive zip(path);
  ASSERT_EQ(zip.entries().size(), 2u);
  EXPECT_EQ(zip.entries()[1].usize, make_npy_header(DType::kFloat64, {3, 4}).size() + 96);
  EXPECT_EQ(test::read_all(*open_npz_member(path, "A")), a);
  EXPECT_EQ(test::read_all(*open_npz_member(path, "B")), b);
  EXPECT_TRUE(npz_is_complete(path, {"A", "B"}));
  expect_crcs_match(path);
}

TEST(NpzCompleteTest, ChecksArchiveAndNames) {
  TempDir tmp;
  const std::vector<double> u = iota(4);
  const std::vector<double> s = {2, 1};
  const std::string path = tmp.path("r.npz");
  // S of one matrix is 1-D: complete() checks sizes, not matrix shape.
  write_npz(path, {{"U", DType::kFloat64, {2, 2}}, {"S", DType::kFloat64, {2}}},
            {u.data(), s.data()});
  EXPECT_TRUE(npz_is_complete(path, {"U", "S"}));
  EXPECT_TRUE(npz_is_complete(path, {}));
  EXPECT_FALSE(npz_is_complete(path, {"U", "S", "Vh"}));
  EXPECT_FALSE(npz_is_complete(tmp.path("missing.npz"), {"U"}));
  const std::string bytes = test::read_bytes(path);
  test::write_bytes(tmp.path("cut.npz"), bytes.substr(0, bytes.size() - 30));
  EXPECT_FALSE(npz_is_complete(tmp.path("cut.npz"), {"U"}));
  // The member's npy header promises more data than the member holds.
  std::string lying = bytes;
  const std::size_t at = lying.find("(2, 2)");
  lying.replace(at, 6, "(9, 9)");
  test::write_bytes(tmp.path("lying.npz"), lying);
  EXPECT_FALSE(npz_is_complete(tmp.path("lying.npz"), {"U"}));
  EXPECT_TRUE(npz_is_complete(tmp.path("lying.npz"), {"S"}));
  write_npz(tmp.path("d.npz"), {{"U", DType::kFloat64, {2, 2}}, {"S", DType::kFloat64, {2}}},
            {u.data(), s.data()}, true);
  EXPECT_TRUE(npz_is_complete(tmp.path("d.npz"), {"U", "S"}));
  expect_crcs_match(path);
}

}  // namespace
}  // namespace tandem::io
