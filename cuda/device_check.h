// SPDX-License-Identifier: Apache-2.0
#pragma once
// `--check` on the device: the residual and orthogonality metrics of tandem::compute_check
// (host/svd/check.h), same definitions, in float64 with cuBLAS, for a whole chunk on the worker's
// stream, so that checking a large batch does not cost the host one triple product per matrix.

#include <cstdint>

#include "handles.h"
#include "svd/backend.h"

namespace tandem::cuda {

/// Doubles per item in check_chunk's output: residual, u_orthogonality, v_orthogonality,
/// residual_ratio, orthogonality_ratio (CheckMetrics' order).
constexpr int kCheckValues = 5;

/// Device scratch bytes check_chunk needs for `count` items of `shape` and `dtype` under `opt`.
std::size_t check_scratch_bytes(const SvdShape& shape, const SvdOptions& opt, DType dtype,
                                int count);

/// Metrics of `count` items (row-major, back to back, numpy's layout): A (m×n), U (m×uc),
/// S (k), Vh (vr×n), of element type T. Writes kCheckValues doubles per item to `out`.
/// `scratch` holds check_scratch_bytes(). All on `stream`; `blas` is bound to it.
template <typename T>
void check_chunk(const BlasHandle& blas, const SvdShape& shape, const SvdOptions& opt, int count,
                 const T* a, const T* u, const T* s, const T* vh, double* scratch, double* out,
                 cudaStream_t stream);

/// CheckMetrics from check_chunk's kCheckValues doubles of one item.
CheckMetrics check_metrics(const double* values);

}  // namespace tandem::cuda
