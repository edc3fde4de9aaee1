// SPDX-License-Identifier: Apache-2.0
#include <algorithm>

#include "handles.h"
#include "kernels.h"

namespace tandem::cuda {

namespace {

constexpr int kThreads = 256;

// Grid: x strides over elements, y is the matrix. Any thread that sees a non-finite value
// sets the flag; a benign race (all write 1).
template <typename T>
__global__ void scan_kernel(const T* a, int64_t elems, int* flags) {
  const T* m = a + static_cast<int64_t>(blockIdx.y) * elems;
  bool bad = false;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < elems;
       i += int64_t(gridDim.x) * blockDim.x) {
    bad = bad || !isfinite(m[i]);
  }
  if (__syncthreads_or(bad) && threadIdx.x == 0) flags[blockIdx.y] = 1;
}

template <typename T>
__global__ void zero_flagged_kernel(T* a, int64_t elems, const int* flags) {
  if (!flags[blockIdx.y]) return;
  T* m = a + static_cast<int64_t>(blockIdx.y) * elems;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < elems;
       i += int64_t(gridDim.x) * blockDim.x) {
    m[i] = T(0);
  }
}

// One y-block row per matrix; x covers rows*cols elements of that matrix, row-major order
// over the destination so row-major writes coalesce.
template <typename T>
__global__ void copy_2d_kernel(View<const T> src, View<T> dst, int64_t rows, int64_t cols) {
  const int64_t b = blockIdx.y;
  const int64_t total = rows * cols;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / cols, j = e % cols;
    dst.ptr[b * dst.batch_stride + i * dst.row_stride + j * dst.col_stride] =
        src.ptr[b * src.batch_stride + i * src.row_stride + j * src.col_stride];
  }
}

// One block per line (a column of U, or a row j >= k of Vh) of matrix blockIdx.y. The block
// finds the line's first entry of largest magnitude (the host's scan keeps the first of equal
// magnitudes and never picks a NaN; so does this reduction), and negates the line (and, for a
// column j < k of U, row j of Vh) when that entry is negative.
template <typename T>
__global__ void canonical_signs_kernel(T* u, T* vh, int64_t m, int64_t uc, int64_t n, int64_t k,
                                       int64_t u_stride, int64_t vh_stride) {
  __shared__ T best_value[kThreads];
  __shared__ int64_t best_index[kThreads];
  T* um = u + static_cast<int64_t>(blockIdx.y) * u_stride;
  T* vm = vh + static_cast<int64_t>(blockIdx.y) * vh_stride;
  const int64_t line = blockIdx.x;
  const bool of_u = line < uc;
  const int64_t j = of_u ? line : k + (line - uc);
  T* p = of_u ? um + j : vm + j * n;  // entry i at p[i * step]
  const int64_t len = of_u ? m : n, step = of_u ? uc : 1;
  // "a beats b": larger magnitude, or equal magnitude and earlier. A NaN beats nothing, and
  // nothing beats a NaN's slot unless it was empty (index len), which a NaN never fills.
  T v = T(0);
  int64_t at = len;
  for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
    const T c = p[i * step];
    if (fabs(c) > fabs(v) || (fabs(c) == fabs(v) && c != T(0) && i < at)) {
      v = c;
      at = i;
    }
  }
  best_value[threadIdx.x] = v;
  best_index[threadIdx.x] = at;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      const T c = best_value[threadIdx.x + half];
      const int64_t ci = best_index[threadIdx.x + half];
      const T b = best_value[threadIdx.x];
      if (fabs(c) > fabs(b) || (fabs(c) == fabs(b) && ci < best_index[threadIdx.x])) {
        best_value[threadIdx.x] = c;
        best_index[threadIdx.x] = ci;
      }
    }
    __syncthreads();
  }
  if (!(best_value[0] < T(0))) return;
  for (int64_t i = threadIdx.x; i < len; i += blockDim.x) p[i * step] = -p[i * step];
  if (of_u && j < k) {
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) vm[j * n + i] = -vm[j * n + i];
  }
}

// gridDim.y is limited to 65535, so launches go in slices of at most this many matrices.
constexpr int kMaxGridY = 65535;

