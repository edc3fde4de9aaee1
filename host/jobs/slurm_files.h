// SPDX-License-Identifier: Apache-2.0
#pragma once
// The run directory of `tandem map --executor slurm`: what tandem writes before it submits (the
// task file, array.sh), what each array task writes when it ends (status/INDEX.json), and how
// those files are read back. No process is started here.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jobs/map_plan.h"
#include "jobs/pool.h"

namespace tandem::jobs {

/// One array task: one subject's job, rendered before submission.
struct SlurmTask {
  /// Array index, from 1.
  int index = 0;
  /// The subject.
  std::string name;
  /// The subject's job number ({#}, the joblog's Seq).
  std::size_t seq = 0;
  /// The argv to execute ({%} rendered as 1).
  std::vector<std::string> argv;
  /// The same as one line (joblog, report).
  std::string command;
  /// Declared outputs.
  std::vector<std::string> outputs;
  /// Files receiving the job's stdout and stderr (absolute, or relative to `workdir`).
  std::string stdout_path;
  /// As stdout_path, for stderr.
  std::string stderr_path;
};

/// Everything in the task file (RUNDIR/tasks.json) plus the job id once submitted.
struct SlurmRun {
  /// The run directory, absolute.
  std::string dir;
  /// The directory tandem was started in; every task runs there.
  std::string workdir;
  /// The tandem binary the tasks run (absolute; must be reachable on the compute nodes).
  std::string tandem;
  /// Settings each task's one-slot pool runs with (slots, budget and memory gate unused).
  PoolOptions pool;
  /// --joblog (absolute) or empty; appended once every task is final.
  std::string joblog;
  /// --threads-per-job, for --cpus-per-task.
  int threads_per_job = 1;
  /// The tasks, index i + 1 at position i.
  std::vector<SlurmTask> tasks;
  /// The SLURM job id; empty until submitted (RUNDIR/job_id).
  std::string job_id;
};

/// Builds the run of `plan` in `dir` (made absolute); log paths default to
/// RUNDIR/logs/SEQ.{out,err} when the plan has no --results. Writes nothing.
SlurmRun make_slurm_run(const MapPlan& plan, const std::string& dir, const std::string& tandem,
                        int threads_per_job);

/// Creates the run directory (UsageError when it exists and is not empty) with logs/, slurm/,
/// status/, tasks.json and array.sh; throws Error naming the path on I/O failure.
void write_run_dir(const SlurmRun& run);

/// The array script: cd to the working directory, exec `tandem slurm-task RUNDIR $INDEX`.
std::string array_script(const SlurmRun& run);

/// Reads RUNDIR/tasks.json and RUNDIR/job_id (when present); InputError when the directory is
/// not a tandem SLURM run.
SlurmRun load_slurm_run(const std::string& dir);

/// Records the job id in RUNDIR/job_id (atomically).
void write_job_id(const SlurmRun& run, const std::string& job_id);

/// RUNDIR/status/INDEX.json.
std::string status_path(const SlurmRun& run, int index);

/// What an array task writes when its job ends: the JobResult plus the node's name.
struct TaskStatus {
  JobResult result;
  /// The node the task ran on.
  std::string hostname;
};

/// Writes a task's status file atomically.
void write_task_status(const SlurmRun& run, int index, const TaskStatus& status);

/// Reads a task's status file; nullopt when it does not exist (yet) or is unreadable. For an
/// unreadable one (empty, not valid JSON, a field missing, no permission) `unreadable`, when
/// given, is set to "PATH: why"; it is cleared otherwise.
std::optional<TaskStatus> read_task_status(const SlurmRun& run, int index,
                                           std::string* unreadable = nullptr);

/// RUNDIR/joblogs/INDEX: the joblog the task's own pool writes, one line per attempt.
std::string task_joblog_path(const SlurmRun& run, int index);

/// The outcome name's Outcome ("ok" -> kOk ...); kNotStarted for an unknown name.
Outcome outcome_from_name(const std::string& name);

}  // namespace tandem::jobs
