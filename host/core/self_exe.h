// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>

namespace tandem {

/// This program's absolute path (/proc/self/exe): what [smooth] jobs and SLURM array tasks run,
/// and where the CUDA module is looked for. Throws Error when the kernel does not say.
std::string self_executable();

}  // namespace tandem
