// SPDX-License-Identifier: Apache-2.0
#pragma once
// Small device kernels around the solvers: the NaN/Inf scan, strided copies that turn
// cuSOLVER's column-major outputs into numpy's row-major layout, and sign canonicalisation.
// All launch on `stream`.

#include <cuda_runtime.h>

#include <cstdint>

namespace tandem::cuda {

/// For each of `count` matrices of `elems` elements (stored back to back from `a`), sets
/// flags[i] = 1 when matrix i holds a NaN or Inf (flags[i] = 0 otherwise) and then overwrites
/// such a matrix with zeros, so that a batched solver never sees it.
template <typename T>
void scan_and_zero_nonfinite(T* a, int64_t elems, int count, int* flags, cudaStream_t stream);

/// Sets flags[i] = 1 when matrix i of `count` (`elems` each, back to back) holds a NaN or Inf;
/// leaves the other flags as they are (the caller clears them).
template <typename T>
void flag_nonfinite(const T* a, int64_t elems, int count, int* flags, cudaStream_t stream);

/// A strided 2-D view of `count` matrices: element (i, j) of matrix b is
/// ptr[b * batch_stride + i * row_stride + j * col_stride].
template <typename T>
struct View {
  T* ptr = nullptr;
  int64_t row_stride = 0;
  int64_t col_stride = 0;
  int64_t batch_stride = 0;
};

/// dst(i, j) = src(i, j) for i < rows, j < cols of each of `count` matrices.
template <typename T>
void copy_2d(View<const T> src, View<T> dst, int64_t rows, int64_t cols, int count,
             cudaStream_t stream);

/// sklearn's svd_flip on the device, exactly as host/svd/check.h's canonicalize_signs: in each
/// of `count` row-major pairs U (m×uc, stride u_stride) and Vh (vr×n, stride vh_stride), column
/// j of U is negated (and row j of Vh with it when j < k) when its first largest-magnitude
/// entry is negative; rows j ≥ k of Vh are each made positive the same way on their own.
template <typename T>
void canonicalize_signs_gpu(T* u, T* vh, int64_t m, int64_t uc, int64_t n, int64_t vr, int64_t k,
                            int64_t u_stride, int64_t vh_stride, int count, cudaStream_t stream);

}  // namespace tandem::cuda
