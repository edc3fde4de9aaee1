// SPDX-License-Identifier: Apache-2.0
// Device kernels of the Gram route (declared in gram_route.h). The per-entry arithmetic of the
// refinement lives in svd/gram_refine.h, shared with the CPU reference the tests run.
#include <algorithm>

#include "gram_route.h"
#include "handles.h"
#include "svd/gram_refine.h"

namespace tandem::cuda::detail {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxGridY = 65535;
constexpr int64_t kMaxBlocks = 8192;

// Blocks for n elements spread over `count` matrices on grid y.
unsigned blocks_for(int64_t n, int count) {
  return unsigned(std::max<int64_t>(
      1, std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks / std::max(1, count))));
}

// Launches kernel(first, n) over matrices [first, first + n) in slices of kMaxGridY.
template <typename Launch>
void over_matrices(int count, Launch launch) {
  for (int first = 0; first < count; first += kMaxGridY) {
    launch(first, std::min(kMaxGridY, count - first));
    TANDEM_CUDA_TRY(cudaGetLastError());
  }
}

__global__ void widen_kernel(const float* src, double* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    dst[i] = double(src[i]);
  }
}

__global__ void add_kernel(double* y, const double* x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    y[i] += x[i];
  }
}

// x over the q·q entries of matrix first + blockIdx.y.
__global__ void identity_kernel(double* c, int64_t q) {
  const int64_t qq = q * q;
  double* m = c + blockIdx.y * qq;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < qq;
       e += int64_t(gridDim.x) * blockDim.x) {
    m[e] = e % (q + 1) == 0 ? 1.0 : 0.0;
  }
}

// One thread per matrix.
__global__ void qr_start_kernel(const double* lambda, const int* eigen_info, int64_t q, int count,
                                int* flags) {
  const int64_t mat = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (mat >= count) return;
  const double* l = lambda + mat * q;
  flags[mat] = eigen_info[mat] == 0 && gram::needs_qr_start(l[0], l[q - 1]) ? 1 : 0;
}

// One block per column blockIdx.x of matrix blockIdx.y.
__global__ void normalize_kernel(double* u_all, const int* flags, int64_t p, int64_t q) {
  __shared__ double part[kThreads];
  const int64_t mat = blockIdx.y;
  if (flags[mat]) return;
  double* col = u_all + mat * p * q + int64_t(blockIdx.x) * p;
  double ss = 0;
  for (int64_t i = threadIdx.x; i < p; i += kThreads) ss += col[i] * col[i];
  part[threadIdx.x] = ss;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) part[threadIdx.x] += part[threadIdx.x + half];
    __syncthreads();
  }
  const double scale = gram::column_scale(part[0]);
  for (int64_t i = threadIdx.x; i < p; i += kThreads) col[i] *= scale;
}

__global__ void signs_kernel(const double* t, double* signs, int64_t q) {
  const int64_t mat = blockIdx.y;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < q;
       j += int64_t(gridDim.x) * blockDim.x) {
    signs[mat * q + j] = gram::column_sign(t[mat * q * q + j * (q + 1)]);
  }
}

// x covers U's p·q entries then T's q·q: U's column j and T's row i take sign j and sign i.
__global__ void apply_signs_kernel(double* u, double* t, const double* signs, int64_t p,
                                   int64_t q) {
  const int64_t mat = blockIdx.y, pq = p * q, qq = q * q;
  const double* sg = signs + mat * q;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < pq + qq;
       e += int64_t(gridDim.x) * blockDim.x) {
    if (e < pq) {
      u[mat * pq + e] *= sg[e / p];
    } else {
      t[mat * qq + (e - pq)] *= sg[(e - pq) % q];
    }
  }
}

