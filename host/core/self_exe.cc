// SPDX-License-Identifier: Apache-2.0
#include "core/self_exe.h"

#include <limits.h>
#include <unistd.h>

#include "core/error.h"

namespace tandem {

std::string self_executable() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw Error("cannot find the tandem binary (/proc/self/exe)");
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace tandem
