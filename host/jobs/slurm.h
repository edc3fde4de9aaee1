// SPDX-License-Identifier: Apache-2.0
#pragma once
// `tandem map --executor slurm`: submit one job array (one task per subject), follow it through
// the tasks' status files and sacct, and turn it into the same MapResult as a local run. Also the
// array task's side (run_slurm_task), `tandem status` and `tandem cancel`. SLURM's commands are
// found on PATH and run with captured output; none is needed to build or to plan.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jobs/map_plan.h"
#include "jobs/pool.h"
#include "jobs/slurm_files.h"

namespace tandem::jobs {

/// What sbatch is asked for beyond the array itself.
struct SlurmSubmitOptions {
  /// -j: array tasks running at once (`--array=1-N%J`); 0 = no limit.
  int array_limit = 0;
  /// --mem-per-job in bytes (`--mem=<MiB>M`); 0 = SLURM's default.
  std::uint64_t mem_per_job = 0;
  /// --slurm-arg values, passed verbatim before the script.
  std::vector<std::string> extra_args;
};

/// Rejects map options that a SLURM run cannot honour (--halt: the tasks run independently);
/// throws UsageError.
void check_slurm_map_options(const MapOptions& options);

/// `tandem-map-YYYYmmdd-HHMMSS` (local time), the default --run-dir.
std::string default_run_dir();

/// Seconds between looks at a waited-for run: TANDEM_SLURM_POLL, default 10; UsageError when it
/// is not a positive number.
double slurm_poll_seconds();

/// The sbatch command line for `run` (program name first, script last).
std::vector<std::string> sbatch_argv(const SlurmRun& run, const SlurmSubmitOptions& options);

/// sbatch's --time in whole minutes for these pool settings: every attempt's timeout and grace,
/// the retry delays and a 5-minute margin; "" when there is no timeout.
std::string slurm_time_limit(const PoolOptions& pool);

/// SLURM's MaxArraySize: array task indices must be below it (SLURM's default is 1001).
struct SlurmArrayLimit {
  /// The value; 0 means job arrays are disabled.
  long max_array_size = 1001;
  /// False when scontrol did not answer and this is SLURM's default.
  bool from_scontrol = false;
};

/// MaxArraySize from `scontrol show config` output; nullopt when the text has no such line.
std::optional<long> parse_max_array_size(const std::string& scontrol_config);

/// Asks `scontrol show config` for MaxArraySize; SLURM's default when scontrol is missing,
/// fails or does not say.
SlurmArrayLimit slurm_array_limit();

/// Throws UsageError, naming the limit and --shard, when `tasks` array tasks (indices 1..tasks)
/// do not fit under `limit`.
void check_array_size(std::size_t tasks, const SlurmArrayLimit& limit);

/// Checks that sbatch is on PATH (UsageError otherwise) and that the tasks fit in one array
/// (check_array_size), writes the run directory, submits the array and records the job id (also
/// returned, and set in `run`). When sbatch fails, the run directory is removed again and Error
/// carries sbatch's stderr.
std::string submit_slurm_run(SlurmRun& run, const SlurmSubmitOptions& options);

/// Array task index -> SLURM state ("RUNNING", "OUT_OF_MEMORY", ...) from `sacct --parsable2
/// --noheader --format=JobID,State,ExitCode` or `squeue --format=%i|%T` output. A range of tasks
/// that never started (`123_[5-9%2]|CANCELLED by 0`, also `[1,3-5]`, `[1-9:2]`) gives each of its
/// tasks that state; lines of other jobs and of job steps (`123_4.batch`) are ignored.
std::map<int, std::string> parse_sacct(const std::string& text, const std::string& job_id);

/// What SLURM says about an array's tasks at one look.
struct SlurmStates {
  /// Array task index -> state, for the tasks SLURM listed.
  std::map<int, std::string> tasks;
  /// squeue answered without some tasks (or no longer knows the job): slurmctld has forgotten
  /// them, so they ended long ago. Never set from sacct, which may just be late.
  bool unlisted_ended = false;
  /// "sacct" or "squeue": which command answered.
  std::string source;
};

/// True for a state in which SLURM has ended the task (COMPLETED, FAILED, TIMEOUT, ...).
bool is_final_slurm_state(const std::string& state);

/// The result of a task that SLURM ended in `state` without its status file (the task never got
/// to write it: killed for memory or time, node failure, cancelled before it started); "" when
/// the state is unknown (squeue no longer lists the task). An out-of-memory failure where the
/// state is OUT_OF_MEMORY or slurmstepd's line in the task's SLURM output says it killed the task
/// for its memory (OverMemoryKill: SLURM 22.05 records FAILED, ExitCode 0:9).
JobResult slurm_ended_result(const SlurmRun& run, const SlurmTask& task, const std::string& state);

/// The result of a task whose status file exists but cannot be read (`why`: "PATH: reason"),
/// once SLURM has ended it in `state` ("" when SLURM does not list it): its job's result is
/// unknown, so it failed, and the message names the file.
JobResult slurm_unreadable_status_result(const SlurmRun& run, const SlurmTask& task,
                                         const std::string& state, const std::string& why);

/// Follows one run: reads new status files and the array's states from sacct or, where
/// accounting is off, squeue.
class SlurmMonitor {
 public:
  /// `settle`: seconds a SLURM-ended task without a status file must stay so (and be seen in two
  /// polls) before it is final, for status files that a shared filesystem shows late; 0 = at once.
  SlurmMonitor(const SlurmRun& run, double settle);

