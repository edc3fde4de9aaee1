// SPDX-License-Identifier: Apache-2.0
// Device kernels of the `--check` metrics (declared in check_kernels.h).
#include <algorithm>

#include "check_kernels.h"
#include "device_check.h"
#include "handles.h"

namespace tandem::cuda::detail {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 8192;

template <typename T>
__global__ void to_double_kernel(const T* src, double* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    dst[i] = double(src[i]);
  }
}

__global__ void scale_kernel(const double* vt, int64_t vt_stride, const double* s, int64_t rows,
                             int64_t k, int count, double* w) {
  const int64_t per = rows * k, n = per * count;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t item = e / per, f = e % per, j = f / rows, i = f % rows;
    w[e] = vt[item * vt_stride + j * rows + i] * s[item * k + j];
  }
}

// ‖X − δ·I‖_F and ‖X − δ·I‖_1 of a rows×cols column-major matrix, reduced over the block.
__device__ void block_norms(const double* x, int64_t rows, int64_t cols, double identity,
                            double* fro, double* one) {
  __shared__ double sq[kThreads], mx[kThreads];
  double s2 = 0, best = 0;
  for (int64_t j = threadIdx.x; j < cols; j += kThreads) {
    double col = 0;
    for (int64_t i = 0; i < rows; ++i) {
      const double v = x[i + j * rows] - (i == j ? identity : 0.0);
      s2 += v * v;
      col += fabs(v);
    }
    best = fmax(best, col);
  }
  sq[threadIdx.x] = s2;
  mx[threadIdx.x] = best;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      sq[threadIdx.x] += sq[threadIdx.x + half];
      mx[threadIdx.x] = fmax(mx[threadIdx.x], mx[threadIdx.x + half]);
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    *fro = sqrt(sq[0]);
    *one = mx[0];
  }
  __syncthreads();
}

__global__ void norms_kernel(const double* a, const double* r, int64_t rows, int64_t cols,
                             const double* gu, int64_t uc, const double* gv, int64_t vr,
                             double* norms) {
  const int64_t item = blockIdx.x;
  double* out = norms + item * kNormValues;
  block_norms(a + item * rows * cols, rows, cols, 0.0, &out[0], &out[1]);
  block_norms(r + item * rows * cols, rows, cols, 0.0, &out[2], &out[3]);
  block_norms(gu + item * uc * uc, uc, uc, 1.0, &out[4], &out[5]);
  block_norms(gv + item * vr * vr, vr, vr, 1.0, &out[6], &out[7]);
}

__global__ void ratios_kernel(const double* norms, int64_t m, int64_t n, double eps, int count,
                              double* out) {
  const int64_t item = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (item >= count) return;
  const double* v = norms + item * kNormValues;
  double* o = out + item * kCheckValues;
  const double big = double(m > n ? m : n);
  const double a_fro = v[0], a_one = v[1], r_fro = v[2], r_one = v[3];
  o[0] = a_fro > 0 ? r_fro / a_fro : r_fro;
  o[1] = v[4];
  o[2] = v[6];
  o[3] = a_one > 0 ? r_one / (a_one * big * eps) : r_one / (big * eps);
  o[4] = fmax(v[5] / (double(m) * eps), v[7] / (double(n) * eps));
}

unsigned blocks(int64_t n) {
  return unsigned(
      std::max<int64_t>(1, std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks)));
}

}  // namespace

template <typename T>
void to_double(const T* src, double* dst, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  to_double_kernel<T><<<blocks(n), kThreads, 0, stream>>>(src, dst, n);
  TANDEM_CUDA_TRY(cudaGetLastError());
}

void scale_columns(const double* vt, int64_t vt_stride, const double* s, int64_t rows, int64_t k,
                   int count, double* w, cudaStream_t stream) {
  const int64_t n = rows * k * count;
  if (n <= 0) return;
  scale_kernel<<<blocks(n), kThreads, 0, stream>>>(vt, vt_stride, s, rows, k, count, w);
  TANDEM_CUDA_TRY(cudaGetLastError());
}

void check_norms(const double* a, const double* r, int64_t rows, int64_t cols, const double* gu,
                 int64_t uc, const double* gv, int64_t vr, int count, double* norms,
                 cudaStream_t stream) {
  if (count <= 0) return;
  norms_kernel<<<count, kThreads, 0, stream>>>(a, r, rows, cols, gu, uc, gv, vr, norms);
  TANDEM_CUDA_TRY(cudaGetLastError());
}

void check_ratios(const double* norms, int64_t m, int64_t n, double eps, int count, double* out,
                  cudaStream_t stream) {
  if (count <= 0) return;
  ratios_kernel<<<(count + kThreads - 1) / kThreads, kThreads, 0, stream>>>(norms, m, n, eps, count,
                                                                            out);
  TANDEM_CUDA_TRY(cudaGetLastError());
}

template void to_double<float>(const float*, double*, int64_t, cudaStream_t);
template void to_double<double>(const double*, double*, int64_t, cudaStream_t);

}  // namespace tandem::cuda::detail
