// SPDX-License-Identifier: Apache-2.0
#pragma once
// Typed wrappers around the cuSOLVER SVD routines each route uses. Every solver works on W, a
// column-major p×q matrix with p ≥ q (the GpuWorker transposes wide inputs), and writes
// Uw (p×p, or p×q in economy mode, leading dimension p) and Vw in the form route_v_is_transposed()
// says: V (q×q, ld q) or Vᵀ (q×q, ld q).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "handles.h"

namespace tandem::cuda {

/// The GPU routes (kCpu: the CPU fallback backend).
enum class Route { kGesvdjBatched, kJacobiKernel, kGram, kPolar, kQr, kGesvdj, kCpu };

/// Name in ItemResult::route ("cusolver-gesvdp", ...).
std::string route_name(Route r);

/// True when the route solves a whole chunk in one call (else one matrix per call).
bool route_is_batched(Route r);

/// True when the route returns Vᵀ (Xgesvd) rather than V.
bool route_v_is_transposed(Route r);

/// The arguments of one solver call on `count` matrices stored back to back.
template <typename T>
struct SolveArgs {
  int64_t p = 0, q = 0;  ///< W is p×q column-major, p ≥ q, leading dimension p
  bool vectors = true;   ///< false: singular values only
  bool econ = false;     ///< Uw is p×q instead of p×p
  int count = 1;         ///< matrices (only batched routes take more than one)
  T* w = nullptr;        ///< input, destroyed; stride p·q
  T* s = nullptr;        ///< q values each, descending
  T* u = nullptr;        ///< Uw, stride p·(econ ? q : p)
  T* v = nullptr;        ///< Vw or Vwᵀ, stride q·q
  int* info = nullptr;   ///< one per matrix; 0 = converged
};

/// gesvdj's parameter object (tolerance, sweeps): library defaults (machine ε, 100 sweeps).
class JacobiParams {
 public:
  JacobiParams();
  ~JacobiParams();
  JacobiParams(const JacobiParams&) = delete;
  JacobiParams& operator=(const JacobiParams&) = delete;
  gesvdjInfo_t get() const { return p_; }

 private:
  gesvdjInfo_t p_ = nullptr;
};

/// Device and host scratch, grown on demand and reused across calls.
struct Workspace {
  DeviceBuffer<char> device;         ///< solver workspace, on the worker's stream
  std::vector<char> host;            ///< host scratch some 64-bit API routines ask for
  DeviceBuffer<char> scratch;        ///< the Gram route's float64 matrices
  std::unique_ptr<BlasHandle> blas;  ///< made by the Gram route or --check on first use
  /// Made by the first gesvdj call and reused: large matrices take gesvdj one at a time.
  std::unique_ptr<JacobiParams> jacobi;
  const JacobiParams& jacobi_params() {
    if (!jacobi) jacobi = std::make_unique<JacobiParams>();
    return *jacobi;
  }
};

/// Runs the route's cuSOLVER call on the handle's stream. Throws SolverError when cuSOLVER
/// rejects the call itself; per-matrix failures land in a.info.
template <typename T>
void route_solve(Route r, const SolverHandle& h, Workspace& ws, cudaStream_t stream,
                 const SolveArgs<T>& a);

}  // namespace tandem::cuda
