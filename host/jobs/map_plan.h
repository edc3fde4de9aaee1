// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/shard.h"
#include "jobs/pool.h"
#include "jobs/template.h"

namespace tandem::jobs {

/// Everything `tandem map` was asked, already parsed (durations in seconds, sizes in bytes).
struct MapOptions {
  /// COMMAND ARG... with placeholders.
  std::vector<std::string> command;
  /// Run through `sh -c`, every substitution quoted.
  bool shell = false;
  /// --subjects FILE ("-" = stdin); exclusive with subject_args.
  std::string subjects_file;
  /// --args a b c.
  std::vector<std::string> subject_args;
  /// -j; 0 = the cores this process may use, divided by threads_per_job.
  int jobs = 0;
  /// Threads each job may use (sets OMP/OPENBLAS/MKL/ITK thread variables); >= 1.
  int threads_per_job = 1;
  /// --timeout in seconds; 0 = none.
  double timeout = 0;
  /// --retries: extra attempts after a failure.
  int retries = 0;
  /// --retry-delay in seconds (doubled per retry).
  double retry_delay = 1;
  /// --grace: seconds between SIGTERM and SIGKILL.
  double grace = 5;
  /// --halt.
  HaltPolicy halt;
  /// --mem-per-job in bytes; 0 = no gating.
  std::uint64_t mem_per_job = 0;
  /// --joblog FILE (empty: none); "{shard}" in it becomes "K-of-N" (substitute_shard).
  std::string joblog;
  /// --shard K/N: run only the subjects of this shard (the i-th subject, from 0, is in shard
  /// i mod N + 1); nullopt runs every subject.
  std::optional<Shard> shard;
  /// --resume / --resume-failed: skip jobs whose command succeeded in the joblog.
  bool resume = false;
  /// --results DIR (empty: job output goes to a private temporary directory).
  std::string results_dir;
  /// --output TEMPLATE, repeatable.
  std::vector<std::string> outputs;
  /// --keep-failed: move a failed job's outputs to `<path>.failed` instead of removing them.
  bool keep_failed = false;
};

/// A validated run: the jobs to start and those already done. Building one runs nothing and
/// writes nothing, so --dry-run and every usage error come before any job starts.
struct MapPlan {
  /// Jobs to run, in subject order.
  std::vector<JobSpec> jobs;
  /// Rows of `jobs` in the subject list (for placeholder substitution).
  std::vector<std::size_t> rows;
  /// Subjects not run because they are done, outcome kSkipped with the reason in message.
  std::vector<JobResult> skipped;
  /// Every subject (rows index it).
  SubjectList subjects;
  /// The command to render per job.
  CommandTemplate command;
  /// Settings for the pool that runs `jobs`.
  PoolOptions pool;
  /// True when there is no --results: output is captured, failures logged to a temporary dir.
  bool temporary_logs = true;
  /// --results directory (empty: none).
  std::string results_dir;
  /// --joblog file (empty: none), "{shard}" already substituted.
  std::string joblog;
  /// The shard this plan runs (nullopt: every subject); `subjects` holds all of them.
  std::optional<Shard> shard;
};

/// Validates `options` and builds the plan; throws UsageError (bad placeholder, missing TSV
/// column, conflicting options, a subjects file that is missing, unreadable, a directory,
/// ragged or empty, two subjects that would run the same command) or InputError (a --resume
/// joblog that is not one).
MapPlan plan_map(const MapOptions& options);

/// The command lines a plan would run, one per job, for --dry-run.
std::vector<std::string> dry_run_commands(const MapPlan& plan);

/// Every subject's result, in subject order, and how the run ended.
struct MapResult {
  /// One per subject, skipped ones included, in subject order.
  std::vector<JobResult> results;
  /// Stopped by SIGINT/SIGTERM/SIGHUP.
  bool interrupted = false;
  /// Stopped by --halt.
  bool halted = false;
  /// Wall time of the run in seconds.
  double wall_seconds = 0;
  /// The temporary log directory when one was kept (some job failed), else empty.
  std::string kept_log_dir;
  /// The shard that ran (nullopt: every subject); `results` holds its subjects only.
  std::optional<Shard> shard;
  /// Subjects in the list, all shards together.
  std::size_t total_subjects = 0;
};

/// Runs the plan: creates the log directories, opens the joblog, runs the pool. Without
/// --results, output is captured in memory and only failed jobs' logs are written, to a
/// temporary directory that is kept (MapResult::kept_log_dir) only then.
MapResult run_map(MapPlan& plan, PoolObserver* observer);

/// Runs several plans at once (run_pools), each with its own observer (may be null), logs and
/// joblog; one result per plan, in order. `tandem run` runs its [smooth] and [jobs] halves so,
/// sharing one core budget, so that neither waits while the other leaves cores idle.
std::vector<MapResult> run_maps(const std::vector<MapPlan*>& plans,
                                const std::vector<PoolObserver*>& observers);

}  // namespace tandem::jobs
