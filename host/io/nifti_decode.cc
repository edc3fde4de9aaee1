// SPDX-License-Identifier: Apache-2.0
#include "io/nifti_decode.h"

#include <nifti2_io.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "smooth/simd_clones.h"

namespace tandem {

namespace {

template <typename T>
T load(const std::uint8_t* p, bool swap) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  if (swap) {
    std::uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    std::reverse(tmp, tmp + sizeof(T));
    std::memcpy(&v, tmp, sizeof(T));
  }
  return v;
}

// The common case (native float32, no scaling): a copy, then non-finite values to 0, branch-free
// so that it vectorises.
TANDEM_SIMD_CLONES std::size_t copy_float32_finite(const std::uint8_t* src, std::size_t n,
                                                   float* out) {
  std::memcpy(out, src, n * sizeof(float));
  std::uint32_t* bits = reinterpret_cast<std::uint32_t*>(out);
  std::size_t nonfinite = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const bool bad = (bits[i] & 0x7f800000u) == 0x7f800000u;
    nonfinite += bad;
    bits[i] = bad ? 0u : bits[i];
  }
  return nonfinite;
}

template <typename T>
std::size_t decode(const std::uint8_t* src, std::size_t n, bool swap, NiftiScaling scaling,
                   double slope, double inter, float* out) {
  std::size_t nonfinite = 0;
  for (std::size_t i = 0; i < n; ++i) {
    T raw = load<T>(src + i * sizeof(T), swap);
    float v;
    if (scaling == NiftiScaling::kNone) {
      v = static_cast<float>(raw);
    } else {
      double d = static_cast<double>(raw);
      if (slope != 1.0) d = d * slope;
      if (inter != 0.0) d = d + inter;
      v = static_cast<float>(d);
    }
    if (!std::isfinite(v)) {
      v = 0.0f;
      ++nonfinite;
    }
    out[i] = v;
  }
  return nonfinite;
}

}  // namespace

std::size_t decode_volume(int datatype, const std::uint8_t* src, std::size_t n, bool swap,
                          NiftiScaling scaling, double slope, double inter, float* out,
                          const std::string& path) {
  switch (datatype) {
    case NIFTI_TYPE_UINT8:
      return decode<std::uint8_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_INT8:
      return decode<std::int8_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_INT16:
      return decode<std::int16_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_UINT16:
      return decode<std::uint16_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_INT32:
      return decode<std::int32_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_UINT32:
      return decode<std::uint32_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_INT64:
      return decode<std::int64_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_UINT64:
      return decode<std::uint64_t>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_FLOAT32:
      if (!swap && scaling == NiftiScaling::kNone) return copy_float32_finite(src, n, out);
      return decode<float>(src, n, swap, scaling, slope, inter, out);
    case NIFTI_TYPE_FLOAT64:
      return decode<double>(src, n, swap, scaling, slope, inter, out);
    default:
      throw InputError(path, "", "unsupported datatype");
  }
}

}  // namespace tandem