  /// One look; returns the tasks that became final in it.
  std::vector<JobResult> poll();

  /// Every task has a final result.
  bool finished() const { return done_ == results_.size(); }
  /// Every task has a final result or SLURM has ended it (its result waits for `settle`).
  bool all_ended() const { return done_ + ending_ == results_.size(); }
  /// Tasks with a final result, failed ones, and those sacct says are running.
  std::size_t done() const { return done_; }
  std::size_t failed() const { return failed_; }
  std::size_t running() const { return running_; }
  /// "sacct" or "squeue": which answered the last poll; "" when neither did (missing, failed,
  /// or the last poll needed no query).
  const std::string& states_from() const { return states_from_; }
  /// Per task (index - 1): its final result, if it has one.
  const std::vector<std::optional<JobResult>>& results() const { return results_; }
  /// Per task (index - 1): the node named in its status file, else "".
  const std::vector<std::string>& hostnames() const { return hosts_; }

 private:
  const SlurmRun& run_;
  double settle_;
  std::vector<std::optional<JobResult>> results_;
  std::vector<std::string> hosts_;
  std::vector<double> ended_since_;
  std::vector<int> ended_polls_;
  std::vector<double> signalled_since_;  // when a task's "cancelled" status was first held back
  std::vector<std::string> unreadable_;  // why a task's status file exists but cannot be read
  std::chrono::steady_clock::time_point begin_;
  std::size_t done_ = 0;
  std::size_t failed_ = 0;
  std::size_t running_ = 0;
  std::size_t ending_ = 0;
  std::string states_from_;
};

/// Appends the run's joblog lines (each task's attempts, Host = its node; a SLURM-ended task as
/// one failed line) to run.joblog, once per run directory (RUNDIR/joblog.appended); does nothing
/// without a joblog. Returns true when it appended.
bool append_slurm_joblog(const SlurmRun& run, const SlurmMonitor& monitor);

/// Waits for a submitted run, polling every `poll_seconds`: reports each task's end to
/// `observer` (job_finished, progress), appends the joblog when all are final, and returns the
/// plan's MapResult (skipped subjects included). On SIGINT/SIGTERM/SIGHUP it runs scancel,
/// marks the unfinished tasks interrupted and returns with `interrupted` set.
MapResult wait_slurm_run(const SlurmRun& run, const MapPlan& plan, PoolObserver* observer,
                         double poll_seconds);

/// `tandem status`: one look at a run.
struct SlurmRunStatus {
  /// Tasks in the run, with a final ok result, with a final failure, running (sacct), others.
  std::size_t total = 0, ok = 0, failed = 0, running = 0, waiting = 0;
  /// "sacct" or "squeue": which answered; "" when neither did.
  std::string states_from;
  /// The failed tasks' results (message, stderr log).
  std::vector<JobResult> failures;
  /// This look appended the joblog (the run had just become complete).
  bool joblog_appended = false;
};

/// Looks at `run` once (status files, sacct); appends the joblog when the run is complete.
SlurmRunStatus slurm_run_status(const SlurmRun& run);

/// Runs `scancel JOBID`; returns "" on success, else why it failed (scancel missing, its stderr).
std::string cancel_slurm_run(const SlurmRun& run);

/// The array task's side: runs task `index` of the run in `dir` through a one-slot Pool (same
/// timeout, retries, grace, outputs and thread variables as a local run), writes its status file
/// and returns true when the job succeeded. UsageError for an index outside the run.
bool run_slurm_task(const std::string& dir, int index);

namespace detail {
/// `s` without trailing spaces and line ends (sacct, squeue and sbatch output).
std::string trimmed(std::string s);
}  // namespace detail

}  // namespace tandem::jobs
