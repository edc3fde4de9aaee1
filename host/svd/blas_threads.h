// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

namespace tandem {

/// Makes every BLAS/LAPACK call run single-threaded (OpenBLAS, BLIS or MKL, whichever is
/// linked), whatever OPENBLAS_NUM_THREADS/OMP_NUM_THREADS say: tandem runs one matrix per worker
/// thread, and a threaded BLAS inside each worker would oversubscribe the cores.
void pin_blas_single_thread();

/// Lets the BLAS use `threads` threads again (for a serial-loop baseline).
void set_blas_threads(int threads);

/// The BLAS in use and its thread setting, e.g. "OpenBLAS 0.3.21 (Haswell, 1 thread)".
std::string blas_description();

}  // namespace tandem
