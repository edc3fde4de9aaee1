// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/npy.h"
#include "io_test_util.h"

namespace tandem::io {
namespace {

using test::npy_bytes;

NpyHeader parse(const std::string& bytes) {
  return parse_npy_header(bytes.data(), bytes.size(), "x.npy");
}

std::string header_error(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "x.npy");
    return e.reason();
  }
  return "no error";
}

TEST(NpyHeaderTest, ParsesVersion1) {
  const std::string b = npy_bytes("{'descr': '>i2', 'fortran_order': True, 'shape': (3, 4), }", "");
  const NpyHeader h = parse(b);
  EXPECT_EQ(h.descr, ">i2");
  EXPECT_TRUE(h.fortran_order);
  EXPECT_EQ(h.shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(h.data_offset, 128u);
  EXPECT_EQ(h.data_offset, b.size());
}

TEST(NpyHeaderTest, ParsesVersions2And3WithFourByteLength) {
  for (int major : {2, 3}) {
    const std::string b =
        npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5, 7), }", "", major);
    const NpyHeader h = parse(b);
    EXPECT_EQ(h.descr, "<f4");
    EXPECT_EQ(h.shape, (std::vector<int64_t>{2, 5, 7}));
    EXPECT_EQ(h.data_offset, b.size()) << "version " << major;
  }
}

TEST(NpyHeaderTest, AcceptsPythonVariants) {
  // Key order, double quotes, no trailing comma, Python 2 longs, 1-D and 0-D shapes.
  NpyHeader h =
      parse(npy_bytes("{\"shape\": (3L, 4L), \"fortran_order\": False, \"descr\": \"<u8\"}", ""));
  EXPECT_EQ(h.descr, "<u8");
  EXPECT_EQ(h.shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(parse(npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }", "")).shape,
            (std::vector<int64_t>{5}));
  EXPECT_TRUE(parse(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", ""))
                  .shape.empty());
}

TEST(NpyHeaderTest, KeepsStructuredDescrVerbatim) {
  const NpyHeader h = parse(npy_bytes(
      "{'descr': [('a', '<i4'), ('b', '<f8', (2,))], 'fortran_order': False, 'shape': (3,), }",
      ""));
  EXPECT_EQ(h.descr, "[('a', '<i4'), ('b', '<f8', (2,))]");
}

TEST(NpyHeaderTest, RejectsBadMagic) {
  EXPECT_EQ(header_error("PK\x03\x04 not numpy at all"), "not a .npy file (bad magic)");
  EXPECT_EQ(header_error(""), "empty file (0 bytes), not a .npy file");
  EXPECT_EQ(header_error(std::string("\x93NUMPX\x01\x00", 8)), "not a .npy file (bad magic)");
}

TEST(NpyHeaderTest, RejectsCorruptHeaders) {
  const std::string ok = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
  const std::vector<std::string> bad = {
      "{'descr': '<f8', 'fortran_order': False, }",                           // no shape
      "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), 'x': 1, }",  // extra key
      "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (3, 4), }",          // not a bool
      "{'descr': '<f8, 'fortran_order': False, 'shape': (3, 4), }",           // quoting
      "{'descr': '<f8', 'fortran_order': False, 'shape': (3, -4), }",         // negative
      "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), } junk",     // trailing text
      "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4)",             // unclosed
      "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999, 4), }",
      "not a dict",
  };
  for (const auto& dict : bad) {
    const std::string reason = header_error(npy_bytes(dict, ""));
    EXPECT_EQ(reason.rfind("corrupt header", 0), 0u) << dict << " -> " << reason;
  }
  EXPECT_EQ(header_error(npy_bytes(ok, "")).substr(0, 8), "no error");
}

TEST(NpyHeaderTest, RejectsBadVersionAndLength) {
  std::string b = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }", "");
  std::string v4 = b;
  v4[6] = 4;
  EXPECT_EQ(header_error(v4), "corrupt header: unsupported .npy format version 4.0");
  // The length field claims more than there is: a header cut short.
  EXPECT_NE(header_error(b.substr(0, 60)).find("runs past the end"), std::string::npos);
  EXPECT_EQ(header_error(b.substr(0, 8)), "corrupt header: file ends inside the header");
}

TEST(NpyHeaderTest, MakesNumpysExactHeader) {
  // Bytes as numpy 1.24's np.save writes them (growth-axis spare room, 64-byte alignment).
  const std::string h = make_npy_header(DType::kFloat64, {3, 4});
  const std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
  ASSERT_EQ(h.size(), 128u);
  EXPECT_EQ(h.substr(0, 10), std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  EXPECT_EQ(h.substr(10, dict.size()), dict);
  EXPECT_EQ(h.substr(10 + dict.size()), std::string(128 - 11 - dict.size(), ' ') + "\n");
  for (auto shape : std::vector<std::vector<int64_t>>{{0, 5}, {7}, {}, {2, 3, 4}, {123456789, 2}}) {
    const std::string s = make_npy_header(DType::kFloat32, shape);
    EXPECT_EQ(s.size() % 64, 0u);
    const NpyHeader back = parse(s);
    EXPECT_EQ(back.shape, shape);
    EXPECT_EQ(back.descr, "<f4");
    EXPECT_FALSE(back.fortran_order);
    EXPECT_EQ(back.data_offset, s.size());
  }
}

TEST(NpyHeaderTest, MakesVersion2WhenTheHeaderOutgrowsVersion1) {
  const std::vector<int64_t> shape(30000, 1);  // "1, " × 30000 > 65535 bytes of header
  const std::string h = make_npy_header(DType::kFloat64, shape);
  EXPECT_EQ(h[6], 2);
  EXPECT_EQ(h.size() % 64, 0u);
  const NpyHeader back = parse(h);
  EXPECT_EQ(back.shape, shape);
  EXPECT_EQ(back.data_offset, h.size());
  EXPECT_EQ(make_npy_header(DType::kFloat64, {3, 4})[6], 1);
}

}  // namespace
}  // namespace tandem::io