// One block per matrix.
__global__ void assess_kernel(const double* r_all, const double* s_all, const double* t_all,
                              int64_t q, double tol, double* sigma_all, double* gap, int* converged,
                              int* unconverged) {
  __shared__ gram::Measures part[kThreads];
  const int64_t mat = blockIdx.x, qq = q * q;
  const double* r = r_all + mat * qq;
  const double* s = s_all + mat * qq;
  const double* t = t_all + mat * qq;
  double* sigma = sigma_all + mat * q;
  gram::Measures m{};
  for (int64_t i = threadIdx.x; i < q; i += kThreads) {
    const int64_t d = i * (q + 1);
    sigma[i] = gram::refined_sigma(t[d], r[d], s[d]);
    m.sigma_max = fmax(m.sigma_max, fabs(sigma[i]));
  }
  for (int64_t e = threadIdx.x; e < qq; e += kThreads) m.add(e % q, e / q, r[e], s[e], t[e]);
  part[threadIdx.x] = m;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) part[threadIdx.x].merge(part[threadIdx.x + half]);
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  const bool ok = gram::converged(part[0], tol);
  converged[mat] = ok ? 1 : 0;
  gap[mat] = gram::cluster_gap(part[0]);
  if (!ok) atomicAdd(unconverged, 1);
}

// F into r and G into s for matrix blockIdx.y.
__global__ void corrections_kernel(double* r_all, double* s_all, const double* t_all,
                                   const double* sigma_all, const double* gap, const int* converged,
                                   int64_t q) {
  const int64_t mat = blockIdx.y, qq = q * q;
  double* r = r_all + mat * qq;
  double* s = s_all + mat * qq;
  const double* t = t_all + mat * qq;
  const double* sigma = sigma_all + mat * q;
  const bool done = converged[mat] != 0;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < qq;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e % q, j = e / q;
    double f = 0, g = 0;
    if (done) {
      // A converged matrix stays as it is: U + U·0 is U exactly.
    } else if (i == j) {
      gram::diagonal_correction(r[e], s[e], &f, &g);
    } else {
      gram::pair_correction(sigma[i], sigma[j], t[e], t[i * q + j], r[e], s[e], gap[mat], &f, &g);
    }
    r[e] = f;
    s[e] = g;
  }
}

// One thread per matrix.
template <typename T>
__global__ void finish_kernel(const double* sigma_all, const int* converged, const int* eigen_info,
                              int64_t q, int count, double tol, T* s_all, int* info) {
  const int64_t mat = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (mat >= count) return;
  const double* sigma = sigma_all + mat * q;
  T* s = s_all + mat * q;
  double top = 0;
  for (int64_t i = 0; i < q; ++i) top = fmax(top, fabs(sigma[i]));
  // σ̃ of a converged matrix are right to within tol·σ_max; a larger disorder or a negative
  // value means the eigenvector order was wrong, which the measures cannot see.
  const double slack = tol * top;
  bool ordered = true;
  double prev = top;
  for (int64_t i = 0; i < q; ++i) {
    const double x = sigma[i];
    if (x < -slack || x > prev + slack) ordered = false;
    prev = fmin(prev, fmax(x, 0.0));
    s[i] = T(prev);
  }
  info[mat] =
      eigen_info[mat] != 0 ? kGramEigenFailed : (converged[mat] && ordered ? 0 : kGramCheckFailed);
}

template <typename T>
__global__ void outputs_kernel(const double* u, const double* v, int64_t p, int64_t q, T* u_out,
                               T* v_out) {
  const int64_t mat = blockIdx.y, pq = p * q, qq = q * q;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < pq + qq;
       e += int64_t(gridDim.x) * blockDim.x) {
    if (e < pq) {
      u_out[mat * pq + e] = T(u[mat * pq + e]);
    } else {
      v_out[mat * qq + (e - pq)] = T(v[mat * qq + (e - pq)]);
    }
  }
}

}  // namespace

void widen(const float* src, double* dst, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  widen_kernel<<<blocks_for(n, 1), kThreads, 0, stream>>>(src, dst, n);
  TANDEM_CUDA_TRY(cudaGetLastError());
}

void add_in_place(double* y, const double* x, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  add_kernel<<<blocks_for(n, 1), kThreads, 0, stream>>>(y, x, n);
  TANDEM_CUDA_TRY(cudaGetLastError());
}

void set_identity(double* c, int64_t q, int count, cudaStream_t stream) {
  over_matrices(count, [&](int first, int n) {
    identity_kernel<<<dim3(blocks_for(q * q, n), unsigned(n)), kThreads, 0, stream>>>(
        c + int64_t(first) * q * q, q);
  });
}

