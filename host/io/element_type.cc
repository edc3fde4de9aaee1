// SPDX-License-Identifier: Apache-2.0
#include "io/element_type.h"

#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/error.h"

namespace tandem::io {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tandem assumes a little-endian host");

namespace {

template <int N>
struct RawOf;
template <>
struct RawOf<1> {
  using type = uint8_t;
};
template <>
struct RawOf<2> {
  using type = uint16_t;
};
template <>
struct RawOf<4> {
  using type = uint32_t;
};
template <>
struct RawOf<8> {
  using type = uint64_t;
};

inline uint8_t bswap(uint8_t v) { return v; }
inline uint16_t bswap(uint16_t v) { return __builtin_bswap16(v); }
inline uint32_t bswap(uint32_t v) { return __builtin_bswap32(v); }
inline uint64_t bswap(uint64_t v) { return __builtin_bswap64(v); }

// A codec turns the raw bits of one stored element into its value.
template <typename T>
struct Plain {
  using Raw = typename RawOf<sizeof(T)>::type;
  static T decode(Raw r) {
    T v;
    std::memcpy(&v, &r, sizeof v);
    return v;
  }
};
struct Half {
  using Raw = uint16_t;
  static double decode(Raw r) { return half_to_double(r); }
};
struct Bool {
  using Raw = uint8_t;
  static double decode(Raw r) { return r != 0 ? 1.0 : 0.0; }
};

template <typename Codec, typename Out>
void convert_as(const uint8_t* src, int64_t stride, int64_t n, bool swap, Out* dst) {
  using Raw = typename Codec::Raw;
  const int64_t step = stride * static_cast<int64_t>(sizeof(Raw));
  for (int64_t i = 0; i < n; ++i) {
    Raw r;
    std::memcpy(&r, src + i * step, sizeof r);
    if (swap) r = bswap(r);
    dst[i] = static_cast<Out>(Codec::decode(r));
  }
}

template <typename Codec>
void to_double(const uint8_t* src, int64_t stride, int64_t n, bool swap, void* dst) {
  convert_as<Codec, double>(src, stride, n, swap, static_cast<double*>(dst));
}

std::string unsupported_kind(char kind) {
  switch (kind) {
    case 'c':
      return " (complex)";
    case 'O':
      return " (object)";
    case 'S':
    case 'a':
    case 'U':
      return " (string)";
    case 'V':
      return " (void/structured)";
    case 'M':
    case 'm':
      return " (datetime)";
    default:
      return "";
  }
}

}  // namespace

double half_to_double(uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  const double sign = (bits & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0x1f) return mantissa ? std::nan("") : sign * INFINITY;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

ElemType parse_elem_type(const std::string& descr, const std::string& where) {
  const std::string bad = "unsupported dtype '" + descr + "'";
  if (descr.size() < 2 || descr.find_first_of("<>|=") != 0) {
    const bool structured = !descr.empty() && descr[0] == '[';
    throw InputError(where, "", bad + (structured ? " (structured)" : ""));
  }
  const char kind = descr[1];
  const std::string digits = descr.substr(2);
  if (digits.empty() || digits.size() > 6 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    throw InputError(where, "", bad + unsupported_kind(kind));
  ElemType t;
  t.size = std::stoi(digits);
  t.swap = descr[0] == '>' && t.size > 1;
  const bool sized = t.size == 1 || t.size == 2 || t.size == 4 || t.size == 8;
  if (kind == 'f' && t.size >= 2 && sized) {
    t.kind = ElemKind::kFloat;
  } else if ((kind == 'i' || kind == 'u') && sized) {
    t.kind = kind == 'i' ? ElemKind::kSigned : ElemKind::kUnsigned;
  } else if (kind == 'b' && t.size == 1) {
    t.kind = ElemKind::kBool;
  } else if (kind == 'f' && (t.size == 12 || t.size == 16)) {
    // '<f16' reads as float16 to most users; it is numpy's np.longdouble.
    throw InputError(where, "", bad + " (long double; convert with .astype(np.float64))");
  } else {
    throw InputError(where, "", bad + unsupported_kind(kind));
  }
  t.out = (t.kind == ElemKind::kFloat && t.size == 4) ? DType::kFloat32 : DType::kFloat64;
  return t;
}

std::size_t descr_itemsize(const std::string& descr) {
  if (descr.size() < 3 || descr.find_first_of("<>|=") != 0) return 0;
  const std::string digits = descr.substr(2);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 6) return 0;
  return static_cast<std::size_t>(std::stoul(digits));
}

void convert_elements(const uint8_t* src, int64_t stride, int64_t n, const ElemType& t, void* dst) {
  // Already the compute type and contiguous: one copy (the common float32/float64 case).
  if (t.kind == ElemKind::kFloat && !t.swap && stride == 1 &&
      static_cast<std::size_t>(t.size) == dtype_size(t.out)) {
    std::memcpy(dst, src, static_cast<std::size_t>(n) * t.size);
    return;
  }
  switch (t.kind) {
    case ElemKind::kBool:
      return to_double<Bool>(src, stride, n, t.swap, dst);
    case ElemKind::kFloat:
      if (t.size == 2) return to_double<Half>(src, stride, n, t.swap, dst);
      if (t.size == 4)
        return convert_as<Plain<float>, float>(src, stride, n, t.swap, static_cast<float*>(dst));
      return to_double<Plain<double>>(src, stride, n, t.swap, dst);
    case ElemKind::kSigned:
      if (t.size == 1) return to_double<Plain<int8_t>>(src, stride, n, t.swap, dst);
      if (t.size == 2) return to_double<Plain<int16_t>>(src, stride, n, t.swap, dst);
      if (t.size == 4) return to_double<Plain<int32_t>>(src, stride, n, t.swap, dst);
      return to_double<Plain<int64_t>>(src, stride, n, t.swap, dst);
    case ElemKind::kUnsigned:
      if (t.size == 1) return to_double<Plain<uint8_t>>(src, stride, n, t.swap, dst);
      if (t.size == 2) return to_double<Plain<uint16_t>>(src, stride, n, t.swap, dst);
      if (t.size == 4) return to_double<Plain<uint32_t>>(src, stride, n, t.swap, dst);
      return to_double<Plain<uint64_t>>(src, stride, n, t.swap, dst);
  }
}

}  // namespace tandem::io
