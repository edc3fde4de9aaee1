// SPDX-License-Identifier: Apache-2.0
#include "svd/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/cores.h"
#include "core/error.h"
#include "svd/blas_threads.h"
#include "svd/check.h"
#include "svd/lapack.h"

namespace tandem {

namespace {

// Overloads so one template drives both precisions.
void gesdd(char jobz, int m, int n, double* a, int lda, double* s, double* u, int ldu, double* vt,
           int ldvt, double* work, int lwork, int* iwork, int* info) {
  dgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork, info, 1);
}
void gesdd(char jobz, int m, int n, float* a, int lda, float* s, float* u, int ldu, float* vt,
           int ldvt, float* work, int lwork, int* iwork, int* info) {
  sgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork, info, 1);
}
void gesvd(char jobu, char jobvt, int m, int n, double* a, int lda, double* s, double* u, int ldu,
           double* vt, int ldvt, double* work, int lwork, int* info) {
  dgesvd_(&jobu, &jobvt, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, info, 1, 1);
}
void gesvd(char jobu, char jobvt, int m, int n, float* a, int lda, float* s, float* u, int ldu,
           float* vt, int ldvt, float* work, int lwork, int* info) {
  sgesvd_(&jobu, &jobvt, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, info, 1, 1);
}

// Per-thread scratch: the copy of A that LAPACK destroys, and the workspaces. Grown, never
// shrunk, so a stream of same-size matrices allocates once.
template <typename T>
struct Workspace {
  std::vector<T> a, work;
  std::vector<int> iwork;
  void fit(std::size_t a_elems, std::size_t work_elems, std::size_t iwork_elems) {
    if (a.size() < a_elems) a.resize(a_elems);
    if (work.size() < work_elems) work.resize(work_elems);
    if (iwork.size() < iwork_elems) iwork.resize(iwork_elems);
  }
};

template <typename T>
Workspace<T>& thread_workspace() {
  thread_local Workspace<T> ws;
  return ws;
}

// LAPACK sees the row-major m×n A as the column-major n×m Aᵀ = V Σ Uᵀ: its "U" is numpy's Vh
// and its "VT" is numpy's U, both already in row-major order. No transposes anywhere.
struct LapackDims {
  int rows, cols;  // of Aᵀ: n, m
  int ldu, ldvt;   // for Vh (as LAPACK's U) and U (as LAPACK's VT)
  char job;        // 'A' full, 'S' economy, 'N' values only
};

LapackDims lapack_dims(const SvdShape& s, const SvdOptions& o) {
  LapackDims d;
  d.rows = static_cast<int>(s.n);
  d.cols = static_cast<int>(s.m);
  d.job = o.values_only ? 'N' : (o.full_matrices ? 'A' : 'S');
  d.ldu = std::max(1, d.rows);
  // VT of Aᵀ is m×m (full) or k×m (economy), column-major.
  d.ldvt = o.values_only ? 1 : std::max(1, static_cast<int>(o.full_matrices ? s.m : s.k()));
  return d;
}

template <typename T>
int query_gesdd(const LapackDims& d, T* s, T* u, T* vt) {
  T size = 0;
  int info = 0, iw = 0;
  gesdd(d.job, d.rows, d.cols, nullptr, d.rows, s, u, d.ldu, vt, d.ldvt, &size, -1, &iw, &info);
  return static_cast<int>(size) + 1;
}

template <typename T>
int query_gesvd(const LapackDims& d, T* s, T* u, T* vt) {
  T size = 0;
  int info = 0;
  gesvd(d.job, d.job, d.rows, d.cols, nullptr, d.rows, s, u, d.ldu, vt, d.ldvt, &size, -1, &info);
  return static_cast<int>(size) + 1;
}

