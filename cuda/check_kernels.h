// SPDX-License-Identifier: Apache-2.0
#pragma once
// Device kernels of the `--check` metrics (device_check.cc).

#include <cuda_runtime.h>

#include <cstdint>

namespace tandem::cuda::detail {

/// Norms check_norms writes per item: ‖A‖_F, ‖A‖_1, ‖R‖_F, ‖R‖_1, ‖GU−I‖_F, ‖GU−I‖_1,
/// ‖GV−I‖_F, ‖GV−I‖_1.
constexpr int kNormValues = 8;

/// dst[i] = double(src[i]) for i < n.
template <typename T>
void to_double(const T* src, double* dst, int64_t n, cudaStream_t stream);

/// Per item: w(i, j) = vt(i, j)·s[j] for i < rows, j < k; vt is rows×(≥k) column-major with
/// leading dimension `rows` and item stride `vt_stride`; w is rows×k, s holds k per item.
void scale_columns(const double* vt, int64_t vt_stride, const double* s, int64_t rows, int64_t k,
                   int count, double* w, cudaStream_t stream);

/// One block per item: the kNormValues norms of Aᵀ and R (rows×cols each, column-major), and of
/// GU − I (uc×uc) and GV − I (vr×vr).
void check_norms(const double* a, const double* r, int64_t rows, int64_t cols, const double* gu,
                 int64_t uc, const double* gv, int64_t vr, int count, double* norms,
                 cudaStream_t stream);

/// Per item: CheckMetrics' five values from its norms, as tandem::compute_check defines them
/// (numpy's shape m×n, machine epsilon `eps` of the task's type).
void check_ratios(const double* norms, int64_t m, int64_t n, double eps, int count, double* out,
                  cudaStream_t stream);

}  // namespace tandem::cuda::detail
