// SPDX-License-Identifier: Apache-2.0
#pragma once
// Helpers for the CLI end-to-end tests.

#include <string>

#include "test_command.h"

namespace tandem::testing {

/// A Python interpreter with numpy, or "" (then tests that need it skip with the reason).
inline std::string python_with_numpy() {
  std::string py = env_or_empty("TANDEM_PYTHON");
  if (py.empty()) py = "python3";
  return run_command(py + " -c 'import numpy'").exit_code == 0 ? py : "";
}

}  // namespace tandem::testing
