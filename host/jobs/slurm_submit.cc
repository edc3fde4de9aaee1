// SPDX-License-Identifier: Apache-2.0
// Submitting a `tandem map --executor slurm` run: the run directory's name, sbatch's command
// line and time limit, the cluster's job-array limit, and the submission itself.
#include <algorithm>
#include <boost/filesystem.hpp>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "core/error.h"
#include "jobs/process_posix.h"
#include "jobs/slurm.h"
#include "jobs/slurm_files.h"

namespace tandem::jobs {

using detail::trimmed;

namespace {

// Beyond the jobs' own limits: sbatch's --time also covers tandem's start and the output checks.
constexpr double kTimeMarginSeconds = 300;

}  // namespace

std::string default_run_dir() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char name[64];
  std::strftime(name, sizeof name, "tandem-map-%Y%m%d-%H%M%S", &tm);
  return name;
}

double slurm_poll_seconds() {
  const char* text = std::getenv("TANDEM_SLURM_POLL");
  if (text == nullptr || *text == '\0') return 10;
  try {
    std::size_t used = 0;
    double v = std::stod(text, &used);
    if (used == std::strlen(text) && v > 0 && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw UsageError(std::string("TANDEM_SLURM_POLL: '") + text +
                   "' is not a positive number of seconds");
}

std::string slurm_time_limit(const PoolOptions& pool) {
  if (pool.timeout <= 0) return "";
  double seconds = (pool.timeout + pool.grace) * (pool.retries + 1) + kTimeMarginSeconds;
  for (int k = 0; k < pool.retries; ++k) {
    seconds += retry_delay_seconds(pool.retry_delay, k);
  }
  return std::to_string(static_cast<long long>(std::ceil(seconds / 60)));
}

std::vector<std::string> sbatch_argv(const SlurmRun& run, const SlurmSubmitOptions& o) {
  std::string array = "--array=1-" + std::to_string(run.tasks.size());
  if (o.array_limit > 0) array += "%" + std::to_string(o.array_limit);
  std::vector<std::string> argv = {"sbatch",
                                   "--parsable",
                                   array,
                                   "--job-name=tandem-map",
                                   "--output=" + run.dir + "/slurm/%A_%a.out",
                                   "--cpus-per-task=" + std::to_string(run.threads_per_job)};
  if (o.mem_per_job > 0) {
    const std::uint64_t mib = (o.mem_per_job + (1u << 20) - 1) >> 20;
    argv.push_back("--mem=" + std::to_string(mib) + "M");
  }
  std::string time = slurm_time_limit(run.pool);
  if (!time.empty()) argv.push_back("--time=" + time);
  argv.insert(argv.end(), o.extra_args.begin(), o.extra_args.end());
  argv.push_back(run.dir + "/array.sh");
  return argv;
}

std::optional<long> parse_max_array_size(const std::string& text) {
  std::size_t at = text.find("MaxArraySize");
  while (at != std::string::npos && at > 0 && text[at - 1] != '\n') {
    at = text.find("MaxArraySize", at + 1);
  }
  if (at == std::string::npos) return std::nullopt;
  long value = 0;
  int used = 0;
  const std::string line = text.substr(at, text.find('\n', at) - at);
  if (std::sscanf(line.c_str(), "MaxArraySize = %ld%n", &value, &used) != 1 || value < 0)
    return std::nullopt;
  return value;
}

SlurmArrayLimit slurm_array_limit() {
  SlurmArrayLimit limit;
  if (resolve_executable("scontrol").empty()) return limit;
  CapturedRun r = run_captured({"scontrol", "show", "config"});
  if (!r.started || r.exit_code != 0) return limit;
  if (auto value = parse_max_array_size(r.out)) {
    limit.max_array_size = *value;
    limit.from_scontrol = true;
  }
  return limit;
}

void check_array_size(std::size_t tasks, const SlurmArrayLimit& limit) {
  // Indices run from 1, and SLURM takes only those below MaxArraySize.
  const std::size_t most = limit.max_array_size > 1 ? limit.max_array_size - 1 : 0;
  if (tasks <= most) return;
  const std::string where = limit.from_scontrol
                                ? " (scontrol show config)"
                                : " (SLURM's default: scontrol show config did not answer)";
  const std::string size = "MaxArraySize is " + std::to_string(limit.max_array_size) + where;
  if (most == 0) {
    throw UsageError("--executor slurm: this cluster runs no job arrays: " + size);
  }
  const std::size_t shards = (tasks + most - 1) / most;
  throw UsageError("--executor slurm: " + std::to_string(tasks) +
                   " subjects to submit, but one job array holds at most " + std::to_string(most) +
                   " tasks here: " + size + "; submit them in parts with --shard K/" +
                   std::to_string(shards) + " (K = 1.." + std::to_string(shards) +
                   ", one tandem map each)");
}

std::string submit_slurm_run(SlurmRun& run, const SlurmSubmitOptions& options) {
  if (resolve_executable("sbatch").empty()) {
    throw UsageError("--executor slurm: sbatch not found on PATH; is SLURM installed here?");
  }
  TANDEM_EXPECTS(!run.tasks.empty(), "a SLURM run needs at least one task");
  check_array_size(run.tasks.size(), slurm_array_limit());
  write_run_dir(run);
  CapturedRun r = run_captured(sbatch_argv(run, options));
  // `--parsable` prints "JOBID" or "JOBID;CLUSTER".
  std::string id = trimmed(r.out.substr(0, r.out.find_first_of(";\n")));
  bool numeric = !id.empty() && std::all_of(id.begin(), id.end(), ::isdigit);
  if (!r.started || r.exit_code != 0 || !numeric) {
    boost::system::error_code ec;
    boost::filesystem::remove_all(run.dir, ec);
    std::string why = trimmed(r.err.empty() ? r.out : r.err);
    throw Error("sbatch failed" +
                (r.started ? " (exit " + std::to_string(r.exit_code) + ")" : std::string()) +
                (why.empty() ? std::string() : ": " + why));
  }
  write_job_id(run, id);
  run.job_id = id;
  return id;
}

}  // namespace tandem::jobs
