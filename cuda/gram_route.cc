// SPDX-License-Identifier: Apache-2.0
#include "gram_route.h"

#include <algorithm>
#include <cfloat>
#include <climits>

#include "kernels.h"

namespace tandem::cuda {

namespace {

// Scratch of a chunk, carved out of Workspace::scratch.
struct GramScratch {
  double *wd, *b, *g, *vd, *r, *lambda, *tau;
  int *eigen_info, *qr_info;
};

GramScratch carve(Workspace& ws, int64_t p, int64_t q, int count, cudaStream_t stream) {
  const std::size_t pq = std::size_t(p * q), qq = std::size_t(q * q), c = std::size_t(count);
  const std::size_t doubles = c * (2 * pq + 3 * qq + 2 * std::size_t(q));
  ws.scratch.reserve(doubles * sizeof(double) + (c + 1) * sizeof(int), stream);
  GramScratch s;
  s.wd = reinterpret_cast<double*>(ws.scratch.data());
  s.b = s.wd + c * pq;
  s.g = s.b + c * pq;
  s.vd = s.g + c * qq;
  s.r = s.vd + c * qq;
  s.lambda = s.r + c * qq;
  s.tau = s.lambda + c * q;
  s.eigen_info = reinterpret_cast<int*>(s.tau + c * q);
  s.qr_info = s.eigen_info + c;
  return s;
}

// C = op(A)·B for `count` matrices, float64, on the handle's stream.
void gemm(const BlasHandle& blas, cublasOperation_t ta, int64_t m, int64_t n, int64_t k,
          const double* a, int64_t lda, int64_t stride_a, const double* b, int64_t ldb,
          int64_t stride_b, double* c, int64_t ldc, int64_t stride_c, int count) {
  const double one = 1.0, zero = 0.0;
  TANDEM_CUBLAS_TRY(cublasDgemmStridedBatched(blas.get(), ta, CUBLAS_OP_N, int(m), int(n), int(k),
                                              &one, a, int(lda), stride_a, b, int(ldb), stride_b,
                                              &zero, c, int(ldc), stride_c, count));
}

// Eigenvectors of every G (ascending eigenvalues), in place.
void eigen(const SolverHandle& h, Workspace& ws, cudaStream_t stream, const GramScratch& s,
           int64_t q, int count) {
  std::size_t dev = 0, host = 0;
  TANDEM_CUSOLVER_TRY(cusolverDnXsyevBatched_bufferSize(
      h.get(), h.params(), CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, q, CUDA_R_64F, s.g, q,
      CUDA_R_64F, s.lambda, CUDA_R_64F, &dev, &host, count));
  ws.device.reserve(dev, stream);
  ws.host.resize(std::max<std::size_t>(host, 1));
  TANDEM_CUSOLVER_TRY(cusolverDnXsyevBatched(h.get(), h.params(), CUSOLVER_EIG_MODE_VECTOR,
                                             CUBLAS_FILL_MODE_LOWER, q, CUDA_R_64F, s.g, q,
                                             CUDA_R_64F, s.lambda, CUDA_R_64F, ws.device.data(),
                                             dev, ws.host.data(), host, s.eigen_info, count));
}

// B = Q·R for every matrix: R's upper triangle copied to s.r, then Q formed in place of B.
void qr(const SolverHandle& h, Workspace& ws, cudaStream_t stream, const GramScratch& s, int64_t p,
        int64_t q, int count) {
  const int pp = int(p), qq = int(q);
  int lw_qr = 0, lw_org = 0;
  TANDEM_CUSOLVER_TRY(cusolverDnDgeqrf_bufferSize(h.get(), pp, qq, s.b, pp, &lw_qr));
  TANDEM_CUSOLVER_TRY(cusolverDnDorgqr_bufferSize(h.get(), pp, qq, qq, s.b, pp, s.tau, &lw_org));
  const int lwork = std::max({lw_qr, lw_org, 1});
  ws.device.reserve(std::size_t(lwork) * sizeof(double), stream);
  double* work = reinterpret_cast<double*>(ws.device.data());
  for (int i = 0; i < count; ++i) {
    double* b = s.b + i * p * q;
    double* tau = s.tau + i * q;
    TANDEM_CUSOLVER_TRY(cusolverDnDgeqrf(h.get(), pp, qq, b, pp, tau, work, lwork, s.qr_info));
    copy_2d<double>(View<const double>{b, 1, p, 0}, View<double>{s.r + i * q * q, 1, q, 0}, q, q, 1,
                    stream);
    TANDEM_CUSOLVER_TRY(cusolverDnDorgqr(h.get(), pp, qq, qq, b, pp, tau, work, lwork, s.qr_info));
  }
}

}  // namespace

bool gram_fits(const SvdShape& shape, DType dtype, const SvdOptions& opt) {
  const int64_t p = std::max(shape.m, shape.n), q = shape.k();
  const bool u_fits = !opt.full_matrices || opt.values_only || p == q;
  return dtype == DType::kFloat32 && u_fits && q >= 1 && q <= kGramMaxCols && p <= INT_MAX / q;
}

std::size_t gram_scratch_bytes(int64_t p, int64_t q) {
  return std::size_t(2 * p * q + 3 * q * q + 2 * q) * sizeof(double) + 2 * sizeof(int);
}

void gram_solve(const SolverHandle& h, Workspace& ws, cudaStream_t stream,
                const SolveArgs<float>& a) {
  const int64_t p = a.p, q = a.q, pq = p * q, qq = q * q;
  if (!ws.blas) ws.blas = std::make_unique<BlasHandle>(stream);
  const GramScratch s = carve(ws, p, q, a.count, stream);
  detail::widen(a.w, s.wd, a.count * pq, stream);
  gemm(*ws.blas, CUBLAS_OP_T, q, q, p, s.wd, p, pq, s.wd, p, pq, s.g, q, qq, a.count);  // G = WᵀW
  eigen(h, ws, stream, s, q, a.count);
  // Eigenvectors by descending eigenvalue: the columns of G read right to left.
  copy_2d<double>(View<const double>{s.g + (q - 1) * q, 1, -q, qq}, View<double>{s.vd, 1, q, qq}, q,
                  q, a.count, stream);
  gemm(*ws.blas, CUBLAS_OP_N, p, q, q, s.wd, p, pq, s.vd, q, qq, s.b, p, pq, a.count);  // B = W·V
  qr(h, ws, stream, s, p, q, a.count);
  detail::gram_check(s.r, q, a.count, s.eigen_info, double(FLT_EPSILON), a.s, a.info, stream);
  detail::gram_outputs(s.b, s.r, s.vd, p, q, a.count, a.u, a.v, stream);
}

}  // namespace tandem::cuda
