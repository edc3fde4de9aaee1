// SPDX-License-Identifier: Apache-2.0
#include "io/npz.h"

#include <gtest/gtest.h>

#include <numeric>

#include "core/error.h"
#include "io_test_util.h"

namespace tandem::io {
namespace {

using test::make_zip;
using test::npy_bytes;
using test::npy_dict;
using test::TempDir;
using test::write_bytes;

std::string f8_bytes(const std::vector<double>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 8);
}

std::vector<double> iota(std::size_t n, double start = 1) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// The InputError of opening `member`: checks it names the archive and the member.
std::string member_error(const std::string& path, const std::string& member,
                         bool read_all = false) {
  try {
    auto s = open_npz_member(path, member);
    if (read_all) test::read_all(*s);
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), path + ":" + member);
    return e.reason();
  }
  return "no error";
}

std::string archive_error(const std::string& path) {
  try {
    npz_members(path);
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), path);
    return e.reason();
  }
  return "no error";
}

TEST(NpzTest, RoundTripsStoredAndDeflated) {
  TempDir tmp;
  const std::vector<double> a = iota(12);
  const std::vector<float> b = {1.5f, 2.5f, -3.5f, 4.5f};
  const std::vector<NpzArraySpec> specs = {{"A", DType::kFloat64, {3, 4}},
                                           {"b", DType::kFloat32, {1, 2, 2}}};
  for (bool deflate : {false, true}) {
    const std::string path = tmp.path(deflate ? "z.npz" : "s.npz");
    write_npz(path, specs, {a.data(), b.data()}, deflate);
    EXPECT_EQ(npz_members(path), (std::vector<std::string>{"A", "b"}));
    auto sa = open_npz_member(path, "A");
    EXPECT_EQ(sa->where(), path + ":A");
    EXPECT_EQ(test::read_all(*sa), a);
    auto sb = open_npz_member(path, "b");
    EXPECT_EQ(sb->dtype(), DType::kFloat32);
    EXPECT_EQ(sb->ndim(), 3);
    EXPECT_EQ(test::read_all(*sb), (std::vector<double>{1.5, 2.5, -3.5, 4.5}));
    EXPECT_TRUE(npz_is_complete(path, {"A", "b"}));
  }
}

TEST(NpzTest, CompleteWithLayoutNeedsTheSameShapesAndDtypes) {
  TempDir tmp;
  const std::vector<double> a = iota(12);
  const std::string path = tmp.path("o.npz");
  write_npz(path, {{"U", DType::kFloat64, {3, 4}}}, {a.data()});
  EXPECT_TRUE(npz_is_complete(path, {{"U", DType::kFloat64, {3, 4}}}, true));
  EXPECT_FALSE(npz_is_complete(path, {{"U", DType::kFloat64, {3, 3}}}, true));
  EXPECT_FALSE(npz_is_complete(path, {{"U", DType::kFloat64, {1, 3, 4}}}, true));
  EXPECT_FALSE(npz_is_complete(path, {{"U", DType::kFloat32, {3, 4}}}, true));
  EXPECT_FALSE(npz_is_complete(path, {{"V", DType::kFloat64, {3, 4}}}, true));
  EXPECT_TRUE(npz_is_complete(path, {{"U", DType::kFloat32, {9}}}, false));  // names only
}

TEST(NpzTest, StreamsDeflatedStackInAnyOrder) {
  TempDir tmp;
  const std::vector<double> v = iota(5 * 3 * 2);
  write_bytes(
      tmp.path("a.npz"),
      make_zip({{"x.npy", npy_bytes(npy_dict("<f8", false, {5, 3, 2}), f8_bytes(v))}}, true));
  auto s = open_npz_member(tmp.path("a.npz"), "x");
  std::vector<double> m(6);
  for (int64_t i : {0, 1, 3, 2, 4, 0}) {
    s->read(i, m.data());
    EXPECT_EQ(m, std::vector<double>(v.begin() + i * 6, v.begin() + i * 6 + 6)) << "matrix " << i;
  }
}

TEST(NpzTest, ConvertsDeflatedBigEndianAndFortranMembers) {
  TempDir tmp;
  // (2, 3) int16 big-endian, Fortran order: column-major values 1..6.
  const std::string be = std::string("\0\x01\0\x02\0\x03\0\x04\0\x05\0\x06", 12);
  // (2, 2, 2) float64 Fortran order: element (b, r, c) at b + 2*(r + 2*c).
  const std::vector<double> f3 = {0, 100, 10, 110, 1, 101, 11, 111};
  write_bytes(tmp.path("a.npz"),
              make_zip({{"be.npy", npy_bytes(npy_dict(">i2", true, {2, 3}), be)},
                        {"f3.npy", npy_bytes(npy_dict("<f8", true, {2, 2, 2}), f8_bytes(f3))}},
                       true));
  EXPECT_EQ(test::read_all(*open_npz_member(tmp.path("a.npz"), "be")),
            (std::vector<double>{1, 3, 5, 2, 4, 6}));
  // The Fortran 3-D member goes through an unlinked temporary file; read it backwards too.
  auto s = open_npz_member(tmp.path("a.npz"), "f3");
  std::vector<double> m(4);
  s->read(1, m.data());
  EXPECT_EQ(m, (std::vector<double>{100, 101, 110, 111}));
  s->read(0, m.data());
  EXPECT_EQ(m, (std::vector<double>{0, 1, 10, 11}));
}

