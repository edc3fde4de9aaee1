// SPDX-License-Identifier: Apache-2.0
#pragma once
// The benchmark drivers' command lines: "--key value" options and "--flag" switches.

#include <string>

#include "core/error.h"

namespace tandem::bench {

/// Calls on(key, value) for each argument; `value()` takes the next argument as the key's value
/// (UsageError when there is none). `on` returns false for a key it does not know.
template <typename On>
void for_each_option(int argc, char** argv, On on) {
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(key + " needs a value");
      return argv[++i];
    };
    if (!on(key, value)) throw UsageError("unknown argument " + key);
  }
}

}  // namespace tandem::bench
