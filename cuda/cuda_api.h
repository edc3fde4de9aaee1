// SPDX-License-Identifier: Apache-2.0
#pragma once
// The plain C++ face of the cuda/ library: host/backend_registry.cc includes only this.

#include <memory>
#include <string>
#include <vector>

#include "backend_registry.h"
#include "svd/backend.h"

namespace tandem::cuda {

/// Visible devices (CUDA_VISIBLE_DEVICES respected). Never throws: with no driver or no device
/// it returns an empty list and says why in `why_none`.
std::vector<GpuInfo> list_devices(std::string* why_none);

/// "runtime 13.0, driver 13.0" (or what is missing).
std::string versions();

/// The CUDA SVD backend on the given device ordinals (all of `devices` must be usable).
/// `cpu_fallback` receives matrices no GPU route can take (too large, or failed every route).
std::shared_ptr<Backend> make_cuda_backend(const std::vector<int>& devices,
                                           std::shared_ptr<Backend> cpu_fallback);

}  // namespace tandem::cuda