template <typename T>
ItemResult run_lapack(const SvdTask& task, const SvdOptions& opt) {
  const LapackDims d = lapack_dims(task.shape, opt);
  const std::size_t elems = static_cast<std::size_t>(task.shape.m * task.shape.n);
  T* s = static_cast<T*>(task.s);
  T* u_lapack = static_cast<T*>(task.vh);  // LAPACK's U = numpy's Vh
  T* vt_lapack = static_cast<T*>(task.u);  // LAPACK's VT = numpy's U
  T dummy[1];
  if (opt.values_only) u_lapack = vt_lapack = dummy;
  Workspace<T>& ws = thread_workspace<T>();
  int lwork = query_gesdd<T>(d, s, u_lapack, vt_lapack);
  ws.fit(elems, static_cast<std::size_t>(lwork), static_cast<std::size_t>(8 * task.shape.k()));
  std::memcpy(ws.a.data(), task.a, elems * sizeof(T));
  int info = 0;
  gesdd(d.job, d.rows, d.cols, ws.a.data(), d.rows, s, u_lapack, d.ldu, vt_lapack, d.ldvt,
        ws.work.data(), static_cast<int>(ws.work.size()), ws.iwork.data(), &info);
  ItemResult r;
  r.route = "lapack-gesdd";
  if (info < 0) throw SolverError("gesdd: argument " + std::to_string(-info) + " is invalid");
  if (info == 0) return r;
  // gesdd's divide and conquer can fail to converge where the QR iteration of gesvd does not.
  lwork = query_gesvd<T>(d, s, u_lapack, vt_lapack);
  ws.fit(elems, static_cast<std::size_t>(lwork), 0);
  std::memcpy(ws.a.data(), task.a, elems * sizeof(T));
  gesvd(d.job, d.job, d.rows, d.cols, ws.a.data(), d.rows, s, u_lapack, d.ldu, vt_lapack, d.ldvt,
        ws.work.data(), static_cast<int>(ws.work.size()), &info);
  r.route = "lapack-gesvd";
  r.message = "gesdd did not converge; used gesvd";
  if (info != 0) {
    r.status = ItemStatus::kFailed;
    r.message = "SVD did not converge (gesdd and gesvd, info " + std::to_string(info) + ")";
  }
  return r;
}

template <typename T>
std::string first_non_finite(const T* a, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m * n; ++i) {
    if (!std::isfinite(a[i])) {
      return "contains NaN or Inf (first at row " + std::to_string(i / n) + ", column " +
             std::to_string(i % n) + ")";
    }
  }
  return "";
}

}  // namespace

std::string find_non_finite(DType dtype, const void* a, int64_t m, int64_t n) {
  return dtype == DType::kFloat32 ? first_non_finite(static_cast<const float*>(a), m, n)
                                  : first_non_finite(static_cast<const double*>(a), m, n);
}

CpuBackend::CpuBackend(int threads) : threads_(threads > 0 ? threads : available_cores()) {
  pin_blas_single_thread();
}

std::string CpuBackend::name() const {
  return "cpu (" + std::to_string(threads_) + " thread" + (threads_ == 1 ? "" : "s") +
         ", LAPACK gesdd)";
}

BackendTraits CpuBackend::traits() const { return BackendTraits{threads_, 0, true}; }

ItemResult CpuBackend::svd_one(const SvdTask& task, const SvdOptions& opt) {
  const SvdShape& sh = task.shape;
  if (sh.m <= 0 || sh.n <= 0) {
    return {ItemStatus::kFailed,
            "empty matrix (" + std::to_string(sh.m) + "×" + std::to_string(sh.n) + ")",
            "",
            false,
            {}};
  }
  std::string bad = find_non_finite(task.dtype, task.a, sh.m, sh.n);
  if (!bad.empty()) return {ItemStatus::kFailed, bad, "", false, {}};
  ItemResult r =
      task.dtype == DType::kFloat32 ? run_lapack<float>(task, opt) : run_lapack<double>(task, opt);
  if (r.status != ItemStatus::kOk || opt.values_only) return r;
  if (opt.canonical_signs) {
    if (task.dtype == DType::kFloat32) {
      canonicalize_signs(sh, opt, static_cast<float*>(task.u), static_cast<float*>(task.vh));
    } else {
      canonicalize_signs(sh, opt, static_cast<double*>(task.u), static_cast<double*>(task.vh));
    }
  }
  if (opt.check) {
    r.check = compute_check(task, opt);
    r.has_check = true;
  }
  return r;
}

std::vector<ItemResult> CpuBackend::svd(const std::vector<SvdTask>& batch, const SvdOptions& opt) {
  std::vector<ItemResult> out;
  out.reserve(batch.size());
  for (const SvdTask& t : batch) {
    try {
      out.push_back(svd_one(t, opt));
    } catch (const std::exception& e) {
      out.push_back({ItemStatus::kFailed, item_failure_message(e), "lapack", false, {}});
    }
  }
  return out;
}

}  // namespace tandem
