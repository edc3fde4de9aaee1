// SPDX-License-Identifier: Apache-2.0
#pragma once
// A batched one-sided Jacobi SVD of our own for small matrices (the design of KBLAS and MAGMA's
// gesvj_batched): one thread block per matrix, W and V held in shared memory, cyclic sweeps of
// column rotations until every pair is orthogonal to working precision.

#include <cstdint>

#include "solvers.h"

namespace tandem::cuda {

/// True when a p×q W (p ≥ q) of element type T fits the kernel's shared memory on the current
/// device.
template <typename T>
bool jacobi_kernel_fits(int64_t p, int64_t q);

/// Solves a.count matrices on `stream`: S descending, Uw = first q left singular vectors
/// (p×q, ld p, whatever a.econ says), V (q×q, ld q). info[i] = 0 converged, 1 not converged.
template <typename T>
void jacobi_batched(const SolveArgs<T>& a, cudaStream_t stream);

}  // namespace tandem::cuda
