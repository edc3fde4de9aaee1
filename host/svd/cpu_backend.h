// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

#include "svd/backend.h"

namespace tandem {

/// LAPACK on the host: gesdd per matrix, gesvd where gesdd does not converge. Each caller
/// thread decomposes one matrix at a time with the BLAS pinned to one thread, so `threads`
/// workers keep exactly `threads` cores busy. Thread-safe for up to `threads` callers; each
/// caller keeps its own workspace, sized once and grown only for a larger matrix.
class CpuBackend : public Backend {
 public:
  /// `threads` ≤ 0 means available_cores().
  explicit CpuBackend(int threads);
  std::string name() const override;
  BackendTraits traits() const override;
  std::vector<ItemResult> svd(const std::vector<SvdTask>& batch, const SvdOptions& opt) override;

  /// One matrix, for other backends' fallbacks and tests.
  ItemResult svd_one(const SvdTask& task, const SvdOptions& opt);
  int threads() const { return threads_; }

 private:
  int threads_;
};

/// "contains NaN or Inf (first at row i, column j)" when the m×n row-major matrix has a
/// non-finite entry, else empty. Shared by every backend's pre-check.
std::string find_non_finite(DType dtype, const void* a, int64_t m, int64_t n);

}  // namespace tandem
