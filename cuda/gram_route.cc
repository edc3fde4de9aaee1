// SPDX-License-Identifier: Apache-2.0
#include "gram_route.h"

#include <algorithm>
#include <cfloat>
#include <climits>
#include <type_traits>
#include <vector>

#include "kernels.h"
#include "svd/gram_refine.h"

namespace tandem::cuda {

namespace {

// Scratch of a chunk, carved out of Workspace::scratch. Per matrix: W widened (float32 input
// only), U, X (W·V, or U·F during a step), the q×q matrices G/R/F, V, T and S/G, then the
// eigenvalues/signs/σ̃, the Householder scalars and the cluster gap.
struct GramScratch {
  double *wd, *u, *x, *g, *v, *t, *s, *sigma, *tau, *gap;
  int *eigen_info, *converged, *qr_info, *unconverged;
};

std::size_t scratch_doubles(int64_t p, int64_t q, bool widen) {
  const std::size_t pq = std::size_t(p * q), qq = std::size_t(q * q);
  return (widen ? 3 : 2) * pq + 4 * qq + 2 * std::size_t(q) + 1;
}

GramScratch carve(Workspace& ws, int64_t p, int64_t q, int count, bool widen, cudaStream_t stream) {
  const std::size_t pq = std::size_t(p * q), qq = std::size_t(q * q), c = std::size_t(count);
  const std::size_t doubles = c * scratch_doubles(p, q, widen);
  ws.scratch.reserve(doubles * sizeof(double) + (2 * c + 2) * sizeof(int), stream);
  GramScratch s;
  double* next = reinterpret_cast<double*>(ws.scratch.data());
  auto take = [&](std::size_t per) {
    double* at = next;
    next += c * per;
    return at;
  };
  s.wd = widen ? take(pq) : nullptr;
  s.u = take(pq);
  s.x = take(pq);
  s.g = take(qq);
  s.v = take(qq);
  s.t = take(qq);
  s.s = take(qq);
  s.sigma = take(std::size_t(q));
  s.tau = take(std::size_t(q));
  s.gap = take(1);
  s.eigen_info = reinterpret_cast<int*>(next);
  s.converged = s.eigen_info + c;
  s.qr_info = s.converged + c;
  s.unconverged = s.qr_info + 1;
  return s;
}

// C = alpha·op(A)·B + beta·C for `count` matrices, float64, on the handle's stream.
void gemm(const BlasHandle& blas, cublasOperation_t ta, int64_t m, int64_t n, int64_t k,
          double alpha, const double* a, int64_t lda, int64_t stride_a, const double* b,
          int64_t ldb, int64_t stride_b, double beta, double* c, int64_t ldc, int64_t stride_c,
          int count) {
  TANDEM_CUBLAS_TRY(cublasDgemmStridedBatched(blas.get(), ta, CUBLAS_OP_N, int(m), int(n), int(k),
                                              &alpha, a, int(lda), stride_a, b, int(ldb), stride_b,
                                              &beta, c, int(ldc), stride_c, count));
}

// Eigenvectors of every G (ascending eigenvalues, into s.sigma), in place, in slices that
// XsyevBatched takes (detail::eigen_batch_limit).
void eigen(const SolverHandle& h, Workspace& ws, cudaStream_t stream, const GramScratch& s,
           int64_t q, int count) {
  // XsyevBatched's workspace is not counted when chunks are planned (it is only known to a
  // handle) and can be far larger than the matrices: slices shrink until it fits in half of
  // what is free, rather than fail the whole chunk for lack of memory.
  std::size_t free_b = 0, total_b = 0;
  TANDEM_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
  const std::size_t room = free_b / 2 + ws.device.size();
  int64_t per_call = detail::eigen_batch_limit(q);
  for (int64_t first = 0; first < count; first += per_call) {
    double* g = s.g + first * q * q;
    double* lambda = s.sigma + first * q;
    int64_t n = std::min<int64_t>(per_call, count - first);
    std::size_t dev = 0, host = 0;
    for (;;) {
      TANDEM_CUSOLVER_TRY(cusolverDnXsyevBatched_bufferSize(
          h.get(), h.params(), CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, q, CUDA_R_64F, g,
          q, CUDA_R_64F, lambda, CUDA_R_64F, &dev, &host, n));
      if (dev <= room || n == 1) break;
      n = (n + 1) / 2;
    }
    per_call = n;  // the later slices are no larger
    // Growing the buffer frees the old one in stream order, after the previous slice.
    ws.device.reserve(dev, stream);
    ws.host.resize(std::max<std::size_t>(host, 1));
    TANDEM_CUSOLVER_TRY(cusolverDnXsyevBatched(h.get(), h.params(), CUSOLVER_EIG_MODE_VECTOR,
                                               CUBLAS_FILL_MODE_LOWER, q, CUDA_R_64F, g, q,
                                               CUDA_R_64F, lambda, CUDA_R_64F, ws.device.data(),
                                               dev, ws.host.data(), host, s.eigen_info + first, n));
  }
}

// U = Q of B = Q·R in place, for the matrices flagged in `qr_start` (host memory).
void qr(const SolverHandle& h, Workspace& ws, cudaStream_t stream, const GramScratch& s, int64_t p,
        int64_t q, const std::vector<int>& qr_start) {
  const int pp = int(p), qq = int(q);
  int lw_qr = 0, lw_org = 0;
  TANDEM_CUSOLVER_TRY(cusolverDnDgeqrf_bufferSize(h.get(), pp, qq, s.u, pp, &lw_qr));
  TANDEM_CUSOLVER_TRY(cusolverDnDorgqr_bufferSize(h.get(), pp, qq, qq, s.u, pp, s.tau, &lw_org));
  const int lwork = std::max({lw_qr, lw_org, 1});
  ws.device.reserve(std::size_t(lwork) * sizeof(double), stream);
  double* work = reinterpret_cast<double*>(ws.device.data());
  for (std::size_t i = 0; i < qr_start.size(); ++i) {
    if (!qr_start[i]) continue;
    double* b = s.u + i * p * q;
    double* tau = s.tau + i * q;
    TANDEM_CUSOLVER_TRY(cusolverDnDgeqrf(h.get(), pp, qq, b, pp, tau, work, lwork, s.qr_info));
    TANDEM_CUSOLVER_TRY(cusolverDnDorgqr(h.get(), pp, qq, qq, b, pp, tau, work, lwork, s.qr_info));
  }
}

// The first U from B = W·V (in s.x): columns normalised, or by QR where B may be rank-deficient
// (gram::needs_qr_start). Waits for the stream to learn which.
void first_u(const SolverHandle& h, Workspace& ws, const GramScratch& s, int64_t p, int64_t q,
             int count, cudaStream_t stream) {
  detail::gram_qr_start_flags(s.sigma, s.eigen_info, q, count, s.converged, stream);
  std::vector<int> qr_start(std::size_t(count), 0);
  TANDEM_CUDA_TRY(cudaMemcpyAsync(qr_start.data(), s.converged, count * sizeof(int),
                                  cudaMemcpyDeviceToHost, stream));
  TANDEM_CUDA_TRY(cudaMemcpyAsync(s.u, s.x, std::size_t(count * p * q) * sizeof(double),
                                  cudaMemcpyDeviceToDevice, stream));
  detail::gram_normalize_columns(s.u, s.converged, p, q, count, stream);
  TANDEM_CUDA_TRY(cudaStreamSynchronize(stream));
  qr(h, ws, stream, s, p, q, qr_start);
}

// R = I − UᵀU and S = I − VᵀV into s.g and s.s.
void measure_orthogonality(const BlasHandle& blas, const GramScratch& s, int64_t p, int64_t q,
                           int count, cudaStream_t stream) {
  const int64_t pq = p * q, qq = q * q;
  detail::set_identity(s.g, q, count, stream);
  detail::set_identity(s.s, q, count, stream);
  gemm(blas, CUBLAS_OP_T, q, q, p, -1.0, s.u, p, pq, s.u, p, pq, 1.0, s.g, q, qq, count);
  gemm(blas, CUBLAS_OP_T, q, q, q, -1.0, s.v, q, qq, s.v, q, qq, 1.0, s.s, q, qq, count);
}

// How many matrices are not yet at working accuracy (waits for the stream).
int assess(const GramScratch& s, int64_t q, int count, double tol, cudaStream_t stream) {
  TANDEM_CUDA_TRY(cudaMemsetAsync(s.unconverged, 0, sizeof(int), stream));
  detail::gram_assess(s.g, s.s, s.t, q, count, tol, s.sigma, s.gap, s.converged, s.unconverged,
                      stream);
  int unconverged = 0;
  TANDEM_CUDA_TRY(
      cudaMemcpyAsync(&unconverged, s.unconverged, sizeof(int), cudaMemcpyDeviceToHost, stream));
  TANDEM_CUDA_TRY(cudaStreamSynchronize(stream));
  return unconverged;
}

// T = Uᵀ·X (X = W·V in s.x), U's columns and T's rows signed so T's diagonal is non-negative,
// then R and S.
void measure(const BlasHandle& blas, const GramScratch& s, int64_t p, int64_t q, int count,
             cudaStream_t stream) {
  const int64_t pq = p * q, qq = q * q;
  gemm(blas, CUBLAS_OP_T, q, q, p, 1.0, s.u, p, pq, s.x, p, pq, 0.0, s.t, q, qq, count);
  detail::gram_sign_fix(s.u, s.t, s.sigma, p, q, count, stream);
  measure_orthogonality(blas, s, p, q, count, stream);
}

// One step: U += U·F, V += V·G, then X = W·V and the measures anew.
void refine_step(const BlasHandle& blas, const GramScratch& s, const double* w, int64_t p,
                 int64_t q, int count, cudaStream_t stream) {
  const int64_t pq = p * q, qq = q * q;
  detail::gram_corrections(s.g, s.s, s.t, s.sigma, s.gap, s.converged, q, count, stream);
  gemm(blas, CUBLAS_OP_N, p, q, q, 1.0, s.u, p, pq, s.g, q, qq, 0.0, s.x, p, pq, count);
  detail::add_in_place(s.u, s.x, count * pq, stream);
  gemm(blas, CUBLAS_OP_N, q, q, q, 1.0, s.v, q, qq, s.s, q, qq, 0.0, s.t, q, qq, count);
  detail::add_in_place(s.v, s.t, count * qq, stream);
  gemm(blas, CUBLAS_OP_N, p, q, q, 1.0, w, p, pq, s.v, q, qq, 0.0, s.x, p, pq, count);
  measure(blas, s, p, q, count, stream);
}

}  // namespace

namespace detail {

int64_t eigen_batch_limit(int64_t q) {
  const int64_t qq = std::max<int64_t>(1, q * q);
  return std::max<int64_t>(1, std::min<int64_t>(kEigenMaxBatch, INT32_MAX / qq));
}

}  // namespace detail

bool gram_fits(const SvdShape& shape, DType dtype, const SvdOptions& opt) {
  const int64_t p = std::max(shape.m, shape.n), q = shape.k();
  const bool u_fits = !opt.full_matrices || opt.values_only || p == q;
  const bool typed = dtype == DType::kFloat32 || dtype == DType::kFloat64;
  return typed && u_fits && q >= 1 && q <= kGramMaxCols && p <= INT_MAX / q;
}

std::size_t gram_scratch_bytes(int64_t p, int64_t q) {
  return scratch_doubles(p, q, true) * sizeof(double) + 2 * sizeof(int);
}

template <typename T>
void gram_solve(const SolverHandle& h, Workspace& ws, cudaStream_t stream, const SolveArgs<T>& a) {
  constexpr bool kWiden = std::is_same_v<T, float>;
  const int64_t p = a.p, q = a.q, pq = p * q, qq = q * q;
  if (!ws.blas) ws.blas = std::make_unique<BlasHandle>(stream);
  const BlasHandle& blas = *ws.blas;
  const GramScratch s = carve(ws, p, q, a.count, kWiden, stream);
  const double* w = nullptr;
  if constexpr (kWiden) {
    detail::widen(a.w, s.wd, a.count * pq, stream);
    w = s.wd;
  } else {
    w = a.w;  // W is read, never written: the refinement measures against it
  }
  gemm(blas, CUBLAS_OP_T, q, q, p, 1.0, w, p, pq, w, p, pq, 0.0, s.g, q, qq, a.count);  // WᵀW
  eigen(h, ws, stream, s, q, a.count);
  // Eigenvectors by descending eigenvalue: the columns of G read right to left.
  copy_2d<double>(View<const double>{s.g + (q - 1) * q, 1, -q, qq}, View<double>{s.v, 1, q, qq}, q,
                  q, a.count, stream);
  gemm(blas, CUBLAS_OP_N, p, q, q, 1.0, w, p, pq, s.v, q, qq, 0.0, s.x, p, pq, a.count);  // W·V
  first_u(h, ws, s, p, q, a.count, stream);
  measure(blas, s, p, q, a.count, stream);
  const double tol =
      gram::refine_tolerance(p, q, std::is_same_v<T, float> ? FLT_EPSILON : DBL_EPSILON);
  for (int step = 0; assess(s, q, a.count, tol, stream) > 0 && step < gram::kMaxRefineSteps;
       ++step) {
    refine_step(blas, s, w, p, q, a.count, stream);
  }
  detail::gram_finish<T>(s.sigma, s.converged, s.eigen_info, q, a.count, tol, a.s, a.info, stream);
  detail::gram_outputs<T>(s.u, s.v, p, q, a.count, a.u, a.v, stream);
}

template void gram_solve<float>(const SolverHandle&, Workspace&, cudaStream_t,
                                const SolveArgs<float>&);
template void gram_solve<double>(const SolverHandle&, Workspace&, cudaStream_t,
                                 const SolveArgs<double>&);

}  // namespace tandem::cuda
