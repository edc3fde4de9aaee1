// SPDX-License-Identifier: Apache-2.0
#include "device_check.h"

#include <algorithm>
#include <limits>
#include <type_traits>

#include "check_kernels.h"

namespace tandem::cuda {

namespace {

// Per-item sizes (elements) of the float64 work matrices, all column-major views of numpy's
// row-major arrays: A as Aᵀ (n×m), U as Uᵀ (uc×m), Vh as Vhᵀ (n×vr), W = Vh_kᵀ·S (n×k),
// R = Aᵀ − W·U_kᵀ (n×m), GU = UᵀU (uc×uc), GV = Vh·Vhᵀ (vr×vr).
struct CheckSizes {
  int64_t a, u, vh, s, w, r, gu, gv;
};

CheckSizes sizes(const SvdShape& shape, const SvdOptions& opt) {
  const int64_t m = shape.m, n = shape.n, k = shape.k();
  const int64_t uc = shape.u_cols(opt), vr = shape.vh_rows(opt);
  return {m * n, m * uc, vr * n, k, n * k, n * m, uc * uc, vr * vr};
}

void gemm(const BlasHandle& blas, cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n,
          int64_t k, double alpha, const double* a, int64_t lda, int64_t sa, const double* b,
          int64_t ldb, int64_t sb, double beta, double* c, int64_t ldc, int64_t sc, int count) {
  TANDEM_CUBLAS_TRY(cublasDgemmStridedBatched(blas.get(), ta, tb, int(m), int(n), int(k), &alpha, a,
                                              int(lda), sa, b, int(ldb), sb, &beta, c, int(ldc), sc,
                                              count));
}

}  // namespace

std::size_t check_scratch_bytes(const SvdShape& shape, const SvdOptions& opt, DType dtype,
                                int count) {
  const CheckSizes z = sizes(shape, opt);
  // Widened copies of the inputs only for float32; plus the per-item norms.
  const int64_t widened = dtype == DType::kFloat32 ? z.a + z.u + z.vh + z.s : 0;
  const int64_t work = z.w + z.r + z.gu + z.gv + detail::kNormValues;
  return std::size_t(count) * std::size_t(widened + work) * sizeof(double);
}

template <typename T>
void check_chunk(const BlasHandle& blas, const SvdShape& shape, const SvdOptions& opt, int count,
                 const T* a, const T* u, const T* s, const T* vh, double* scratch, double* out,
                 cudaStream_t stream) {
  if (count <= 0) return;
  const int64_t m = shape.m, n = shape.n, k = shape.k();
  const int64_t uc = shape.u_cols(opt), vr = shape.vh_rows(opt);
  const CheckSizes z = sizes(shape, opt);
  const int64_t c = count;
  double* wide = scratch;  // float32 inputs widened: A, U, Vh, S
  double* w = std::is_same_v<T, double> ? scratch : wide + c * (z.a + z.u + z.vh + z.s);
  double* r = w + c * z.w;
  double* gu = r + c * z.r;
  double* gv = gu + c * z.gu;
  double* norms = gv + c * z.gv;
  // float64 inputs are used where they lie; float32 ones are widened once.
  const double *a64, *u64, *vh64, *s64;
  if constexpr (std::is_same_v<T, double>) {
    a64 = a;
    u64 = u;
    vh64 = vh;
    s64 = s;
  } else {
    double* a_wide = wide;
    double* u_wide = a_wide + c * z.a;
    double* vh_wide = u_wide + c * z.u;
    double* s_wide = vh_wide + c * z.vh;
    detail::to_double(a, a_wide, c * z.a, stream);
    detail::to_double(u, u_wide, c * z.u, stream);
    detail::to_double(vh, vh_wide, c * z.vh, stream);
    detail::to_double(s, s_wide, c * z.s, stream);
    a64 = a_wide;
    u64 = u_wide;
    vh64 = vh_wide;
    s64 = s_wide;
  }
  // W(i, j) = Vhᵀ(i, j)·σⱼ for j < k; R = Aᵀ − W·U_kᵀ (U_kᵀ: the first k rows of Uᵀ).
  detail::scale_columns(vh64, z.vh, s64, n, k, count, w, stream);
  TANDEM_CUDA_TRY(cudaMemcpyAsync(r, a64, std::size_t(c * z.a) * sizeof(double),
                                  cudaMemcpyDeviceToDevice, stream));
  if (k > 0) {
    gemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, -1.0, w, n, z.w, u64, uc, z.u, 1.0, r, n, z.r,
         count);
  }
  gemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, uc, uc, m, 1.0, u64, uc, z.u, u64, uc, z.u, 0.0, gu, uc,
       z.gu, count);
  gemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, vr, vr, n, 1.0, vh64, n, z.vh, vh64, n, z.vh, 0.0, gv, vr,
       z.gv, count);
  detail::check_norms(a64, r, n, m, gu, uc, gv, vr, count, norms, stream);
  detail::check_ratios(norms, m, n, double(std::numeric_limits<T>::epsilon()), count, out, stream);
}

CheckMetrics check_metrics(const double* v) {
  CheckMetrics c;
  c.residual = v[0];
  c.u_orthogonality = v[1];
  c.v_orthogonality = v[2];
  c.residual_ratio = v[3];
  c.orthogonality_ratio = v[4];
  return c;
}

template void check_chunk<float>(const BlasHandle&, const SvdShape&, const SvdOptions&, int,
                                 const float*, const float*, const float*, const float*, double*,
                                 double*, cudaStream_t);
template void check_chunk<double>(const BlasHandle&, const SvdShape&, const SvdOptions&, int,
                                  const double*, const double*, const double*, const double*,
                                  double*, double*, cudaStream_t);

}  // namespace tandem::cuda
