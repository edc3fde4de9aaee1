// SPDX-License-Identifier: Apache-2.0
// `tandem map`: its flags and exit code. The printing is in map_output.h (shared with `tandem
// run`); the pool, templates, joblog and report live in host/jobs.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "core/self_exe.h"
#include "core/shard.h"
#include "jobs/map_plan.h"
#include "jobs/report.h"
#include "jobs/resources.h"
#include "jobs/slurm.h"
#include "jobs/slurm_resume.h"
#include "jobs/units.h"
#include "map_output.h"

namespace tandem::cli {

namespace {

struct MapArgs {
  jobs::MapOptions options;
  std::string timeout, retry_delay = "1", grace = "5", halt = "never", mem_per_job, report, shard;
  bool shard_given = false;
  bool resume_failed = false;
  bool dry_run = false;
  bool quiet = false;
  std::string executor = "local";
  std::string run_dir;
  bool no_wait = false;
  std::vector<std::string> slurm_args;
};

jobs::MapOptions parsed_options(MapArgs& a) {
  jobs::MapOptions o = a.options;
  if (!a.timeout.empty()) o.timeout = jobs::parse_duration(a.timeout, "--timeout");
  o.retry_delay = jobs::parse_duration(a.retry_delay, "--retry-delay");
  o.grace = jobs::parse_duration(a.grace, "--grace");
  o.halt = jobs::parse_halt(a.halt);
  if (!a.mem_per_job.empty()) o.mem_per_job = jobs::parse_bytes(a.mem_per_job, "--mem-per-job");
  o.resume = o.resume || a.resume_failed;
  if (a.shard_given) o.shard = parse_shard(a.shard);
  return o;
}

// --report, claimed before anything runs (null without one).
std::unique_ptr<jobs::MapReportFile> claim_report(const MapArgs& a, const jobs::MapPlan& plan) {
  if (a.report.empty()) return nullptr;
  return std::make_unique<jobs::MapReportFile>(
      substitute_shard(a.report, plan.shard.value_or(Shard{})));
}

// The summary, then the report: a report that cannot be written after all (disk full) must not
// take the summary with it; the exit code then says that something failed.
int finish_map(ProgressLine& line, const jobs::MapResult& result, jobs::MapReportFile* report) {
  const int code = jobs::map_exit_code(result);
  // -q keeps the summary line (its help promises it), as svd -q and run -q do.
  print_map_summary(line, "map", result, false);
  if (report == nullptr) return code;
  try {
    report->write(result, code);
  } catch (const Error& e) {
    std::fprintf(stderr, "tandem: error: %s\n", e.what());
    return code == kExitOk ? kExitItemFailed : code;
  }
  return code;
}

// --executor slurm: submit one array, then (unless --no-wait) follow it like a local run.
int run_slurm_map(MapArgs& a, const jobs::MapOptions& options, const jobs::MapPlan& plan) {
  ProgressLine line(stderr, !a.quiet);
  auto report = claim_report(a, plan);
  if (plan.jobs.empty()) {
    jobs::MapResult result;
    result.results = plan.skipped;
    result.shard = plan.shard;
    result.total_subjects = plan.subjects.rows.size();
    return finish_map(line, result, report.get());
  }
  const double poll = jobs::slurm_poll_seconds();
  jobs::SlurmRun run =
      jobs::make_slurm_run(plan, a.run_dir.empty() ? jobs::default_run_dir() : a.run_dir,
                           self_executable(), options.threads_per_job);
  jobs::SlurmSubmitOptions submit{options.jobs, options.mem_per_job, a.slurm_args};
  install_interrupt_handlers();
  std::string job_id = jobs::submit_slurm_run(run, submit);
  try {
    jobs::record_slurm_run(run);
  } catch (const Error& e) {
    line.failure(std::string("tandem: warning: ") + e.what() + "; run `tandem status " + run.dir +
                 "` before --resume, so that its joblog lines are there");
  }
  const std::string tasks =
      std::to_string(run.tasks.size()) + (run.tasks.size() == 1 ? " array task" : " array tasks");
  std::string skipped = plan.skipped.empty() ? ""
                                             : " (" + std::to_string(plan.skipped.size()) +
                                                   " subjects already done are skipped)";
  if (a.no_wait) {
    std::printf("%s\t%s\n", run.dir.c_str(), job_id.c_str());
    if (!a.quiet) {
      std::fprintf(stderr,
                   "map: submitted SLURM job %s, %s%s; run dir %s\n"
                   "  follow it with `tandem status %s`, stop it with `tandem cancel %s`\n",
                   job_id.c_str(), tasks.c_str(), skipped.c_str(), run.dir.c_str(), run.dir.c_str(),
                   run.dir.c_str());
    }
    return kExitOk;
  }
  if (!a.quiet) {
    line.event("map: submitted SLURM job " + job_id + ", " + tasks + skipped + "; run dir " +
               run.dir);
  }
  MapPrinter printer(line, run.tasks.size());
  jobs::MapResult result = jobs::wait_slurm_run(run, plan, &printer, poll);
  int code = finish_map(line, result, report.get());
  if (result.interrupted) {
    std::fprintf(stderr,
                 "tandem: interrupted: SLURM job %s cancelled; `tandem status %s` shows what "
                 "finished, and --resume with the same --joblog or --output runs the rest\n",
                 job_id.c_str(), run.dir.c_str());
  }
  return code;
}

// --resume: the lines of the SLURM runs that append to `joblog` first (UsageError while one
// still runs).
void catch_up_joblog(const std::string& joblog, bool quiet) {
  const jobs::JoblogCatchUp caught = jobs::catch_up_slurm_joblog(joblog);
  for (const auto& dir : caught.missing) {
    std::fprintf(stderr,
                 "tandem: warning: --resume: the SLURM run dir %s listed in %s is gone; its "
                 "subjects that %s does not record run again\n",
                 dir.c_str(), jobs::slurm_runs_path(joblog).c_str(), joblog.c_str());
  }
  if (quiet) return;
  for (const auto& dir : caught.appended) {
    std::fprintf(stderr, "map: --resume: appended the ended SLURM run %s to %s first\n",
                 dir.c_str(), joblog.c_str());
  }
}

int run_map_command(MapArgs& a) {
  jobs::MapOptions options = parsed_options(a);
  const bool slurm = a.executor == "slurm";
  if (!slurm && (!a.run_dir.empty() || a.no_wait || !a.slurm_args.empty())) {
    throw UsageError("--run-dir, --no-wait and --slurm-arg need --executor slurm");
  }
  if (slurm) jobs::check_slurm_map_options(options);
  if (slurm && a.no_wait && !a.report.empty()) {
    throw UsageError("--report needs tandem to wait for the run; drop --no-wait or --report");
  }
  // Before the plan reads the joblog: an earlier SLURM run may not have appended its lines yet.
  if (options.resume && !options.joblog.empty()) {
    catch_up_joblog(substitute_shard(options.joblog, options.shard.value_or(Shard{})), a.quiet);
  }
  jobs::MapPlan plan = jobs::plan_map(options);
  if (slurm && !a.dry_run) return run_slurm_map(a, options, plan);
  if (a.dry_run) {
    for (const auto& c : jobs::dry_run_commands(plan)) std::printf("%s\n", c.c_str());
    return kExitOk;
  }
  auto report = claim_report(a, plan);
  install_interrupt_handlers();
  ProgressLine line(stderr, !a.quiet);
  if (auto warning = jobs::mem_per_job_warning(options.mem_per_job, jobs::memory_total());
      !warning.empty()) {
    line.event("tandem: warning: " + warning);
  }
  MapPrinter printer(line, plan.jobs.size());
  if (!a.quiet && !plan.skipped.empty()) {
    line.event("map: skipping " + std::to_string(plan.skipped.size()) +
               " subjects already done; running " + std::to_string(plan.jobs.size()) + " on " +
               std::to_string(plan.pool.slots) + " slots");
  }
  jobs::MapResult result = jobs::run_map(plan, &printer);
  return finish_map(line, result, report.get());
}

std::function<int()> setup_map(CLI::App& sub) {
  auto a = std::make_shared<MapArgs>();
  auto& o = a->options;
  sub.add_option("-j,--jobs", o.jobs,
                 "Jobs at once; 0 or none given: the usable cores / --threads-per-job");
  sub.add_option("--subjects", o.subjects_file,
                 "Subjects file: one per line (# comments), or a TSV with a header whose "
                 "columns become {name} placeholders; - reads stdin");
  sub.add_option("--args", o.subject_args, "Subjects on the command line (end with --)");
  sub.add_flag("--shell", o.shell, "Run the command through sh -c, substitutions quoted");
  sub.add_option("--timeout", a->timeout,
                 "Per-job time limit: 90, 90s, 30m, 2h; 0 or none given: no limit");
  sub.add_option("--grace", a->grace,
                 "Time between SIGTERM and SIGKILL when ending a job (default 5s); after "
                 "Ctrl-C, a second Ctrl-C kills at once");
  sub.add_option("--retries", o.retries, "Retry a failed job up to N more times");
  sub.add_option("--retry-delay", a->retry_delay,
                 "First retry delay, doubled per retry (default 1s)");
  sub.add_option("--halt", a->halt, "never | soon,fail=K | now,fail=K");
  sub.add_option("--joblog", o.joblog,
                 "Append GNU parallel's joblog to FILE ({shard} in FILE becomes K-of-N, "
                 "1-of-1 without --shard)");
  sub.add_flag("--resume", o.resume, "Skip jobs that succeeded in --joblog; rerun the rest");
  sub.add_flag("--resume-failed", a->resume_failed, "Same as --resume (GNU parallel's name)");
  sub.add_option("--results", o.results_dir, "Keep each job's stdout/stderr in DIR/<subject>/");
  sub.add_option("--output", o.outputs,
                 "A job's declared output path (repeatable); its parent directories are "
                 "created before the job starts")
      ->allow_extra_args(false);
  sub.add_flag("--keep-failed", o.keep_failed, "Move a failed job's outputs to <path>.failed");
  sub.add_option("--threads-per-job", o.threads_per_job, "Threads each job may use (default 1)");
  sub.add_option("--mem-per-job", a->mem_per_job,
                 "Start a job only while this much memory is free (512M, 4G); one job may "
                 "always start when none runs");
  sub.add_option("--report", a->report,
                 "Write a JSON report, one record per subject ({shard} becomes K-of-N, 1-of-1 "
                 "without --shard); checked before any job starts");
  CLI::Option* shard = sub.add_option(
      "--shard", a->shard,
      "K/N or slurm: run only shard K of N, the subjects i (from 0, in input order) "
      "with i mod N = K-1; slurm takes K and N from SLURM_ARRAY_TASK_ID/_MIN/_COUNT");
  sub.add_option("--executor", a->executor,
                 "local (default) or slurm: submit one SLURM job array, a task per subject, "
                 "and wait for it")
      ->check(CLI::IsMember({"local", "slurm"}));
  sub.add_option("--run-dir", a->run_dir,
                 "slurm: new directory for the task file, logs and status files (default "
                 "tandem-map-YYYYmmdd-HHMMSS); the tasks run this same tandem binary, so it "
                 "and the run dir must be on a filesystem the compute nodes share");
  sub.add_flag("--no-wait", a->no_wait,
               "slurm: submit, print the run dir and job id, and exit (then tandem status / "
               "tandem cancel RUNDIR)");
  sub.add_option("--slurm-arg", a->slurm_args,
                 "slurm: one sbatch argument, verbatim (repeatable): --slurm-arg=--partition=gpu")
      ->allow_extra_args(false);
  sub.add_flag("--dry-run", a->dry_run, "Print the commands and exit");
  sub.add_flag("-q,--quiet", a->quiet, "Print only failures and the summary");
  sub.add_option("command", o.command,
                 "COMMAND ARG... after --, with {} placeholders; with none, the subject is "
                 "appended as the last argument");
  sub.prefix_command();
  sub.footer(
      "The command follows `--`: tandem map [OPTIONS] -- COMMAND ARG... ({} = subject; a "
      "command without placeholders gets the subject as its last argument, as in GNU "
      "parallel)\n"
      "A subjects file that is missing, empty or ragged, and two subjects that would run the "
      "same command, are refused before anything runs (exit 2). On Ctrl-C the running jobs get "
      "--grace to end; a second Ctrl-C kills them at once.\n"
      "--executor slurm submits one job array (a task per subject; -j J becomes --array=1-N%J, "
      "--threads-per-job --cpus-per-task, --mem-per-job --mem, --timeout --time) and waits; "
      "follow a --no-wait run with `tandem status RUNDIR`, stop it with `tandem cancel RUNDIR`, "
      "rerun what failed with --resume and a new --run-dir (--resume first appends the joblog "
      "lines of earlier runs that have ended, and refuses while one still runs). One array "
      "holds fewer tasks than SLURM's MaxArraySize (scontrol show config; 1001 by default); "
      "submit more subjects in parts with --shard K/N.");
  return [a, shard] {
    if (const auto& words = job_command_words()) a->options.command = *words;
    a->shard_given = shard->count() > 0;
    return run_map_command(*a);
  };
}

}  // namespace

TANDEM_REGISTER_COMMAND(30, "map", "Run one command per subject, N at a time", setup_map);

}  // namespace tandem::cli