void gram_qr_start_flags(const double* lambda, const int* eigen_info, int64_t q, int count,
                         int* flags, cudaStream_t stream) {
  if (count <= 0) return;
  qr_start_kernel<<<(count + kThreads - 1) / kThreads, kThreads, 0, stream>>>(lambda, eigen_info, q,
                                                                              count, flags);
  TANDEM_CUDA_TRY(cudaGetLastError());
}

void gram_normalize_columns(double* u, const int* flags, int64_t p, int64_t q, int count,
                            cudaStream_t stream) {
  over_matrices(count, [&](int first, int n) {
    const int64_t off = first;
    normalize_kernel<<<dim3(unsigned(q), unsigned(n)), kThreads, 0, stream>>>(u + off * p * q,
                                                                              flags + off, p, q);
  });
}

void gram_sign_fix(double* u, double* t, double* signs, int64_t p, int64_t q, int count,
                   cudaStream_t stream) {
  over_matrices(count, [&](int first, int n) {
    const int64_t off = first;
    signs_kernel<<<dim3(blocks_for(q, n), unsigned(n)), kThreads, 0, stream>>>(t + off * q * q,
                                                                               signs + off * q, q);
  });
  over_matrices(count, [&](int first, int n) {
    const int64_t off = first;
    apply_signs_kernel<<<dim3(blocks_for(p * q + q * q, n), unsigned(n)), kThreads, 0, stream>>>(
        u + off * p * q, t + off * q * q, signs + off * q, p, q);
  });
}

void gram_assess(const double* r, const double* s, const double* t, int64_t q, int count,
                 double tol, double* sigma, double* gap, int* converged, int* unconverged,
                 cudaStream_t stream) {
  if (count <= 0) return;
  assess_kernel<<<count, kThreads, 0, stream>>>(r, s, t, q, tol, sigma, gap, converged,
                                                unconverged);
  TANDEM_CUDA_TRY(cudaGetLastError());
}

void gram_corrections(double* r, double* s, const double* t, const double* sigma, const double* gap,
                      const int* converged, int64_t q, int count, cudaStream_t stream) {
  over_matrices(count, [&](int first, int n) {
    const int64_t off = first;
    corrections_kernel<<<dim3(blocks_for(q * q, n), unsigned(n)), kThreads, 0, stream>>>(
        r + off * q * q, s + off * q * q, t + off * q * q, sigma + off * q, gap + off,
        converged + off, q);
  });
}

template <typename T>
void gram_finish(const double* sigma, const int* converged, const int* eigen_info, int64_t q,
                 int count, double tol, T* s, int* info, cudaStream_t stream) {
  if (count <= 0) return;
  const int blocks = (count + kThreads - 1) / kThreads;
  finish_kernel<T>
      <<<blocks, kThreads, 0, stream>>>(sigma, converged, eigen_info, q, count, tol, s, info);
  TANDEM_CUDA_TRY(cudaGetLastError());
}

template <typename T>
void gram_outputs(const double* u, const double* v, int64_t p, int64_t q, int count, T* u_out,
                  T* v_out, cudaStream_t stream) {
  over_matrices(count, [&](int first, int n) {
    const int64_t off = first;
    outputs_kernel<T><<<dim3(blocks_for(p * q + q * q, n), unsigned(n)), kThreads, 0, stream>>>(
        u + off * p * q, v + off * q * q, p, q, u_out + off * p * q, v_out + off * q * q);
  });
}

template void gram_finish<float>(const double*, const int*, const int*, int64_t, int, double,
                                 float*, int*, cudaStream_t);
template void gram_finish<double>(const double*, const int*, const int*, int64_t, int, double,
                                  double*, int*, cudaStream_t);
template void gram_outputs<float>(const double*, const double*, int64_t, int64_t, int, float*,
                                  float*, cudaStream_t);
template void gram_outputs<double>(const double*, const double*, int64_t, int64_t, int, double*,
                                   double*, cudaStream_t);

}  // namespace tandem::cuda::detail