TEST(NpzTest, ListsAndOpensNonNpyMembersLikeNumpy) {
  TempDir tmp;
  write_bytes(tmp.path("a.npz"),
              make_zip({{"notes.txt", "hello"},
                        {"M.npy", npy_bytes(npy_dict("<f8", false, {1, 1}), f8_bytes({7}))}}));
  EXPECT_EQ(npz_members(tmp.path("a.npz")), (std::vector<std::string>{"notes.txt", "M"}));
  EXPECT_EQ(test::read_all(*open_npz_member(tmp.path("a.npz"), "M")), (std::vector<double>{7}));
  EXPECT_EQ(member_error(tmp.path("a.npz"), "notes.txt"), "not a .npy file (bad magic)");
  EXPECT_EQ(member_error(tmp.path("a.npz"), "nope"), "no such member in the archive");
}

class NpzBadMemberTest : public ::testing::TestWithParam<bool> {};

TEST_P(NpzBadMemberTest, NamesArchiveAndMember) {
  const bool deflate = GetParam();
  TempDir tmp;
  const std::string ok = npy_bytes(npy_dict("<f8", false, {2, 2}), f8_bytes({1, 2, 3, 4}));
  const std::string path = tmp.path("bad.npz");
  write_bytes(
      path,
      make_zip(
          {{"ok.npy", ok},
           {"magic.npy", "PK not numpy, long enough to parse"},
           {"short.npy", ok.substr(0, ok.size() - 8)},
           {"header.npy", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2",
                                    f8_bytes({1, 2, 3, 4}))},
           {"vec.npy", npy_bytes(npy_dict("<f8", false, {4}), f8_bytes({1, 2, 3, 4}))},
           {"cube.npy", npy_bytes(npy_dict("<f8", false, {1, 1, 2, 2}), f8_bytes({1, 2, 3, 4}))},
           {"cplx.npy", npy_bytes(npy_dict("<c16", false, {1, 2}), f8_bytes({1, 2, 3, 4}))},
           {"obj.npy", npy_bytes(npy_dict("|O", false, {2, 2}), f8_bytes({1, 2, 3, 4}))}},
          deflate));
  EXPECT_EQ(test::read_all(*open_npz_member(path, "ok")), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(member_error(path, "magic"), "not a .npy file (bad magic)");
  EXPECT_EQ(member_error(path, "short", true).rfind("truncated data", 0), 0u);
  EXPECT_EQ(member_error(path, "header").rfind("corrupt header", 0), 0u);
  EXPECT_EQ(member_error(path, "vec"),
            "1-D array: need a matrix (2-D) or a stack of matrices (3-D)");
  EXPECT_EQ(member_error(path, "cube"),
            "4-D array: need a matrix (2-D) or a stack of matrices (3-D)");
  EXPECT_EQ(member_error(path, "cplx"), "unsupported dtype '<c16' (complex)");
  EXPECT_EQ(member_error(path, "obj"), "unsupported dtype '|O' (object)");
}

INSTANTIATE_TEST_SUITE_P(StoredAndDeflated, NpzBadMemberTest, ::testing::Bool());

TEST(NpzTest, RejectsMissingAndNonZipFiles) {
  TempDir tmp;
  EXPECT_NE(archive_error(tmp.path("missing.npz")).find("No such file"), std::string::npos);
  write_bytes(tmp.path("text.npz"),
              "this is not a zip archive, just some text that is long enough");
  EXPECT_EQ(archive_error(tmp.path("text.npz")),
            "not a zip archive (no end of central directory record)");
  write_bytes(tmp.path("empty.npz"), "");
  EXPECT_EQ(archive_error(tmp.path("empty.npz")),
            "not a zip archive (no end of central directory record)");
  EXPECT_THROW(open_npz_member(tmp.path("missing.npz"), "A"), InputError);
}

