// SPDX-License-Identifier: Apache-2.0
#include "io/npy.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "io_test_util.h"

namespace tandem::io {
namespace {

using test::npy_bytes;
using test::npy_dict;
using test::TempDir;
using test::write_bytes;

// One stored element type of the round-trip matrix.
struct Format {
  char kind;  // f, i, u, b
  int size;
  bool big;
  bool fortran;
  bool stack;
  std::string descr() const {
    return std::string(1, size == 1 ? '|' : big ? '>' : '<') + kind + std::to_string(size);
  }
};

void PrintTo(const Format& f, std::ostream* os) {
  *os << f.descr() << (f.fortran ? " Fortran" : " C") << (f.stack ? " 3-D" : " 2-D");
}

// Exact in every stored type: small integers (halves for floats), 0/1 for bool.
double value(const Format& f, int64_t b, int64_t r, int64_t c) {
  const int v = static_cast<int>((b * 37 + r * 11 + c * 5) % 61);
  if (f.kind == 'b') return v % 2;
  if (f.kind == 'u') return v;
  return f.kind == 'f' ? (v - 30) * 0.5 : v - 30;
}

uint16_t half_bits(double v) {
  if (v == 0) return 0;
  int e = 0;
  const double m = std::frexp(std::fabs(v), &e);  // |v| = m * 2^e, m in [0.5, 1)
  const auto mantissa = static_cast<uint16_t>((m * 2 - 1) * 1024);
  return static_cast<uint16_t>((v < 0 ? 0x8000 : 0) | ((e - 1 + 15) << 10) | mantissa);
}

std::string encode(const Format& f, double v) {
  uint64_t bits = 0;
  if (f.kind == 'f' && f.size == 2) bits = half_bits(v);
  if (f.kind == 'f' && f.size == 4) {
    const float x = static_cast<float>(v);
    uint32_t u;
    std::memcpy(&u, &x, 4);
    bits = u;
  }
  if (f.kind == 'f' && f.size == 8) std::memcpy(&bits, &v, 8);
  if (f.kind != 'f') bits = static_cast<uint64_t>(static_cast<int64_t>(v));
  std::string out;
  for (int i = 0; i < f.size; ++i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
  if (f.big) std::reverse(out.begin(), out.end());
  return out;
}

// The stored bytes of a B×m×n array in the format's order.
std::string encode_array(const Format& f, int64_t B, int64_t m, int64_t n) {
  std::string data(static_cast<std::size_t>(B * m * n * f.size), '\0');
  for (int64_t b = 0; b < B; ++b)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) {
        const int64_t at = f.fortran ? b + B * (r + m * c) : (b * m + r) * n + c;
        data.replace(static_cast<std::size_t>(at * f.size), f.size, encode(f, value(f, b, r, c)));
      }
  return data;
}

std::string reason_of_open(const std::string& path) {
  try {
    open_npy(path);
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), path);
    return e.reason();
  }
  return "no error";
}

class NpyRoundTripTest : public ::testing::TestWithParam<Format> {};

TEST_P(NpyRoundTripTest, DeliversStoredValues) {
  const Format f = GetParam();
  const int64_t B = f.stack ? 3 : 1, m = 4, n = 5;
  std::vector<int64_t> shape = {m, n};
  if (f.stack) shape.insert(shape.begin(), B);
  TempDir tmp;
  const std::string path = tmp.path("a.npy");
  write_bytes(path, npy_bytes(npy_dict(f.descr(), f.fortran, shape), encode_array(f, B, m, n)));
  auto stack = open_npy(path);
  EXPECT_EQ(stack->count(), B);
  EXPECT_EQ(stack->rows(), m);
  EXPECT_EQ(stack->cols(), n);
  EXPECT_EQ(stack->ndim(), f.stack ? 3 : 2);
  EXPECT_EQ(stack->stored_descr(), f.descr());
  EXPECT_EQ(stack->where(), path);
  EXPECT_EQ(stack->dtype(), f.kind == 'f' && f.size == 4 ? DType::kFloat32 : DType::kFloat64);
  const std::vector<double> got = test::read_all(*stack);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(B * m * n));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c)
        ASSERT_EQ(got[(b * m + r) * n + c], value(f, b, r, c))
            << "at " << b << "," << r << "," << c;
}

