// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <type_traits>

#include "jacobi_batched.h"

namespace tandem::cuda {

namespace {

constexpr int kThreads = 256;  // 8 warps per matrix
constexpr int kGroup = 8;      // lanes that share one column pair
constexpr int kGroups = kThreads / kGroup;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxSweeps = 30;  // quadratic convergence: 6–10 sweeps are typical

template <typename T>
struct Limits;
template <>
struct Limits<float> {
  static constexpr int kMaxDim = 128;
  static __device__ float eps() { return FLT_EPSILON; }
  static __device__ float tiny() { return 100.0f * FLT_MIN; }
};
template <>
struct Limits<double> {
  static constexpr int kMaxDim = 96;
  static __device__ double eps() { return DBL_EPSILON; }
  static __device__ double tiny() { return 100.0 * DBL_MIN; }
};

// Shared-memory leading dimension of W: odd, so that the groups of a warp, each reading its own
// column, spread over the banks.
__host__ __device__ int padded(int p) { return p | 1; }

template <typename T>
std::size_t shared_bytes(int p, int q) {
  return sizeof(T) * (std::size_t(padded(p)) * q + std::size_t(q) * q + q + kWarps) +
         sizeof(int) * (q + 1);
}

// Sum over the kGroup lanes of a group; every lane of the warp must call it.
template <typename T>
__device__ T group_sum(T v) {
  for (int o = kGroup / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Round-robin tournament: in round r, position j holds column idx(j); pairs (k, qq−1−k) meet.
__device__ int tournament(int j, int r, int qq) { return j == 0 ? 0 : 1 + (j - 1 + r) % (qq - 1); }

// Squared column norms of W into nrm (one group per column).
template <typename T>
__device__ void column_norms(const T* W, int ld, int p, int q, T* nrm) {
  const int group = threadIdx.x / kGroup, lane = threadIdx.x % kGroup;
  for (int base = 0; base < q; base += kGroups) {
    const int j = base + group;
    T s = 0;
    if (j < q) {
      for (int i = lane; i < p; i += kGroup) s += W[i + j * ld] * W[i + j * ld];
    }
    s = group_sum(s);
    if (j < q && lane == 0) nrm[j] = s;
  }
}

// One round: every group rotates its disjoint column pair (a, b) of W and V so that they become
// orthogonal; returns through *rotated whether any pair was rotated.
template <typename T>
__device__ void jacobi_round(T* W, int ld, T* V, int p, int q, int r, T tol, T* nrm, int* rotated) {
  const int qq = q + (q & 1), group = threadIdx.x / kGroup, lane = threadIdx.x % kGroup;
  for (int base = 0; base < qq / 2; base += kGroups) {
    const int k = base + group;
    int a = 0, b = 0;
    bool active = k < qq / 2;
    if (active) {
      a = tournament(k, r, qq);
      b = tournament(qq - 1 - k, r, qq);
      active = a < q && b < q;
    }
    T g = 0, alpha = 0, beta = 0;
    if (active) {
      alpha = nrm[a];  // read before the shuffle below, which orders it before lane 0's write
      beta = nrm[b];
      for (int i = lane; i < p; i += kGroup) g += W[i + a * ld] * W[i + b * ld];
    }
    g = group_sum(g);
    if (!active || !(alpha > 0 && beta > 0)) continue;
    if (!(fabs(g) > tol * sqrt(alpha) * sqrt(beta))) continue;
    const T zeta = (beta - alpha) / (2 * g);
    // For a huge ζ (columns of very different norms) ζ² would overflow; √(1+ζ²) ≈ |ζ| there.
    const T root = fabs(zeta) < T(1e15) ? sqrt(1 + zeta * zeta) : fabs(zeta);
    const T t = (zeta >= 0 ? T(1) : T(-1)) / (fabs(zeta) + root);
    const T c = 1 / sqrt(1 + t * t), s = c * t;
    for (int i = lane; i < p; i += kGroup) {
      const T x = W[i + a * ld], y = W[i + b * ld];
      W[i + a * ld] = c * x - s * y;
      W[i + b * ld] = s * x + c * y;
    }
    for (int i = lane; i < q; i += kGroup) {
      const T x = V[i + a * q], y = V[i + b * q];
      V[i + a * q] = c * x - s * y;
      V[i + b * q] = s * x + c * y;
    }
    if (lane == 0) {
      nrm[a] = alpha - t * g;
      nrm[b] = beta + t * g;
      *rotated = 1;
    }
  }
}

// One block per matrix. W (p×q, ld p in global memory) is scaled by its largest entry, swept
// until no pair needs a rotation, then sorted by column norm into S, U = W/σ and V.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    jacobi_kernel(const T* w_in, T* s_out, T* u_out, T* v_out, int* info, int p, int q,
                  bool vectors) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int ld = padded(p);
  T* W = reinterpret_cast<T*>(smem);
  T* V = W + ld * q;
  T* nrm = V + q * q;
  T* red = nrm + q;  // one maximum per warp
  int* rank = reinterpret_cast<int*>(red + kWarps);
  int* flag = rank + q;  // rotated in this sweep
  const int64_t mat = blockIdx.x;
  const T* a = w_in + mat * int64_t(p) * q;

  // The largest |entry| keeps every squared norm clear of overflow and underflow.
  T amax = 0;
  for (int e = threadIdx.x; e < p * q; e += kThreads) amax = fmax(amax, fabs(a[e]));
  for (int o = 16; o > 0; o /= 2) amax = fmax(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = amax;
  __syncthreads();
  for (int w = 0; w < kThreads / 32; ++w) amax = fmax(amax, red[w]);
  const T scale = amax > 0 ? amax : T(1);
  for (int e = threadIdx.x; e < p * q; e += kThreads) W[(e % p) + (e / p) * ld] = a[e] / scale;
  for (int e = threadIdx.x; e < q * q; e += kThreads) V[e] = (e % q == e / q) ? T(1) : T(0);
  __syncthreads();

  const T tol = sqrt(T(p)) * Limits<T>::eps();
  const int qq = q + (q & 1);
  bool converged = false;
  for (int sweep = 0; sweep < kMaxSweeps && !converged; ++sweep) {
    column_norms(W, ld, p, q, nrm);
    if (threadIdx.x == 0) flag[0] = 0;
    __syncthreads();
    for (int r = 0; r < qq - 1; ++r) {
      jacobi_round(W, ld, V, p, q, r, tol, nrm, flag);
      __syncthreads();
    }
    converged = flag[0] == 0;
    __syncthreads();  // everyone has read flag[0] before the next sweep resets it
  }
  column_norms(W, ld, p, q, nrm);
  __syncthreads();

  // Descending order by a stable rank; ties keep column order.
  for (int j = threadIdx.x; j < q; j += kThreads) {
    int r = 0;
    for (int k = 0; k < q; ++k) r += nrm[k] > nrm[j] || (nrm[k] == nrm[j] && k < j);
    rank[j] = r;
  }
  __syncthreads();
  bool degenerate = false;
  for (int j = threadIdx.x; j < q; j += kThreads) {
    s_out[mat * q + rank[j]] = sqrt(nrm[j]) * scale;
    degenerate = degenerate || !(nrm[j] > Limits<T>::tiny());
  }
  // A zero column has no direction to normalise: the exact route completes U instead.
  const bool any_degenerate = __syncthreads_or(degenerate);
  if (threadIdx.x == 0) info[mat] = !converged ? 1 : (vectors && any_degenerate ? 2 : 0);
  if (!vectors) return;
  T* u = u_out + mat * int64_t(p) * q;
  T* v = v_out + mat * int64_t(q) * q;
  for (int e = threadIdx.x; e < p * q; e += kThreads) {
    const int i = e % p, j = e / p;
    const T n = sqrt(nrm[j]);
    u[i + int64_t(rank[j]) * p] = n > 0 ? W[i + j * ld] / n : T(0);
  }
  for (int e = threadIdx.x; e < q * q; e += kThreads) {
    const int i = e % q, j = e / q;
    v[i + int64_t(rank[j]) * q] = V[i + j * q];
  }
}

// Shared memory one block may opt in to on the current device (227 KiB on Hopper, less on
// older cards), capped at 200 KiB.
std::size_t shared_limit() {
  int device = 0, optin = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
          cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return std::size_t(48) << 10;
  }
  return std::min(std::size_t(optin), std::size_t(200) << 10);
}

}  // namespace

template <typename T>
bool jacobi_kernel_fits(int64_t p, int64_t q) {
  return p >= q && q >= 1 && p <= Limits<T>::kMaxDim &&
         shared_bytes<T>(int(p), int(q)) <= shared_limit();
}

template <typename T>
void jacobi_batched(const SolveArgs<T>& a, cudaStream_t stream) {
  if (!jacobi_kernel_fits<T>(a.p, a.q)) {
    throw SolverError("jacobi-batched: " + std::to_string(a.p) + "x" + std::to_string(a.q) +
                      " does not fit the kernel");
  }
  if (a.count <= 0) return;
  const int p = int(a.p), q = int(a.q);
  const std::size_t bytes = shared_bytes<T>(p, q);
  TANDEM_CUDA_TRY(cudaFuncSetAttribute(jacobi_kernel<T>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  jacobi_kernel<T>
      <<<a.count, kThreads, bytes, stream>>>(a.w, a.s, a.u, a.v, a.info, p, q, a.vectors);
  TANDEM_CUDA_TRY(cudaGetLastError());
}

template bool jacobi_kernel_fits<float>(int64_t, int64_t);
template bool jacobi_kernel_fits<double>(int64_t, int64_t);
template void jacobi_batched<float>(const SolveArgs<float>&, cudaStream_t);
template void jacobi_batched<double>(const SolveArgs<double>&, cudaStream_t);

}  // namespace tandem::cuda
