// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <vector>

#include "svd/backend.h"
#include "svd/matrix_source.h"

namespace tandem {

/// Times the same work as the seed's plain Python loop: one matrix after another on the calling
/// thread with the BLAS left to its own threading (`blas_threads`), results discarded. Returns
/// seconds. Restores single-threaded BLAS afterwards. Sources that fail to open are skipped.
double time_serial_loop(const std::vector<SvdSource>& sources, const SvdOptions& opt,
                        int blas_threads);

}  // namespace tandem
