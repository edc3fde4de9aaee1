// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Gram route for float32 input, computed in float64: G = WᵀW → XsyevBatched (V, ascending
// eigenvalues) → B = W·V (columns by descending σ) → B = Q·R (Householder) → U = Q·sign(diag R),
// σ = |diag R|. Since A·V = Q·R exactly up to rounding, ‖A − U·Σ·Vᵀ‖_F = ‖R − diag R‖_F: the
// strictly upper part of R is the residual, checked per matrix against float32's ε. A matrix
// that fails (ill-conditioned beyond about 1e4) gets info 3 and is redone on an exact route.

#include <cstddef>
#include <cstdint>

#include "solvers.h"
#include "svd/backend.h"

namespace tandem::cuda {

/// Largest W column count the route takes (G is q×q per matrix).
constexpr int64_t kGramMaxCols = 2048;

/// info values of the Gram route besides 0.
constexpr int kGramCheckFailed = 3;
constexpr int kGramEigenFailed = 4;

/// True when the route can take the shape: float32, economy/values-only output or square,
/// q = min(m, n) ≤ kGramMaxCols.
bool gram_fits(const SvdShape& shape, DType dtype, const SvdOptions& opt);

/// Device scratch bytes one p×q matrix needs beyond the worker's own buffers.
std::size_t gram_scratch_bytes(int64_t p, int64_t q);

/// Runs the route on a.count float32 matrices on `stream`: S, Uw (p×q, ld p), V (q×q) and
/// a.info (0, kGramCheckFailed or kGramEigenFailed). Creates ws.blas on first use.
void gram_solve(const SolverHandle& h, Workspace& ws, cudaStream_t stream,
                const SolveArgs<float>& a);

namespace detail {

/// dst[i] = double(src[i]) for i < n.
void widen(const float* src, double* dst, int64_t n, cudaStream_t stream);

/// Per matrix (R: q×q, stride q²): info = eigen_info ≠ 0 ? kGramEigenFailed :
/// ‖strict upper R‖_F ≤ tol·‖upper R‖_F ? 0 : kGramCheckFailed; s = |diag R|, made
/// non-increasing.
void gram_check(const double* r, int64_t q, int count, const int* eigen_info, double tol, float* s,
                int* info, cudaStream_t stream);

/// U = Q·sign(diag R) (p×q) and V = Vd (q×q), narrowed to float32.
void gram_outputs(const double* qm, const double* r, const double* vd, int64_t p, int64_t q,
                  int count, float* u, float* v, cudaStream_t stream);

}  // namespace detail

}  // namespace tandem::cuda
