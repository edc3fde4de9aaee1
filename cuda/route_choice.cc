// SPDX-License-Identifier: Apache-2.0
#include "route_choice.h"

#include <algorithm>

#include "gram_route.h"
#include "jacobi_batched.h"

namespace tandem::cuda {

namespace {

bool kernel_fits(const SvdShape& shape, DType dtype, const SvdOptions& opt) {
  const int64_t p = std::max(shape.m, shape.n), q = shape.k();
  // One-sided Jacobi yields only q left vectors: a full U of a non-square matrix needs more.
  if (opt.full_matrices && !opt.values_only && p != q) return false;
  return dtype == DType::kFloat64 ? jacobi_kernel_fits<double>(p, q)
                                  : jacobi_kernel_fits<float>(p, q);
}

// The Jacobi routes only: gesvdjBatched, our kernel, else none (kCpu).
Route jacobi_route(const SvdShape& shape, DType dtype, const SvdOptions& opt,
                   const RoutePolicy& policy) {
  const bool small = std::max(shape.m, shape.n) <= kGesvdjBatchedMax;
  const bool kernel = kernel_fits(shape, dtype, opt);
  if (small && !(policy.kernel_for_small && kernel)) return Route::kGesvdjBatched;
  return kernel ? Route::kJacobiKernel : Route::kCpu;
}

// The int-sized cuSOLVER APIs (gesvdj) need p·p to fit an int.
bool fits_int_api(const SvdShape& shape) { return std::max(shape.m, shape.n) <= 46340; }

// Large matrices take gesvdj, not Xgesvdp: measured on an H200 (CUDA 13.0), Xgesvdp missed
// LAPACK's test ratio on rank-deficient and ill-conditioned matrices (ratios 50 to 10^4) and in
// float32 even on random 1000×1000 matrices, while Jacobi keeps LAPACK's accuracy.
Route auto_route(const SvdShape& shape, DType dtype, const SvdOptions& opt,
                 const RoutePolicy& policy) {
  const int64_t p = std::max(shape.m, shape.n), q = shape.k();
  const Route jacobi = jacobi_route(shape, dtype, opt, policy);
  if (jacobi != Route::kCpu) return jacobi;
  const bool tall_f32 = dtype == DType::kFloat32 && p >= kGramAutoAspect * q;
  if (policy.gram_in_auto && (tall_f32 || policy.gram_for_large) && gram_fits(shape, dtype, opt)) {
    return Route::kGram;
  }
  if (opt.full_matrices && !opt.values_only && p != q) return Route::kQr;
  return fits_int_api(shape) ? Route::kGesvdj : Route::kQr;
}

}  // namespace

Route choose_route(const SvdShape& shape, DType dtype, const SvdOptions& opt,
                   const RoutePolicy& policy, std::string* note) {
  if (shape.k() == 0) return Route::kCpu;
  const Route fallback = auto_route(shape, dtype, opt, policy);
  switch (opt.algorithm) {
    case Algorithm::kAuto:
      return fallback;
    case Algorithm::kPolar:
      return Route::kPolar;
    case Algorithm::kQr:
      return Route::kQr;
    case Algorithm::kJacobi: {
      const Route jacobi = jacobi_route(shape, dtype, opt, policy);
      if (jacobi != Route::kCpu) return jacobi;
      if (fits_int_api(shape)) return Route::kGesvdj;
      if (note) *note = "jacobi: too large for cusolver-gesvdj; used " + route_name(fallback);
      return fallback;
    }
    case Algorithm::kGram:
      if (gram_fits(shape, dtype, opt)) return Route::kGram;
      if (note) {
        *note = "gram: needs economy or square output and min(m, n) <= " +
                std::to_string(kGramMaxCols) + "; used " + route_name(fallback);
      }
      return fallback;
  }
  return fallback;
}

Route next_route(Route r) {
  switch (r) {
    case Route::kGesvdjBatched:
    case Route::kJacobiKernel:
    case Route::kPolar:
    case Route::kGesvdj:
    case Route::kGram:
      return Route::kQr;
    case Route::kQr:
    case Route::kCpu:
      return Route::kCpu;
  }
  return Route::kCpu;
}

}  // namespace tandem::cuda
