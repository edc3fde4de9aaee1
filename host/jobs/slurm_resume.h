// SPDX-License-Identifier: Apache-2.0
#pragma once
// --resume after `tandem map --executor slurm`. A SLURM run appends its lines to --joblog only
// once all of its tasks have ended and something looks (the waiting tandem, or `tandem status`),
// so after --no-wait the joblog can lag behind. Each SLURM run with a joblog is therefore listed
// beside it, in JOBLOG.slurm-runs, and --resume first brings the joblog up to date from the runs
// listed there, as `tandem status` would.

#include <string>
#include <vector>

#include "jobs/slurm_files.h"

namespace tandem::jobs {

/// JOBLOG.slurm-runs: the run directories of the SLURM runs that append to `joblog`, one a line.
std::string slurm_runs_path(const std::string& joblog);

/// Adds `run` to its joblog's list (nothing without a joblog); throws Error naming the list.
void record_slurm_run(const SlurmRun& run);

/// What catch_up_slurm_joblog did.
struct JoblogCatchUp {
  /// Run directories whose lines it appended to the joblog.
  std::vector<std::string> appended;
  /// Listed run directories that no longer exist: their subjects' results are unknown.
  std::vector<std::string> missing;
};

/// For --resume with `joblog`: looks once (slurm_run_status) at each listed run whose lines are
/// not in the joblog yet, which appends them, then removes the list, since every run in it is
/// now in the joblog or gone. Throws UsageError, leaving the list, when a run still has tasks
/// pending or running; InputError for a damaged run directory.
JoblogCatchUp catch_up_slurm_joblog(const std::string& joblog);

}  // namespace tandem::jobs