// Enough x-blocks to cover one matrix, but about 8192 blocks in all for a large batch.
dim3 grid_for(int64_t elems, int count) {
  int64_t x = (elems + kThreads - 1) / kThreads;
  x = std::max<int64_t>(1, std::min<int64_t>(x, 8192 / std::max(1, count)));
  return dim3(static_cast<unsigned>(x), static_cast<unsigned>(count));
}

}  // namespace

template <typename T>
void scan_and_zero_nonfinite(T* a, int64_t elems, int count, int* flags, cudaStream_t stream) {
  if (count <= 0) return;
  TANDEM_CUDA_TRY(cudaMemsetAsync(flags, 0, sizeof(int) * count, stream));
  if (elems <= 0) return;
  for (int first = 0; first < count; first += kMaxGridY) {
    const int n = std::min(kMaxGridY, count - first);
    const dim3 grid = grid_for(elems, n);
    T* part = a + first * elems;
    scan_kernel<T><<<grid, kThreads, 0, stream>>>(part, elems, flags + first);
    TANDEM_CUDA_TRY(cudaGetLastError());
    zero_flagged_kernel<T><<<grid, kThreads, 0, stream>>>(part, elems, flags + first);
    TANDEM_CUDA_TRY(cudaGetLastError());
  }
}

template <typename T>
void flag_nonfinite(const T* a, int64_t elems, int count, int* flags, cudaStream_t stream) {
  if (count <= 0 || elems <= 0) return;
  for (int first = 0; first < count; first += kMaxGridY) {
    const int n = std::min(kMaxGridY, count - first);
    scan_kernel<T>
        <<<grid_for(elems, n), kThreads, 0, stream>>>(a + first * elems, elems, flags + first);
    TANDEM_CUDA_TRY(cudaGetLastError());
  }
}

template <typename T>
void copy_2d(View<const T> src, View<T> dst, int64_t rows, int64_t cols, int count,
             cudaStream_t stream) {
  if (count <= 0 || rows <= 0 || cols <= 0) return;
  for (int first = 0; first < count; first += kMaxGridY) {
    const int n = std::min(kMaxGridY, count - first);
    View<const T> s = src;
    View<T> d = dst;
    s.ptr += first * src.batch_stride;
    d.ptr += first * dst.batch_stride;
    copy_2d_kernel<T><<<grid_for(rows * cols, n), kThreads, 0, stream>>>(s, d, rows, cols);
    TANDEM_CUDA_TRY(cudaGetLastError());
  }
}

template <typename T>
void canonicalize_signs_gpu(T* u, T* vh, int64_t m, int64_t uc, int64_t n, int64_t vr, int64_t k,
                            int64_t u_stride, int64_t vh_stride, int count, cudaStream_t stream) {
  const int64_t lines = uc + std::max<int64_t>(0, vr - k);
  if (count <= 0 || lines <= 0) return;
  for (int first = 0; first < count; first += kMaxGridY) {
    const int nb = std::min(kMaxGridY, count - first);
    const dim3 grid(static_cast<unsigned>(lines), static_cast<unsigned>(nb));
    canonical_signs_kernel<T><<<grid, kThreads, 0, stream>>>(
        u + first * u_stride, vh + first * vh_stride, m, uc, n, k, u_stride, vh_stride);
    TANDEM_CUDA_TRY(cudaGetLastError());
  }
}

template void scan_and_zero_nonfinite<float>(float*, int64_t, int, int*, cudaStream_t);
template void scan_and_zero_nonfinite<double>(double*, int64_t, int, int*, cudaStream_t);
template void flag_nonfinite<float>(const float*, int64_t, int, int*, cudaStream_t);
template void flag_nonfinite<double>(const double*, int64_t, int, int*, cudaStream_t);
template void copy_2d<float>(View<const float>, View<float>, int64_t, int64_t, int, cudaStream_t);
template void copy_2d<double>(View<const double>, View<double>, int64_t, int64_t, int,
                              cudaStream_t);

template void canonicalize_signs_gpu<float>(float*, float*, int64_t, int64_t, int64_t, int64_t,
                                            int64_t, int64_t, int64_t, int, cudaStream_t);
template void canonicalize_signs_gpu<double>(double*, double*, int64_t, int64_t, int64_t, int64_t,
                                             int64_t, int64_t, int64_t, int, cudaStream_t);

}  // namespace tandem::cuda
