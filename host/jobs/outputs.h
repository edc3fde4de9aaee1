// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

namespace tandem::jobs {

/// True when `paths` is non-empty and every path exists (file or directory).
bool all_outputs_exist(const std::vector<std::string>& paths);

/// The declared outputs that do not exist.
std::vector<std::string> missing_outputs(const std::vector<std::string>& paths);

/// Makes a failed job's outputs unmistakable for results: removes each existing path (a
/// directory with its contents), or with `keep` renames it to `<path>.failed` (replacing an older
/// one). Best effort; returns the paths it could not remove or move.
std::vector<std::string> discard_outputs(const std::vector<std::string>& paths, bool keep);

}  // namespace tandem::jobs
