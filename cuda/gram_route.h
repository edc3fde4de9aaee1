// SPDX-License-Identifier: Apache-2.0
#pragma once
// The Gram route, computed in float64 for float32 and float64 input alike:
//   G = WᵀW → XsyevBatched (V, ascending eigenvalues) → B = W·V (columns by descending σ) →
//   U = B with normalised columns, or Q of B = Q·R (Householder) where B may be rank-deficient
//   → T = UᵀWV, with U's column signs making T's diagonal non-negative.
// That first answer is accurate to about ε₆₄·κ²: enough for float32 output up to κ ≈ 1e4, not
// for float64. Matrices whose measured R = I − UᵀU, S = I − VᵀV and off-diagonal T are not yet
// at working accuracy (svd/gram_refine.h) take refinement steps of matrix products only, at most
// gram::kMaxRefineSteps; one that still has not converged (κ beyond about 1e6) gets info
// kGramCheckFailed and is redone on an exact route. No answer leaves unchecked.

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

/// True when the route can take the shape: economy/values-only output or square,
/// q = min(m, n) ≤ kGramMaxCols.
bool gram_fits(const SvdShape& shape, DType dtype, const SvdOptions& opt);

/// Device scratch bytes one p×q matrix needs beyond the worker's own buffers.
std::size_t gram_scratch_bytes(int64_t p, int64_t q);

/// Runs the route on a.count matrices on `stream`: S, Uw (p×q, ld p), V (q×q) and a.info
/// (0, kGramCheckFailed or kGramEigenFailed). Creates ws.blas on first use. Waits for the
/// stream once per refinement step (to learn whether another is needed).
template <typename T>
void gram_solve(const SolverHandle& h, Workspace& ws, cudaStream_t stream, const SolveArgs<T>& a);

namespace detail {

/// Most matrices one XsyevBatched call is given: batches past the grid's 65535 have been
/// refused with CUSOLVER_STATUS_INVALID_VALUE (reported against CUDA 12.x).
constexpr int64_t kEigenMaxBatch = 65535;

/// Matrices of q×q per XsyevBatched call: at most kEigenMaxBatch, and n·lda·batchSize ≤
/// INT32_MAX, which cuSOLVER (12.6–13.0) documents as a limit of its implementation. At least 1.
int64_t eigen_batch_limit(int64_t q);

/// dst[i] = double(src[i]) for i < n.
void widen(const float* src, double* dst, int64_t n, cudaStream_t stream);

/// flags[i] = gram::needs_qr_start(λ_min, λ_max) of matrix i (eigenvalues ascending, q each),
/// 0 where the eigensolver failed.
void gram_qr_start_flags(const double* lambda, const int* eigen_info, int64_t q, int count,
                         int* flags, cudaStream_t stream);

/// Normalises the q columns (p each) of every matrix i with flags[i] == 0.
void gram_normalize_columns(double* u, const int* flags, int64_t p, int64_t q, int count,
                            cudaStream_t stream);

/// Per matrix: U's column j and T's row j times gram::column_sign(t_jj). `signs` is q doubles
/// of scratch per matrix.
void gram_sign_fix(double* u, double* t, double* signs, int64_t p, int64_t q, int count,
                   cudaStream_t stream);

/// c = I (q×q) for each of `count` matrices.
void set_identity(double* c, int64_t q, int count, cudaStream_t stream);

/// y[i] += x[i] for i < n.
void add_in_place(double* y, const double* x, int64_t n, cudaStream_t stream);

/// One block per matrix: σ̃ (into sigma), gram::Measures of R, S and T, then converged[i]
/// (1 or 0), the cluster gap, and *unconverged += 1 for each matrix not yet converged.
void gram_assess(const double* r, const double* s, const double* t, int64_t q, int count,
                 double tol, double* sigma, double* gap, int* converged, int* unconverged,
                 cudaStream_t stream);

/// F into r and G into s, in place (zero for converged matrices).
void gram_corrections(double* r, double* s, const double* t, const double* sigma, const double* gap,
                      const int* converged, int64_t q, int count, cudaStream_t stream);

/// Per matrix: info = eigen_info ≠ 0 ? kGramEigenFailed : converged and σ̃ non-negative and
/// non-increasing to within tol·σ_max ? 0 : kGramCheckFailed; S = σ̃ made non-increasing.
template <typename T>
void gram_finish(const double* sigma, const int* converged, const int* eigen_info, int64_t q,
                 int count, double tol, T* s, int* info, cudaStream_t stream);

/// U (p×q) and V (q×q) narrowed (or copied) to T.
template <typename T>
void gram_outputs(const double* u, const double* v, int64_t p, int64_t q, int count, T* u_out,
                  T* v_out, cudaStream_t stream);

}  // namespace detail

}  // namespace tandem::cuda
