// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

namespace tandem::jobs {

/// True when `paths` is non-empty and every path exists (file or directory).
bool all_outputs_exist(const std::vector<std::string>& paths);

/// The declared outputs that do not exist.
std::vector<std::string> missing_outputs(const std::vector<std::string>& paths);

/// Creates the missing parent directories of `paths` (relative ones from the working directory)
/// so that a job may write its declared outputs where it was told to, as tools like AFNI's
/// `-prefix` do not create them. Returns "" or, for the first that cannot be made, "cannot create
/// the directory DIR for the output PATH: reason".
std::string make_output_parents(const std::vector<std::string>& paths);

/// Makes a failed job's outputs unmistakable for results: removes each existing path (a
/// directory with its contents), or with `keep` renames it to `<path>.failed` (replacing an older
/// one). Best effort; returns the paths it could not remove or move.
std::vector<std::string> discard_outputs(const std::vector<std::string>& paths, bool keep);

}  // namespace tandem::jobs