std::vector<Format> all_formats() {
  std::vector<Format> out;
  const std::vector<std::pair<char, int>> types = {{'f', 2}, {'f', 4}, {'f', 8}, {'i', 1},
                                                   {'i', 2}, {'i', 4}, {'i', 8}, {'u', 1},
                                                   {'u', 2}, {'u', 4}, {'u', 8}, {'b', 1}};
  for (const auto& [kind, size] : types)
    for (bool big : {false, true})
      for (bool fortran : {false, true})
        for (bool stack : {false, true}) {
          if (size == 1 && big) continue;  // one byte has no byte order
          out.push_back({kind, size, big, fortran, stack});
        }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, NpyRoundTripTest, ::testing::ValuesIn(all_formats()),
                         [](const ::testing::TestParamInfo<Format>& param_info) {
                           const Format& f = param_info.param;
                           return std::string(1, f.kind) + std::to_string(f.size) +
                                  (f.big ? "_big" : "_little") + (f.fortran ? "_F" : "_C") +
                                  (f.stack ? "_3d" : "_2d");
                         });

TEST(NpyTest, ConvertsHalfSpecialValues) {
  TempDir tmp;
  const uint16_t bits[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0xfc00, 0x7e00};
  std::string data(reinterpret_cast<const char*>(bits), sizeof bits);
  write_bytes(tmp.path("h.npy"), npy_bytes(npy_dict("<f2", false, {2, 4}), data));
  std::vector<double> v = test::read_all(*open_npy(tmp.path("h.npy")));
  EXPECT_EQ(v[0], 1.0);
  EXPECT_EQ(v[1], -2.0);
  EXPECT_EQ(v[2], 65504.0);
  EXPECT_EQ(v[3], std::ldexp(1.0, -24));
  EXPECT_TRUE(v[4] == 0 && std::signbit(v[4]));
  EXPECT_EQ(v[5], INFINITY);
  EXPECT_EQ(v[6], -INFINITY);
  EXPECT_TRUE(std::isnan(v[7]));
}

TEST(NpyTest, AcceptsNativeByteOrderMarkAndNonzeroBool) {
  TempDir tmp;
  write_bytes(tmp.path("a.npy"), npy_bytes(npy_dict("=i4", false, {1, 2}),
                                           std::string("\x07\0\0\0\xff\xff\xff\xff", 8)));
  EXPECT_EQ(test::read_all(*open_npy(tmp.path("a.npy"))), (std::vector<double>{7, -1}));
  write_bytes(tmp.path("b.npy"),
              npy_bytes(npy_dict("|b1", false, {1, 3}), std::string("\0\x01\x02", 3)));
  EXPECT_EQ(test::read_all(*open_npy(tmp.path("b.npy"))), (std::vector<double>{0, 1, 1}));
}

TEST(NpyTest, ReadsMatricesInAnyOrder) {
  TempDir tmp;
  const std::vector<double> data = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  write_npy(tmp.path("s.npy"), DType::kFloat64, {3, 2, 2}, data.data());
  auto s = open_npy(tmp.path("s.npy"));
  double m[4];
  for (int64_t i : {2, 0, 1, 1}) {
    s->read(i, m);
    EXPECT_EQ(m[0], data[i * 4]);
    EXPECT_EQ(m[3], data[i * 4 + 3]);
  }
  EXPECT_THROW(s->read(3, m), Error);
}

TEST(NpyTest, DeliversEmptyMatricesAsStored) {
  TempDir tmp;
  for (auto shape : std::vector<std::vector<int64_t>>{{0, 5}, {4, 0}, {0, 3, 3}, {2, 0, 3}}) {
    write_npy(tmp.path("e.npy"), DType::kFloat64, shape, nullptr);
    auto s = open_npy(tmp.path("e.npy"));
    EXPECT_EQ(s->count(), shape.size() == 3 ? shape[0] : 1);
    EXPECT_EQ(s->rows(), shape[shape.size() - 2]);
    EXPECT_EQ(s->cols(), shape[shape.size() - 1]);
    if (s->count() > 0) s->read(0, nullptr);  // nothing to copy, and no crash
  }
}

TEST(NpyTest, WriteNpyRoundTripsBothTypes) {
  TempDir tmp;
  const std::vector<float> f = {1.5f, -2.25f, 3, 4, 5, 6};
  write_npy(tmp.path("f.npy"), DType::kFloat32, {2, 3}, f.data());
  auto s = open_npy(tmp.path("f.npy"));
  EXPECT_EQ(s->dtype(), DType::kFloat32);
  EXPECT_EQ(s->stored_descr(), "<f4");
  EXPECT_EQ(test::read_all(*s), (std::vector<double>{1.5, -2.25, 3, 4, 5, 6}));
  const std::string bytes = test::read_bytes(tmp.path("f.npy"));
  EXPECT_EQ(bytes.size(), make_npy_header(DType::kFloat32, {2, 3}).size() + 24);
  const std::vector<double> d = {1, 2, 3, 4, 5, 6, 7, 8};
  write_npy(tmp.path("d.npy"), DType::kFloat64, {2, 2, 2}, d.data());
  EXPECT_EQ(test::read_all(*open_npy(tmp.path("d.npy"))), d);
}

