// SPDX-License-Identifier: Apache-2.0
#include "core/shard.h"

#include <cstdlib>

#include "core/error.h"

namespace tandem {

namespace {

// Larger counts are surely typos; the bound also keeps every sum below int overflow.
constexpr long long kMaxShardNumber = 1000000000;

[[noreturn]] void fail(const std::string& reason) { throw UsageError("--shard: " + reason); }

// A whole number of at most ten digits, or nullopt (signs, spaces and empty text included).
std::optional<long long> whole_number(const std::string& text) {
  if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  long long v = std::stoll(text);
  return v <= kMaxShardNumber ? std::optional<long long>(v) : std::nullopt;
}

Shard parse_fraction(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) fail("'" + text + "' is not K/N (e.g. 2/8) or slurm");
  auto k = whole_number(text.substr(0, slash));
  auto n = whole_number(text.substr(slash + 1));
  if (!k || !n) fail("'" + text + "': K and N in K/N must be whole numbers (e.g. 2/8)");
  if (*n < 1) fail("'" + text + "': N must be at least 1");
  if (*k < 1 || *k > *n) {
    fail("'" + text + "': K must be from 1 to N (" + std::to_string(*n) + ")");
  }
  return {static_cast<int>(*k), static_cast<int>(*n)};
}

class SlurmEnv {
 public:
  explicit SlurmEnv(const EnvLookup& env) : env_(env) {}

  std::optional<long long> optional(const std::string& name) const {
    auto value = env_(name);
    if (!value) return std::nullopt;
    auto v = whole_number(*value);
    if (!v) fail("slurm: " + name + "='" + *value + "' is not a whole number");
    return v;
  }

  long long required(const std::string& name) const {
    auto v = optional(name);
    if (!v) {
      fail("slurm: " + name +
           " is not set; run inside a SLURM job array (sbatch --array=1-N) or give --shard K/N");
    }
    return *v;
  }

 private:
  const EnvLookup& env_;
};

Shard parse_slurm(const EnvLookup& env) {
  SlurmEnv slurm(env);
  long long id = slurm.required("SLURM_ARRAY_TASK_ID");
  long long min = slurm.required("SLURM_ARRAY_TASK_MIN");
  auto count = slurm.optional("SLURM_ARRAY_TASK_COUNT");
  auto max = slurm.optional("SLURM_ARRAY_TASK_MAX");
  if (!count && !max) {
    fail("slurm: neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX is set");
  }
  if (max && *max < min) fail("slurm: SLURM_ARRAY_TASK_MAX is below SLURM_ARRAY_TASK_MIN");
  // --array=1,3,9 or 1-9:2 number their tasks with gaps: task IDs are then not shard numbers.
  if (count && max && *count != *max - min + 1) {
    fail("slurm: the array is not one contiguous range (SLURM_ARRAY_TASK_MIN=" +
         std::to_string(min) + ", _MAX=" + std::to_string(*max) +
         ", _COUNT=" + std::to_string(*count) + "); use --array=A-B or --shard K/N");
  }
  long long n = count ? *count : *max - min + 1;
  if (n < 1) fail("slurm: SLURM_ARRAY_TASK_COUNT must be at least 1");
  if (id < min || id - min + 1 > n) {
    fail("slurm: SLURM_ARRAY_TASK_ID=" + std::to_string(id) + " is outside the array's range " +
         std::to_string(min) + "-" + std::to_string(min + n - 1));
  }
  return {static_cast<int>(id - min + 1), static_cast<int>(n)};
}

}  // namespace

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? std::optional<std::string>(v) : std::nullopt;
}

Shard parse_shard(const std::string& text, const EnvLookup& env) {
  return text == "slurm" ? parse_slurm(env) : parse_fraction(text);
}

bool in_shard(std::size_t index, const Shard& shard) {
  return index % static_cast<std::size_t>(shard.count) + 1 == static_cast<std::size_t>(shard.index);
}

std::string shard_label(const Shard& shard) {
  return std::to_string(shard.index) + "/" + std::to_string(shard.count);
}

std::string substitute_shard(const std::string& path, const Shard& shard) {
  static const std::string kKey = "{shard}";
  const std::string value = std::to_string(shard.index) + "-of-" + std::to_string(shard.count);
  std::string out;
  std::size_t start = 0;
  for (auto at = path.find(kKey); at != std::string::npos; at = path.find(kKey, start)) {
    out += path.substr(start, at - start) + value;
    start = at + kKey.size();
  }
  return out + path.substr(start);
}

}  // namespace tandem
