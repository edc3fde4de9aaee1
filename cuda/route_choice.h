// SPDX-License-Identifier: Apache-2.0
#pragma once
// Which GPU route solves a shape, and which exact route a failed matrix is retried on.

#include <string>

#include "solvers.h"
#include "svd/backend.h"

namespace tandem::cuda {

/// Largest dimension gesvdjBatched accepts.
constexpr int64_t kGesvdjBatchedMax = 32;

/// Switches of the automatic choice (CudaBackendOptions sets them).
struct RoutePolicy {
  bool kernel_for_small = false;  ///< our Jacobi kernel also for ≤ 32×32 (else gesvdjBatched)
  bool gram_in_auto = true;       ///< float32 tall/wide economy may take the checked Gram route
  /// Auto also takes the refined Gram route for float64 and for square matrices past the
  /// Jacobi kernel. Off until timed against gesvdj on a device (bench/svd_gpu); forced
  /// `--algorithm gram` takes it either way.
  bool gram_for_large = false;
};

/// Aspect ratio p/q from which auto prefers the Gram route (such matrices are usually well
/// conditioned, and the route's QR of a p×q block is cheap next to an SVD of it).
constexpr int64_t kGramAutoAspect = 4;

/// The route for `shape` under opt.algorithm. kAuto: gesvdjBatched up to 32×32, our Jacobi
/// kernel where it fits, the Gram route for float32 economy shapes with p ≥ 4q (and for every
/// shape it fits with policy.gram_for_large), Xgesvd for
/// full non-square outputs, else per-matrix gesvdj (Xgesvd past gesvdj's int-sized API).
/// Xgesvdp (kPolar) is used only when forced, and its results are always checked.
/// A forced route that cannot take the shape gets the auto route and a sentence in `note`.
/// kCpu for empty matrices.
Route choose_route(const SvdShape& shape, DType dtype, const SvdOptions& opt,
                   const RoutePolicy& policy, std::string* note);

/// The exact route a matrix that failed on `r` is retried on (finally kCpu).
Route next_route(Route r);

}  // namespace tandem::cuda
