// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace tandem {
class CoreBudget;
}  // namespace tandem

namespace tandem::jobs {

class JobLog;

/// How one job ended. Every job ends with exactly one outcome.
enum class Outcome {
  kOk,             ///< exited 0 and every declared output exists
  kExit,           ///< exited with a non-zero status
  kSignal,         ///< killed by a signal it was not sent by tandem
  kTimeout,        ///< ran past --timeout; its process group was ended
  kOom,            ///< SIGKILLed while the kernel's OOM kill count rose
  kNotFound,       ///< the program does not exist (exec ENOENT, or a shell's exit 127)
  kMissingOutput,  ///< exited 0 without creating all of its declared outputs
  kInterrupted,    ///< ended by tandem on SIGINT/SIGTERM/SIGHUP or --halt now
  kSkipped,        ///< not run: already done (outputs exist, or succeeded in the joblog)
  kNotStarted,     ///< never started: the run was interrupted or halted first
};

/// The report's name for an outcome: "ok", "exit", "signal", "timeout", "oom", "not_found",
/// "missing_output", "interrupted", "skipped", "not_started".
const char* outcome_name(Outcome outcome);

/// True for every outcome except ok and skipped.
bool is_failure(Outcome outcome);

/// One job to run.
struct JobSpec {
  /// The subject, for messages and the report.
  std::string name;
  /// Job number from 1 ({#}, the joblog's Seq).
  std::size_t seq = 0;
  /// Declared output paths (already substituted); may be empty.
  std::vector<std::string> outputs;
  /// Files that receive the job's stdout and stderr; when empty, the output is captured in
  /// memory, handed to PoolObserver::job_output and, for failures, saved under
  /// PoolOptions::failure_log_dir.
  std::string stdout_path;
  /// As stdout_path, for stderr.
  std::string stderr_path;
};

/// A job's command for a given worker slot: the argv to execute and the line to log.
struct JobCommand {
  /// Program and arguments, as executed.
  std::vector<std::string> argv;
  /// The same as one shell-readable line (joblog, report).
  std::string display;
};

/// Builds a job's command once its slot is known ({%}).
using CommandFactory = std::function<JobCommand(const JobSpec& job, int slot)>;

/// What became of one job: the last attempt's status plus totals over all attempts.
struct JobResult {
  /// The subject.
  std::string name;
  /// Job number from 1.
  std::size_t seq = 0;
  /// The command line of the last attempt.
  std::string command;
  /// How the job ended (the last attempt's outcome).
  Outcome outcome = Outcome::kNotStarted;
  /// Attempts started (0 for skipped and not started jobs).
  int attempts = 0;
  /// Start of the first attempt, seconds since the Unix epoch (0 if never started).
  double start_time = 0;
  /// Wall time of all attempts together, in seconds.
  double duration = 0;
  /// Exit status of the last attempt, -1 when it was killed by a signal or never ran.
  int exit_code = -1;
  /// Signal that ended the last attempt, 0 if none.
  int signal = 0;
  /// Largest resident set size over the attempts (the job's process and the descendants it
  /// waited for), in bytes.
  long long peak_rss_bytes = 0;
  /// A human-readable reason for failures ("exit 3", "timeout after 30s", ...).
  std::string message;
  /// Declared outputs, copied from the JobSpec.
  std::vector<std::string> outputs;
  /// The job's log files: from the JobSpec, or where a failed job's captured output was saved
  /// (empty when it was not saved).
  std::string stdout_path;
  /// As stdout_path, for stderr.
  std::string stderr_path;
};

/// --halt: when to stop after failures.
enum class HaltMode { kNever, kSoon, kNow };

/// --halt never | soon,fail=K | now,fail=K.
struct HaltPolicy {
  HaltMode mode = HaltMode::kNever;
  /// Final failures that trigger the halt (K >= 1).
  int failures = 1;
};

/// Parses the --halt value; throws UsageError.
HaltPolicy parse_halt(const std::string& text);

/// Seconds to wait before retry number `retry` (0 for the first): `first_delay` doubled for each
/// further retry, at most 60 s.
double retry_delay_seconds(double first_delay, int retry);

/// Settings of one Pool run.
struct PoolOptions {
  /// Jobs running at once (>= 1).
  int slots = 1;
  /// Per-attempt wall-time limit in seconds; 0 = none.
  double timeout = 0;
  /// Extra attempts after a failure (not after not_found or an interruption).
  int retries = 0;
  /// Delay before the first retry in seconds; doubled for each further one, at most 60 s.
  double retry_delay = 1;
  /// Seconds between SIGTERM (or the forwarded signal) and SIGKILL when a group is ended.
  double grace = 5;
  /// When to stop after failures (--halt).
  HaltPolicy halt;
  /// Bytes each job needs; 0 disables memory gating.
  std::uint64_t mem_per_job = 0;
  /// Variables set for every job (e.g. OMP_NUM_THREADS).
  std::vector<std::pair<std::string, std::string>> env;
  /// Move failed outputs aside to `<path>.failed` instead of removing them.
  bool keep_failed = false;
  /// A core budget shared with other work in the process (`tandem run`); not owned. When set,
  /// a job starts only once it holds `cores_per_job` cores from it (in arrival order), and gives
  /// them back when its process ends. Null: only `slots` limits the jobs.
  CoreBudget* budget = nullptr;
  /// Cores a job takes from `budget` (its thread count); clamped to the budget's capacity.
  int cores_per_job = 1;
  /// Directory where captured output of failed attempts is saved as `<seq>.out` / `<seq>.err`
  /// (empty: not saved).
  std::string failure_log_dir;
  /// Make tandem a child subreaper so descendants that leave their group are still ended.
  bool subreaper = true;
};

/// Counts for a status line.
struct PoolProgress {
  /// Jobs in this run.
  std::size_t total = 0;
  /// Jobs with a final outcome.
  std::size_t done = 0;
  /// Of those, the failed ones.
  std::size_t failed = 0;
  /// Jobs running now.
  std::size_t running = 0;
  /// Seconds since the run started.
  double elapsed = 0;
};

/// Receives events; called on the thread that runs the pool. All methods are optional.
class PoolObserver {
 public:
  virtual ~PoolObserver() = default;
  /// An attempt started.
  virtual void job_started(const JobResult& /*job*/, int /*slot*/) {}
  /// An attempt failed and will be retried after `delay` seconds.
  virtual void job_retrying(const JobResult& /*job*/, double /*delay*/) {}
  /// A finished job's captured stdout and stderr (only jobs whose JobSpec names no files),
  /// called just before job_finished.
  virtual void job_output(const JobResult& /*job*/, const std::string& /*out*/,
                          const std::string& /*err*/) {}
  /// A job reached its final outcome (skipped jobs are not reported here).
  virtual void job_finished(const JobResult& /*job*/) {}
  /// Periodic progress (after events and about twice a second).
  virtual void progress(const PoolProgress& /*progress*/) {}
  /// The run is stopping: a signal arrived or --halt triggered; `reason` says which and what
  /// happens to the running jobs (how long the grace is, that Ctrl-C again kills them now).
  /// Called once more when a further interrupt kills them.
  virtual void stopping(const std::string& /*reason*/) {}
};

/// One job list of run_pools: its own options, joblog, commands and observer.
struct PoolTask {
  PoolOptions options;
  /// Receives one line per attempt (may be null); not owned.
  JobLog* joblog = nullptr;
  /// The jobs; not owned, must outlive the run.
  const std::vector<JobSpec>* jobs = nullptr;
  CommandFactory command;
  /// May be null.
  PoolObserver* observer = nullptr;
  /// Set by run_pools: one result per job, in the same order, and how the list ended.
  std::vector<JobResult> results;
  bool interrupted = false;
  bool halted = false;
};

/// Runs several job lists at once, each under its own options (a --halt or a timeout of one
/// never touches the others; a shared CoreBudget in their options is what divides the cores),
/// in one loop on the calling thread: only one place in a process can wait for its children.
/// Same guarantees as Pool::run for every list. Throws Error only when a joblog cannot be
/// written.
void run_pools(std::vector<PoolTask>& tasks);

/// Runs jobs as child processes, `slots` at a time, each in its own process group. Single
/// threaded: one loop launches, sleeps until a child exits (SIGCHLD) or a deadline, reaps with
/// wait4, and ends groups (timeout, interrupt, halt, leftovers of finished jobs) with the
/// signal, a grace period, then SIGKILL. While it runs, the pool reaps every child of the
/// process, so nothing else in the process may wait for children. It reads tandem's interrupt
/// flag (install_interrupt_handlers) and stops on it; one more SIGINT/SIGTERM/SIGHUP while it
/// waits out the grace (or during --halt now's) SIGKILLs every group at once.
class Pool {
 public:
  /// `joblog` (may be null) receives one line per attempt; not owned.
  Pool(PoolOptions options, JobLog* joblog);

  /// Runs `jobs`; returns one result per job, in the same order. Nothing is thrown for a job's
  /// own failure; Error only when the joblog cannot be written.
  std::vector<JobResult> run(const std::vector<JobSpec>& jobs, const CommandFactory& command,
                             PoolObserver* observer);

  /// True when the last run stopped on a signal.
  bool interrupted() const { return interrupted_; }
  /// True when the last run stopped because of --halt.
  bool halted() const { return halted_; }

 private:
  PoolOptions options_;
  JobLog* joblog_;
  bool interrupted_ = false;
  bool halted_ = false;
};

}  // namespace tandem::jobs
