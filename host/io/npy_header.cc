// SPDX-License-Identifier: Apache-2.0
// The .npy header: magic, version, length, then a Python dict literal that numpy writes with
// repr() and reads with ast.literal_eval. Only the subset numpy produces is accepted.
#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "io/npy.h"
#include "io/npy_layout.h"

namespace tandem::io {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;
constexpr std::size_t kAlign = 64;
// numpy ≥ 1.23 leaves room for the growth axis to reach this many digits (in-place appends).
constexpr std::size_t kGrowthAxisMaxDigits = 21;

// A cursor over the dict literal; every failure is a "corrupt header" InputError.
class Literal {
 public:
  Literal(const char* p, const char* end, const std::string& where)
      : p_(p), end_(end), where_(where) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(where_, "", "corrupt header: " + what);
  }
  void skip_space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool peek(char c) {
    skip_space();
    return p_ < end_ && *p_ == c;
  }
  void expect(char c) {
    if (!peek(c)) fail(std::string("expected '") + c + "'");
    ++p_;
  }
  bool at_end() {
    skip_space();
    return p_ == end_;
  }
  std::string string() {
    skip_space();
    if (p_ == end_ || (*p_ != '\'' && *p_ != '"')) fail("expected a quoted string");
    const char quote = *p_++;
    const char* start = p_;
    while (p_ < end_ && *p_ != quote) ++p_;
    if (p_ == end_) fail("unterminated string");
    return std::string(start, p_++);
  }
  bool boolean() {
    skip_space();
    for (const char* word : {"True", "False"}) {
      const std::size_t n = std::strlen(word);
      if (static_cast<std::size_t>(end_ - p_) >= n && std::memcmp(p_, word, n) == 0) {
        p_ += n;
        return word[0] == 'T';
      }
    }
    fail("fortran_order is not True or False");
  }
  int64_t integer() {
    skip_space();
    int64_t v = 0;
    const char* start = p_;
    for (; p_ < end_ && *p_ >= '0' && *p_ <= '9'; ++p_) {
      if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("shape entry too large");
      v = v * 10 + (*p_ - '0');
    }
    if (p_ == start) fail("shape entry is not a non-negative integer");
    if (p_ < end_ && *p_ == 'L') ++p_;  // Python 2 era files wrote longs as 3L
    return v;
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> out;
    expect('(');
    while (!peek(')')) {
      out.push_back(integer());
      if (!peek(',')) break;
      ++p_;
    }
    expect(')');
    return out;
  }
  // A structured descr (a list of tuples) is kept verbatim for the "unsupported dtype" message.
  std::string balanced() {
    skip_space();
    const char* start = p_;
    int depth = 0;
    do {
      if (p_ == end_) fail("unbalanced brackets in descr");
      if (*p_ == '[' || *p_ == '(') ++depth;
      if (*p_ == ']' || *p_ == ')') --depth;
      ++p_;
    } while (depth > 0);
    return std::string(start, p_);
  }

 private:
  const char* p_;
  const char* end_;
  const std::string& where_;
};

NpyHeader parse_dict(Literal& lit) {
  NpyHeader h;
  bool have_descr = false, have_order = false, have_shape = false;
  lit.expect('{');
  while (!lit.peek('}')) {
    const std::string key = lit.string();
    lit.expect(':');
    if (key == "descr") {
      h.descr = lit.peek('[') ? lit.balanced() : lit.string();
      have_descr = true;
    } else if (key == "fortran_order") {
      h.fortran_order = lit.boolean();
      have_order = true;
    } else if (key == "shape") {
      h.shape = lit.tuple();
      have_shape = true;
    } else {
      lit.fail("unexpected key '" + key + "'");
    }
    if (!lit.peek(',')) break;
    lit.expect(',');
  }
  lit.expect('}');
  if (!lit.at_end()) lit.fail("text after the dictionary");
  if (!have_descr || !have_order || !have_shape)
    lit.fail("missing key (need 'descr', 'fortran_order' and 'shape')");
  return h;
}

std::string shape_repr(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

uint64_t npy_header_size(const void* bytes, std::size_t size, const std::string& where) {
  const auto* b = static_cast<const uint8_t*>(bytes);
  const std::size_t n = std::min(size, kMagicLen);
  if (size == 0) throw InputError(where, "", "empty file (0 bytes), not a .npy file");
  if (std::memcmp(b, kMagic, n) != 0) throw InputError(where, "", "not a .npy file (bad magic)");
  if (size < kMagicLen + 4)
    throw InputError(where, "", "corrupt header: file ends inside the header");
  const int major = b[6], minor = b[7];
  if (major < 1 || major > 3 || minor != 0)
    throw InputError(where, "",
                     "corrupt header: unsupported .npy format version " + std::to_string(major) +
                         "." + std::to_string(minor));
  if (major == 1) return kMagicLen + 4 + (b[8] | (uint64_t{b[9]} << 8));
  if (size < kMagicLen + 6)
    throw InputError(where, "", "corrupt header: file ends inside the header");
  uint32_t len = 0;
  std::memcpy(&len, b + 8, 4);  // little-endian on disk and on the host
  return kMagicLen + 6 + uint64_t{len};
}

NpyHeader parse_npy_header(const void* bytes, std::size_t size, const std::string& where) {
  const uint64_t total = npy_header_size(bytes, size, where);
  if (total > size)
    throw InputError(where, "",
                     "corrupt header: header length " + std::to_string(total) +
                         " runs past the end of the data (" + std::to_string(size) + " bytes)");
  const auto* b = static_cast<const char*>(bytes);
  const std::size_t start = b[6] == 1 ? kMagicLen + 4 : kMagicLen + 6;
  Literal lit(b + start, b + total, where);
  NpyHeader h = parse_dict(lit);
  h.data_offset = total;
  return h;
}

std::string make_npy_header(DType dtype, const std::vector<int64_t>& shape) {
  std::string dict = "{'descr': '" + dtype_descr(dtype) +
                     "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  if (!shape.empty()) dict.append(kGrowthAxisMaxDigits - std::to_string(shape[0]).size(), ' ');
  for (int major : {1, 2}) {
    const std::size_t prefix = kMagicLen + (major == 1 ? 4 : 6);
    const std::size_t hlen = dict.size() + 1;  // + the final newline
    const std::size_t pad =
        kAlign - (prefix + hlen) % kAlign;  // 64, not 0, when aligned: numpy's rule
    const std::size_t len = hlen + pad;
    if (major == 1 && len > 0xffff) continue;
    std::string out(kMagic, kMagicLen);
    out += static_cast<char>(major);
    out += '\0';
    for (std::size_t i = 0; i < prefix - kMagicLen - 2; ++i)
      out += static_cast<char>((len >> (8 * i)) & 0xff);
    return out + dict + std::string(pad, ' ') + "\n";
  }
  return {};  // unreachable: version 2.0 holds any header below 4 GiB
}

}  // namespace tandem::io
