// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <string>

namespace tandem {

/// The two element types tandem computes in. Every other numeric input type is converted to
/// kFloat64, as numpy's linalg does.
enum class DType { kFloat32, kFloat64 };

/// Bytes per element.
inline std::size_t dtype_size(DType t) { return t == DType::kFloat32 ? 4 : 8; }

/// numpy's name for the type ("float32" / "float64").
inline std::string dtype_name(DType t) { return t == DType::kFloat32 ? "float32" : "float64"; }

/// numpy's little-endian descr ("<f4" / "<f8").
inline std::string dtype_descr(DType t) { return t == DType::kFloat32 ? "<f4" : "<f8"; }

}  // namespace tandem