TEST(NpyTest, RejectsMissingFile) {
  TempDir tmp;
  EXPECT_NE(reason_of_open(tmp.path("nope.npy")).find("No such file"), std::string::npos);
}

TEST(NpyTest, RejectsUnreadableFile) {
  TempDir tmp;
  // root reads any file whatever its mode, so there a directory stands in for the unreadable input
  const std::string path = tmp.path("locked.npy");
  write_bytes(path, npy_bytes(npy_dict("<f8", false, {1, 1}), std::string(8, '\0')));
  ::chmod(path.c_str(), 0);
  if (::geteuid() == 0) {
    EXPECT_EQ(reason_of_open(tmp.dir()).find("is a directory"), 0u);
  } else {
    EXPECT_NE(reason_of_open(path).find("Permission denied"), std::string::npos);
  }
}

TEST(NpyTest, RejectsBadMagicAndEmptyFile) {
  TempDir tmp;
  write_bytes(tmp.path("a.npy"), "hello, this is text");
  EXPECT_EQ(reason_of_open(tmp.path("a.npy")), "not a .npy file (bad magic)");
  write_bytes(tmp.path("b.npy"), "");
  EXPECT_EQ(reason_of_open(tmp.path("b.npy")), "empty file (0 bytes), not a .npy file");
}

TEST(NpyTest, RejectsTruncatedData) {
  TempDir tmp;
  write_bytes(tmp.path("t.npy"), npy_bytes(npy_dict("<f8", false, {3, 4}), std::string(95, '\0')));
  EXPECT_EQ(reason_of_open(tmp.path("t.npy")),
            "truncated data: the header says 96 bytes of data, there are 95");
  write_bytes(tmp.path("u.npy"), npy_bytes(npy_dict("<f8", false, {3, 4}), "").substr(0, 50));
  EXPECT_EQ(reason_of_open(tmp.path("u.npy")).rfind("corrupt header", 0), 0u);
}

TEST(NpyTest, RejectsCorruptHeader) {
  TempDir tmp;
  write_bytes(
      tmp.path("c.npy"),
      npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4}", std::string(96, '\0')));
  EXPECT_EQ(reason_of_open(tmp.path("c.npy")).rfind("corrupt header", 0), 0u);
}

TEST(NpyTest, RejectsWrongDimensionality) {
  TempDir tmp;
  const std::string need = "need a matrix (2-D) or a stack of matrices (3-D)";
  write_bytes(tmp.path("1.npy"), npy_bytes(npy_dict("<f8", false, {4}), std::string(32, '\0')));
  EXPECT_EQ(reason_of_open(tmp.path("1.npy")), "1-D array: " + need);
  write_bytes(tmp.path("4.npy"),
              npy_bytes(npy_dict("<f8", false, {1, 2, 2, 2}), std::string(64, '\0')));
  EXPECT_EQ(reason_of_open(tmp.path("4.npy")), "4-D array: " + need);
  write_bytes(tmp.path("0.npy"), npy_bytes(npy_dict("<f8", false, {}), std::string(8, '\0')));
  EXPECT_EQ(reason_of_open(tmp.path("0.npy")), "0-D array (a scalar): " + need);
}

TEST(NpyTest, RejectsUnsupportedDtypes) {
  TempDir tmp;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"<c16", "unsupported dtype '<c16' (complex)"},
      {"|O", "unsupported dtype '|O' (object)"},
      {"<U5", "unsupported dtype '<U5' (string)"},
      {"|S3", "unsupported dtype '|S3' (string)"},
      {"<M8[ns]", "unsupported dtype '<M8[ns]' (datetime)"},
      {"<f16", "unsupported dtype '<f16' (long double; convert with .astype(np.float64))"},
      {"|V8", "unsupported dtype '|V8' (void/structured)"}};
  for (const auto& [descr, reason] : cases) {
    write_bytes(tmp.path("d.npy"),
                npy_bytes(npy_dict(descr, false, {2, 2}), std::string(64, '\0')));
    EXPECT_EQ(reason_of_open(tmp.path("d.npy")), reason);
  }
  write_bytes(
      tmp.path("s.npy"),
      npy_bytes(
          "{'descr': [('a', '<f8'), ('b', '<i4')], 'fortran_order': False, 'shape': (2, 2), }",
          std::string(48, '\0')));
  EXPECT_EQ(reason_of_open(tmp.path("s.npy")),
            "unsupported dtype '[('a', '<f8'), ('b', '<i4')]' (structured)");
}

}  // namespace
}  // namespace tandem::io
