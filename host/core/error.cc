// SPDX-License-Identifier: Apache-2.0
#include "core/error.h"

#include <cstring>

namespace tandem {

namespace {
std::string join_input_message(const std::string& file, const std::string& item,
                               const std::string& reason) {
  std::string out = file;
  if (!item.empty()) out += ": " + item;
  return out + ": " + reason;
}
}  // namespace

InputError::InputError(std::string file, std::string item, std::string reason)
    : Error(join_input_message(file, item, reason)),
      file_(std::move(file)),
      item_(std::move(item)),
      reason_(std::move(reason)) {}

void throw_system_error(const std::string& what, const std::string& path, int err) {
  throw Error(what + ": " + path + ": " + std::strerror(err));
}

}  // namespace tandem
