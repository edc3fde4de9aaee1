// SPDX-License-Identifier: Apache-2.0
// Device kernels of the Gram route (declared in gram_route.h).
#include <algorithm>

#include "gram_route.h"
#include "handles.h"

namespace tandem::cuda::detail {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxGridY = 65535;

__global__ void widen_kernel(const float* src, double* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    dst[i] = double(src[i]);
  }
}

// One block per matrix: two sums of squares over the upper triangle, then S.
__global__ void check_kernel(const double* r_all, int q, const int* eigen_info, double tol,
                             float* s_all, int* info) {
  __shared__ double upper[kThreads], strict[kThreads];
  const int64_t mat = blockIdx.x;
  const double* r = r_all + mat * int64_t(q) * q;
  double a = 0, b = 0;
  for (int64_t e = threadIdx.x; e < int64_t(q) * q; e += kThreads) {
    const int64_t i = e % q, j = e / q;
    if (i > j) continue;
    const double v = r[e];
    a += v * v;
    if (i < j) b += v * v;
  }
  upper[threadIdx.x] = a;
  strict[threadIdx.x] = b;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      upper[threadIdx.x] += upper[threadIdx.x + half];
      strict[threadIdx.x] += strict[threadIdx.x + half];
    }
    __syncthreads();
  }
  float* s = s_all + mat * q;
  for (int j = threadIdx.x; j < q; j += kThreads) s[j] = float(fabs(r[j + int64_t(j) * q]));
  __syncthreads();
  if (threadIdx.x != 0) return;
  // Near-equal σ may come out of the QR in the wrong order by a rounding error; clamp.
  for (int j = 1; j < q; ++j) s[j] = fminf(s[j], s[j - 1]);
  const bool ok = strict[0] <= tol * tol * upper[0];  // false for NaN
  info[mat] = eigen_info[mat] != 0 ? kGramEigenFailed : (ok ? 0 : kGramCheckFailed);
}

// x covers the p·q entries of U then the q·q of V of matrix blockIdx.y.
__global__ void outputs_kernel(const double* qm, const double* r, const double* vd, int64_t p,
                               int64_t q, float* u, float* v) {
  const int64_t mat = blockIdx.y, pq = p * q, qq = q * q;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < pq + qq;
       e += int64_t(gridDim.x) * blockDim.x) {
    if (e < pq) {
      const int64_t j = e / p;
      const double sign = r[mat * qq + j + j * q] < 0 ? -1.0 : 1.0;
      u[mat * pq + e] = float(qm[mat * pq + e] * sign);
    } else {
      v[mat * qq + (e - pq)] = float(vd[mat * qq + (e - pq)]);
    }
  }
}

}  // namespace

void widen(const float* src, double* dst, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, 8192);
  widen_kernel<<<unsigned(blocks), kThreads, 0, stream>>>(src, dst, n);
  TANDEM_CUDA_TRY(cudaGetLastError());
}

void gram_check(const double* r, int64_t q, int count, const int* eigen_info, double tol, float* s,
                int* info, cudaStream_t stream) {
  if (count <= 0) return;
  check_kernel<<<count, kThreads, 0, stream>>>(r, int(q), eigen_info, tol, s, info);
  TANDEM_CUDA_TRY(cudaGetLastError());
}

void gram_outputs(const double* qm, const double* r, const double* vd, int64_t p, int64_t q,
                  int count, float* u, float* v, cudaStream_t stream) {
  const int64_t per = p * q + q * q;
  for (int first = 0; first < count; first += kMaxGridY) {
    const int n = std::min(kMaxGridY, count - first);
    const int64_t x = std::max<int64_t>(
        1, std::min<int64_t>((per + kThreads - 1) / kThreads, 8192 / std::max(1, n)));
    const int64_t off = int64_t(first);
    outputs_kernel<<<dim3(unsigned(x), unsigned(n)), kThreads, 0, stream>>>(
        qm + off * p * q, r + off * q * q, vd + off * q * q, p, q, u + off * p * q,
        v + off * q * q);
    TANDEM_CUDA_TRY(cudaGetLastError());
  }
}

}  // namespace tandem::cuda::detail
