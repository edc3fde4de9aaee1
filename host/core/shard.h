// SPDX-License-Identifier: Apache-2.0
#pragma once
// `--shard K/N` for job arrays (SLURM's --array): which part of the work this process does.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace tandem {

/// Part `index` of `count` of the work (1 <= index <= count). Work unit i (0-based, in input
/// order) belongs to part i mod count + 1: round-robin, so the parts stay balanced when the
/// units are sorted by size, and the N parts together hold every unit exactly once.
struct Shard {
  /// K, from 1.
  int index = 1;
  /// N, at least 1 (1/1 is all of the work).
  int count = 1;
};

/// Looks up an environment variable: its value, or nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The process environment (getenv).
std::optional<std::string> process_env(const std::string& name);

/// Parses a --shard value: "K/N" with 1 <= K <= N, or "slurm", which takes the task of a
/// contiguous job array from `env`: K = SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN + 1 and
/// N = SLURM_ARRAY_TASK_COUNT (or SLURM_ARRAY_TASK_MAX - SLURM_ARRAY_TASK_MIN + 1 without it).
/// Throws UsageError naming --shard and the reason: a malformed value, K out of range, a
/// variable that is missing or not a number, or an array whose variables disagree.
Shard parse_shard(const std::string& text, const EnvLookup& env = process_env);

/// Whether work unit `index` (0-based, in input order) belongs to `shard`.
bool in_shard(std::size_t index, const Shard& shard);

/// "K/N", for messages.
std::string shard_label(const Shard& shard);

/// `path` with each literal "{shard}" replaced by "K-of-N" (e.g. jobs-{shard}.log ->
/// jobs-2-of-8.log), so that every task of an array writes its own file.
std::string substitute_shard(const std::string& path, const Shard& shard);

}  // namespace tandem
