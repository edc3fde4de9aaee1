// SPDX-License-Identifier: Apache-2.0
#include "svd/check.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "svd/lapack.h"

namespace tandem {

namespace {

// Row-major buffers of the task, promoted to float64.
std::vector<double> promote(DType t, const void* data, int64_t count) {
  std::vector<double> out(static_cast<std::size_t>(count));
  if (t == DType::kFloat64) {
    const double* p = static_cast<const double*>(data);
    std::copy(p, p + count, out.begin());
  } else {
    const float* p = static_cast<const float*>(data);
    std::copy(p, p + count, out.begin());
  }
  return out;
}

// C = op(A)·op(B) on column-major operands (BLAS conventions).
void gemm(char ta, char tb, int m, int n, int k, double alpha, const double* a, int lda,
          const double* b, int ldb, double beta, double* c, int ldc) {
  dgemm_(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc, 1, 1);
}

// 1-norm (largest column sum) of a column-major rows×cols matrix.
double norm1_colmajor(const double* a, int64_t rows, int64_t cols) {
  double best = 0;
  for (int64_t j = 0; j < cols; ++j) {
    double s = 0;
    for (int64_t i = 0; i < rows; ++i) s += std::fabs(a[i + j * rows]);
    best = std::max(best, s);
  }
  return best;
}

double frobenius(const std::vector<double>& a) {
  double s = 0;
  for (double v : a) s += v * v;
  return std::sqrt(s);
}

// G − I for a square gram matrix, in place; returns the Frobenius norm and sets `n1` to its 1-norm.
double gram_minus_identity(std::vector<double>& g, int64_t n, double* n1) {
  for (int64_t i = 0; i < n; ++i) g[i + i * n] -= 1.0;
  *n1 = norm1_colmajor(g.data(), n, n);
  return frobenius(g);
}

}  // namespace

double dtype_epsilon(DType t) {
  return t == DType::kFloat32 ? std::numeric_limits<float>::epsilon()
                              : std::numeric_limits<double>::epsilon();
}

CheckMetrics compute_check(const SvdTask& task, const SvdOptions& opt) {
  const int64_t m = task.shape.m, n = task.shape.n, k = task.shape.k();
  const int64_t uc = task.shape.u_cols(opt), vr = task.shape.vh_rows(opt);
  std::vector<double> a = promote(task.dtype, task.a, m * n);
  std::vector<double> u = promote(task.dtype, task.u, m * uc);
  std::vector<double> s = promote(task.dtype, task.s, k);
  std::vector<double> vh = promote(task.dtype, task.vh, vr * n);

  // Row-major X is column-major Xᵀ, so work on transposes: Rᵀ = Aᵀ − (Vh_kᵀ·S)·U_kᵀ.
  const double a_fro = frobenius(a);
  // The ratio uses ‖·‖_1 of the transposed problem LAPACK solves (= ‖·‖_∞ of A) on both sides.
  const double a_one = norm1_colmajor(a.data(), n, m);
  std::vector<double> w(static_cast<std::size_t>(n * k));
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t i = 0; i < n; ++i) w[i + j * n] = vh[j * n + i] * s[j];
  }
  std::vector<double> r = a;
  if (k > 0) {
    gemm('N', 'N', int(n), int(m), int(k), -1.0, w.data(), int(n), u.data(), int(uc), 1.0, r.data(),
         int(n));
  }
  CheckMetrics out;
  const double eps = dtype_epsilon(task.dtype);
  const double big = static_cast<double>(std::max(m, n));
  const double r_fro = frobenius(r);
  const double r_one = norm1_colmajor(r.data(), n, m);
  out.residual = a_fro > 0 ? r_fro / a_fro : r_fro;
  out.residual_ratio = a_one > 0 ? r_one / (a_one * big * eps) : r_one / (big * eps);

  std::vector<double> gu(static_cast<std::size_t>(uc * uc));
  gemm('N', 'T', int(uc), int(uc), int(m), 1.0, u.data(), int(uc), u.data(), int(uc), 0.0,
       gu.data(), int(uc));
  std::vector<double> gv(static_cast<std::size_t>(vr * vr));
  gemm('T', 'N', int(vr), int(vr), int(n), 1.0, vh.data(), int(n), vh.data(), int(n), 0.0,
       gv.data(), int(vr));
  double u_one = 0, v_one = 0;
  out.u_orthogonality = gram_minus_identity(gu, uc, &u_one);
  out.v_orthogonality = gram_minus_identity(gv, vr, &v_one);
  out.orthogonality_ratio =
      std::max(u_one / (static_cast<double>(m) * eps), v_one / (static_cast<double>(n) * eps));
  return out;
}

template <typename T>
void canonicalize_signs(const SvdShape& shape, const SvdOptions& opt, T* u, T* vh) {
  const int64_t m = shape.m, n = shape.n, k = shape.k();
  const int64_t uc = shape.u_cols(opt), vr = shape.vh_rows(opt);
  auto largest_is_negative = [](const T* p, int64_t count, int64_t stride) {
    T best = 0;
    for (int64_t i = 0; i < count; ++i) {
      if (std::fabs(p[i * stride]) > std::fabs(best)) best = p[i * stride];
    }
    return best < 0;
  };
  for (int64_t j = 0; j < uc; ++j) {
    if (!largest_is_negative(u + j, m, uc)) continue;
    for (int64_t i = 0; i < m; ++i) u[i * uc + j] = -u[i * uc + j];
    if (j < k) {
      for (int64_t i = 0; i < n; ++i) vh[j * n + i] = -vh[j * n + i];
    }
  }
  for (int64_t j = k; j < vr; ++j) {
    if (!largest_is_negative(vh + j * n, n, 1)) continue;
    for (int64_t i = 0; i < n; ++i) vh[j * n + i] = -vh[j * n + i];
  }
}

template void canonicalize_signs<float>(const SvdShape&, const SvdOptions&, float*, float*);
template void canonicalize_signs<double>(const SvdShape&, const SvdOptions&, double*, double*);

template <typename T>
bool signs_are_canonical(const SvdShape& shape, const SvdOptions& opt, const T* u, const T* vh) {
  std::vector<T> cu(u, u + shape.u_elems(opt));
  std::vector<T> cv(vh, vh + shape.vh_elems(opt));
  canonicalize_signs(shape, opt, cu.data(), cv.data());
  return std::equal(cu.begin(), cu.end(), u) && std::equal(cv.begin(), cv.end(), vh);
}

template bool signs_are_canonical<float>(const SvdShape&, const SvdOptions&, const float*,
                                         const float*);
template bool signs_are_canonical<double>(const SvdShape&, const SvdOptions&, const double*,
                                          const double*);

}  // namespace tandem
