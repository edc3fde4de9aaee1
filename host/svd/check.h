// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "svd/backend.h"

namespace tandem {

/// Residual and orthogonality of a finished task, computed in float64 on the host whatever the
/// task's dtype (LAPACK's test ratios use the task's own ε). Requires U and Vh
/// (not values_only). Single-threaded BLAS; allocates O(m·n + m² + n²) scratch.
CheckMetrics compute_check(const SvdTask& task, const SvdOptions& opt);

/// Machine epsilon of a dtype (2^-23 or 2^-52), as LAPACK's dlamch('P').
double dtype_epsilon(DType t);

/// sklearn's svd_flip on row-major outputs: column j < k of U and row j of Vh are flipped
/// together so U's largest-magnitude entry in that column is positive; extra columns of a full
/// U and extra rows of a full Vh (the null spaces) are each made positive by their own largest
/// entry. Templated on the element type.
template <typename T>
void canonicalize_signs(const SvdShape& shape, const SvdOptions& opt, T* u, T* vh);

/// True when canonicalize_signs would leave `u` and `vh` as they are (--resume with
/// --canonical-signs keeps only outputs written that way).
template <typename T>
bool signs_are_canonical(const SvdShape& shape, const SvdOptions& opt, const T* u, const T* vh);

}  // namespace tandem
