// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace tandem::io {

/// The element kinds tandem reads; everything else is an unsupported dtype.
enum class ElemKind { kFloat, kSigned, kUnsigned, kBool };

/// A stored numpy element type and the compute type it is delivered as.
struct ElemType {
  ElemKind kind = ElemKind::kFloat;
  int size = 8;                 ///< bytes per stored element
  bool swap = false;            ///< stored big-endian (the host is little-endian)
  DType out = DType::kFloat64;  ///< float32 stays float32, everything else becomes float64
};

/// Parses a numpy descr ("<f8", ">i2", "|b1", "=u4"). Throws InputError naming `where`:
/// "unsupported dtype '<c16' (complex)" and the like.
ElemType parse_elem_type(const std::string& descr, const std::string& where);

/// Bytes per element of a simple descr ("<c16" → 16), or 0 when it is not one (structured).
/// Used to check sizes of members tandem does not read as matrices.
std::size_t descr_itemsize(const std::string& descr);

/// Converts `n` stored elements, `stride` elements apart starting at `src`, into `n` contiguous
/// elements of `type.out` at `dst` (native byte order).
void convert_elements(const uint8_t* src, int64_t stride, int64_t n, const ElemType& type,
                      void* dst);

/// IEEE half-precision bits to double (exact, subnormals, inf and NaN included).
double half_to_double(uint16_t bits);

}  // namespace tandem::io
