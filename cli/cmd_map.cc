// SPDX-License-Identifier: Apache-2.0
// `tandem map`: its flags and exit code. The printing is in map_output.h (shared with `tandem
// run`); the pool, templates, joblog and report live in host/jobs.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "command.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "core/shard.h"
#include "jobs/map_plan.h"
#include "jobs/report.h"
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
};

// CLI11 2.1 lets `--` end an unlimited option (`--args a b -- sh -c x`) and then reads the
// command's own flags (`-c`) as tandem's, so the words after the first `--` following the
// subcommand are taken from the kernel's copy of argv, untouched and in order.
std::optional<std::vector<std::string>> words_after_double_dash() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> argv;
  for (std::string word; std::getline(in, word, '\0');) argv.push_back(word);
  auto map = std::find(argv.begin() + std::min<std::size_t>(1, argv.size()), argv.end(), "map");
  auto dashes = std::find(map, argv.end(), "--");
  if (map == argv.end() || dashes == argv.end()) return std::nullopt;
  return std::vector<std::string>(dashes + 1, argv.end());
}

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

int run_map_command(MapArgs& a) {
  jobs::MapPlan plan = jobs::plan_map(parsed_options(a));
  if (a.dry_run) {
    for (const auto& c : jobs::dry_run_commands(plan)) std::printf("%s\n", c.c_str());
    return kExitOk;
  }
  install_interrupt_handlers();
  ProgressLine line(stderr, !a.quiet);
  MapPrinter printer(line, plan.jobs.size());
  if (!a.quiet && !plan.skipped.empty()) {
    line.event("map: skipping " + std::to_string(plan.skipped.size()) +
               " subjects already done; running " + std::to_string(plan.jobs.size()) + " on " +
               std::to_string(plan.pool.slots) + " slots");
  }
  jobs::MapResult result = jobs::run_map(plan, &printer);
  int code = jobs::map_exit_code(result);
  if (!a.report.empty()) {
    jobs::write_map_report(substitute_shard(a.report, plan.shard.value_or(Shard{})), result, code);
  }
  print_map_summary(line, "map", result, a.quiet);
  return code;
}

std::function<int()> setup_map(CLI::App& sub) {
  auto a = std::make_shared<MapArgs>();
  auto& o = a->options;
  sub.add_option("-j,--jobs", o.jobs, "Jobs at once (default: usable cores / --threads-per-job)");
  sub.add_option("--subjects", o.subjects_file,
                 "Subjects file: one per line (# comments), or a TSV with a header whose "
                 "columns become {name} placeholders; - reads stdin");
  sub.add_option("--args", o.subject_args, "Subjects on the command line (end with --)");
  sub.add_flag("--shell", o.shell, "Run the command through sh -c, substitutions quoted");
  sub.add_option("--timeout", a->timeout, "Per-job time limit: 90, 90s, 30m, 2h");
  sub.add_option("--grace", a->grace, "Time between SIGTERM and SIGKILL when ending a job");
  sub.add_option("--retries", o.retries, "Retry a failed job up to N more times");
  sub.add_option("--retry-delay", a->retry_delay, "First retry delay, doubled per retry");
  sub.add_option("--halt", a->halt, "never | soon,fail=K | now,fail=K");
  sub.add_option("--joblog", o.joblog,
                 "Append GNU parallel's joblog to FILE ({shard} in FILE becomes K-of-N)");
  sub.add_flag("--resume", o.resume, "Skip jobs that succeeded in --joblog; rerun the rest");
  sub.add_flag("--resume-failed", a->resume_failed, "Same as --resume (GNU parallel's name)");
  sub.add_option("--results", o.results_dir, "Keep each job's stdout/stderr in DIR/<subject>/");
  sub.add_option("--output", o.outputs, "A job's declared output path (repeatable)")
      ->allow_extra_args(false);
  sub.add_flag("--keep-failed", o.keep_failed, "Move a failed job's outputs to <path>.failed");
  sub.add_option("--threads-per-job", o.threads_per_job, "Threads each job may use (default 1)");
  sub.add_option("--mem-per-job", a->mem_per_job,
                 "Start a job only while this much memory is free");
  sub.add_option("--report", a->report,
                 "Write a JSON report, one record per subject ({shard} becomes K-of-N)");
  CLI::Option* shard = sub.add_option(
      "--shard", a->shard,
      "K/N or slurm: run only shard K of N, the subjects i (from 0, in input order) "
      "with i mod N = K-1; slurm takes K and N from SLURM_ARRAY_TASK_ID/_MIN/_COUNT");
  sub.add_flag("--dry-run", a->dry_run, "Print the commands and exit");
  sub.add_flag("-q,--quiet", a->quiet, "Print only failures and the summary");
  sub.add_option("command", o.command, "COMMAND ARG... after --, with {} placeholders");
  sub.prefix_command();
  sub.footer("The command follows `--`: tandem map [OPTIONS] -- COMMAND ARG... ({} = subject)");
  return [a, shard] {
    if (auto words = words_after_double_dash()) a->options.command = *words;
    a->shard_given = shard->count() > 0;
    return run_map_command(*a);
  };
}

}  // namespace

TANDEM_REGISTER_COMMAND(30, "map", "Run one command per subject, N at a time", setup_map);

}  // namespace tandem::cli
