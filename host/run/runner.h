// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/shard.h"
#include "jobs/map_plan.h"
#include "run/plan.h"
#include "svd/scheduler.h"

namespace tandem::run {

struct RunSettings {
  int cores = 0;         ///< the core budget; 0 = the cores this process may use
  bool resume = false;   ///< resume both halves (complete SVD outputs, done jobs)
  std::string self_exe;  ///< the tandem binary, run once per subject for [smooth]
  /// The SVD backend to use instead of the one [svd]'s device picks (tests inject fakes).
  std::shared_ptr<Backend> svd_backend;
  /// --shard: only this part of each half's subjects and of [svd]'s input files.
  std::optional<Shard> shard;
};

/// How a run went, half by half.
struct RunOutcome {
  int cores = 0;
  bool has_svd = false;
  std::string svd_backend;
  std::string svd_note;  ///< why the GPU is not used, when it is not
  SvdRunStats svd;
  std::string svd_error;  ///< the SVD half could not run at all (its other items are lost)
  std::string svd_scope;  ///< under --shard: "shard K/N: X of Y input files"
  std::vector<std::string> job_names;  ///< "smooth", "jobs": one per job half that ran
  std::vector<jobs::MapResult> job_runs;
  double jobs_seconds = 0;
  double wall_seconds = 0;
  bool interrupted = false;
  bool any_failed() const;
};

/// The observer of a job half ("smooth", "jobs"), or null; `plan` holds the half's jobs to run
/// and the subjects it skips, and outlives the run.
using JobObserverFor =
    std::function<jobs::PoolObserver*(const std::string& half, const jobs::MapPlan& plan)>;

/// Runs a plan: the SVD half on its own thread (on the GPU when one is usable, else CPU workers
/// that each hold a core of the budget while they compute) and the subject jobs ([smooth] and
/// [jobs] together) on the calling thread, each job holding threads_per_job cores of the same
/// budget.
/// Every usage error (bad placeholder, unreadable subject list, `device = "gpu"` without a usable
/// GPU) is thrown before anything starts, naming the plan's key. Without `settings.resume` every
/// [smooth] subject is smoothed again; with it, those whose output exists are skipped. A failure in
/// one half never stops the other; SIGINT stops both.
RunOutcome run_plan(const Plan& plan, const RunSettings& settings, SvdObserver& svd_observer,
                    const JobObserverFor& job_observer);

/// The warning for a core budget (--cores) above the `usable` cores of this process
/// (available_cores()): the SVD workers and jobs would share fewer cores than they count on.
/// "" when `requested` is 0 (the default) or within them.
std::string cores_warning(int requested, int usable);

/// The MapOptions of a [jobs] table. Declared outputs already skip done subjects; `resume`
/// also skips those that succeeded in the table's joblog, when it names one.
jobs::MapOptions jobs_options(const JobsPlan& jobs, bool resume);
/// The built-in smoothing job of a [smooth] table, its output declared (run_plan decides whether
/// an existing one means done).
jobs::MapOptions smooth_options(const SmoothPlan& smooth, const std::string& self_exe);

}  // namespace tandem::run