TEST(NpzTest, RejectsCorruptZipStructures) {
  TempDir tmp;
  const std::string npy = npy_bytes(npy_dict("<f8", false, {2, 2}), f8_bytes({1, 2, 3, 4}));
  const std::string good = make_zip({{"A.npy", npy}});
  const std::size_t cd = good.find("PK\x01\x02");
  const std::size_t eocd = good.find("PK\x05\x06");
  // The end record is cut off.
  write_bytes(tmp.path("cut.npz"), good.substr(0, good.size() - 10));
  EXPECT_EQ(archive_error(tmp.path("cut.npz")),
            "not a zip archive (no end of central directory record)");
  // The central directory entry's signature is damaged.
  std::string bad_cd = good;
  bad_cd[cd + 1] = 'X';
  write_bytes(tmp.path("cd.npz"), bad_cd);
  EXPECT_EQ(archive_error(tmp.path("cd.npz")), "corrupt zip: central directory entry 0");
  // The directory offset points past the end.
  std::string bad_off = good;
  bad_off[eocd + 19] = '\x7f';
  write_bytes(tmp.path("off.npz"), bad_off);
  EXPECT_EQ(archive_error(tmp.path("off.npz")),
            "corrupt zip: central directory lies outside the file");
  // The local header is damaged: the archive lists fine, the member does not open.
  std::string bad_local = good;
  bad_local[0] = 'X';
  write_bytes(tmp.path("local.npz"), bad_local);
  EXPECT_EQ(npz_members(tmp.path("local.npz")), (std::vector<std::string>{"A"}));
  EXPECT_EQ(member_error(tmp.path("local.npz"), "A"), "corrupt zip: bad local file header");
  // An unknown compression method (bzip2 = 12).
  std::string bzip = good;
  bzip[cd + 10] = 12;
  write_bytes(tmp.path("bz.npz"), bzip);
  EXPECT_EQ(member_error(tmp.path("bz.npz"), "A"), "unsupported zip compression method 12");
}

TEST(NpzTest, RejectsTruncatedMemberData) {
  TempDir tmp;
  const std::string npy = npy_bytes(npy_dict("<f8", false, {2, 2}), f8_bytes({1, 2, 3, 4}));
  // The directory claims more bytes than the archive holds before it.
  std::string z = make_zip({{"A.npy", npy}});
  const std::size_t cd = z.find("PK\x01\x02");
  for (std::size_t at : {cd + 20, cd + 24}) z[at + 2] = 1;  // sizes += 64 KiB
  write_bytes(tmp.path("t.npz"), z);
  EXPECT_EQ(member_error(tmp.path("t.npz"), "A").rfind("truncated data", 0), 0u);
  EXPECT_FALSE(npz_is_complete(tmp.path("t.npz"), {"A"}));
}

TEST(NpzTest, RejectsTruncatedAndCorruptDeflateStreams) {
  TempDir tmp;
  const std::vector<double> v = iota(4 * 16 * 16);
  const std::string npy = npy_bytes(npy_dict("<f8", false, {4, 16, 16}), f8_bytes(v));
  std::string packed = test::deflate_raw(npy);
  // Half of the compressed stream, stored as if it were the whole member.
  std::string half_zip = make_zip({{"A.npy", npy}}, true);
  {
    const std::string cut = packed.substr(0, packed.size() / 2);
    half_zip.replace(half_zip.find(packed), packed.size(), cut);
    const std::size_t cd = half_zip.find("PK\x01\x02");
    const uint32_t csize = static_cast<uint32_t>(cut.size());
    half_zip.replace(cd + 20, 4, std::string(reinterpret_cast<const char*>(&csize), 4));
    const std::size_t eocd = half_zip.find("PK\x05\x06");
    const uint32_t cd_offset = static_cast<uint32_t>(cd);
    half_zip.replace(eocd + 16, 4, std::string(reinterpret_cast<const char*>(&cd_offset), 4));
  }
  write_bytes(tmp.path("half.npz"), half_zip);
  auto s = open_npz_member(tmp.path("half.npz"), "A");  // the header inflates fine
  std::vector<double> m(256);
  s->read(0, m.data());
  EXPECT_EQ(m[255], 256);
  try {
    for (int64_t i = 1; i < 4; ++i) s->read(i, m.data());
    ADD_FAILURE() << "no error for a truncated stream";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), tmp.path("half.npz") + ":A");
    EXPECT_EQ(e.reason(), "truncated data: the compressed stream ends early");
  }
  // Garbage instead of deflate data.
  std::string junk = make_zip({{"A.npy", npy}}, true);
  const std::size_t at = junk.find(packed);
  for (std::size_t i = 0; i < 64; ++i) junk[at + i] = static_cast<char>(0xff);
  write_bytes(tmp.path("junk.npz"), junk);
  EXPECT_EQ(member_error(tmp.path("junk.npz"), "A", true).rfind("corrupt deflate data", 0), 0u);
}

}  // namespace
}  // namespace tandem::io
