// SPDX-License-Identifier: Apache-2.0
// `tandem run PLAN.toml`: the SVD half and the subject jobs at once, under one core budget.

#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "command.h"
#include "core/cores.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "core/report.h"
#include "core/self_exe.h"
#include "core/shard.h"
#include "jobs/report.h"
#include "jobs/resources.h"
#include "jobs/units.h"
#include "map_output.h"
#include "run/runner.h"
#include "svd_output.h"

namespace tandem::cli {

namespace {

struct RunArgs {
  std::string plan;
  std::vector<std::string> set;
  int cores = 0;
  bool resume = false, quiet = false;
  std::string report, shard;
  bool shard_given = false;
};

// "smooth: skipping 2 subjects whose outputs exist (--resume); running 1": subjects left out
// are said up front, not only counted in the summary.
void say_skipped(ProgressLine& line, const std::string& half, const jobs::MapPlan& plan,
                 bool resume) {
  if (plan.skipped.empty()) return;
  std::string why = plan.skipped.front().message;  // "outputs exist", "succeeded in LOG"
  line.event(half + ": skipping " + std::to_string(plan.skipped.size()) + " subject" +
             (plan.skipped.size() == 1 ? "" : "s") + " already done (" + why +
             (resume ? ", --resume" : "") + "); running " + std::to_string(plan.jobs.size()));
}

void print_outcome(ProgressLine& line, const run::RunOutcome& o) {
  line.finish();
  std::printf("run: core budget %d\n", o.cores);
  if (o.has_svd) {
    if (!o.svd_error.empty()) {
      line.failure("svd: could not run: " + o.svd_error);
    } else {
      std::printf("svd: %s%s: %lld done, %lld failed, %lld skipped in %.2f s on %s\n",
                  o.svd_scope.empty() ? "" : (o.svd_scope + ": ").c_str(),
                  counted(o.svd.total + o.svd.skipped, "matrix", "matrices").c_str(),
                  static_cast<long long>(o.svd.done), static_cast<long long>(o.svd.failed),
                  static_cast<long long>(o.svd.skipped), o.svd.seconds, o.svd_backend.c_str());
    }
  }
  for (std::size_t i = 0; i < o.job_runs.size(); ++i) {
    print_map_summary(line, o.job_names[i], o.job_runs[i], false);
  }
  std::printf("wall time %.2f s\n", o.wall_seconds);
}

int run_run(const RunArgs& a) {
  run::Plan plan = run::parse_plan(a.plan, a.set);
  std::optional<Shard> shard;
  if (a.shard_given) shard = parse_shard(a.shard);
  ProgressLine line(stderr, !a.quiet);
  std::unique_ptr<ReportWriter> report;
  if (!a.report.empty()) {
    nlohmann::json head{{"command", "run"}, {"plan", a.plan}};
    if (shard) head["shard"] = {{"index", shard->index}, {"count", shard->count}};
    report =
        std::make_unique<ReportWriter>(substitute_shard(a.report, shard.value_or(Shard{})), head);
  }
  install_interrupt_handlers();
  const std::string cores = run::cores_warning(a.cores, available_cores());
  if (!cores.empty()) line.event("tandem: warning: " + cores);
  if (!plan.jobs.mem_per_job.empty()) {
    const std::string warning = jobs::mem_per_job_warning(
        jobs::parse_bytes(plan.jobs.mem_per_job, "[jobs] mem_per_job"), jobs::memory_total());
    if (!warning.empty()) line.event("tandem: warning: " + warning);
  }
  CliObserver svd_observer(line, report.get(), "svd ");
  // One status line per job half, under the SVD's.
  std::map<std::string, std::unique_ptr<MapPrinter>> printers;
  auto printer_for = [&](const std::string& half,
                         const jobs::MapPlan& half_plan) -> jobs::PoolObserver* {
    if (!a.quiet) say_skipped(line, half, half_plan, a.resume);
    auto& p = printers[half];
    if (!p)
      p = std::make_unique<MapPrinter>(line, half_plan.jobs.size(), printers.size(), half + " ");
    return p.get();
  };
  run::RunSettings settings{a.cores, a.resume, self_executable()};
  settings.shard = shard;
  run::RunOutcome o = run::run_plan(plan, settings, svd_observer, printer_for);
  svd_observer.print_repeats();
  if (!o.svd_note.empty()) line.event("tandem: " + o.svd_note);
  print_outcome(line, o);
  const int code = o.interrupted ? kExitInterrupted : (o.any_failed() ? kExitItemFailed : kExitOk);
  if (report) {
    // One list of items for the whole plan, each with its half, so that every failure is found
    // in one place; the summary keeps each half's counts.
    nlohmann::json halves = nlohmann::json::object();
    for (std::size_t i = 0; i < o.job_runs.size(); ++i) {
      nlohmann::json half = jobs::map_report(o.job_runs[i], code);
      for (nlohmann::json& subject : half["subjects"]) {
        subject["half"] = o.job_names[i];
        report->add_item(subject);
      }
      halves[o.job_names[i]] = half["summary"];
    }
    report->finish({{"cores", o.cores},
                    {"wall_seconds", o.wall_seconds},
                    {"svd",
                     {{"backend", o.svd_backend},
                      {"done", o.svd.done},
                      {"failed", o.svd.failed},
                      {"skipped", o.svd.skipped},
                      {"seconds", o.svd.seconds},
                      {"error", o.svd_error}}},
                    {"jobs", halves},
                    {"exit_code", code}});
  }
  if (o.interrupted) std::fprintf(stderr, "tandem: interrupted; run again with --resume\n");
  return code;
}

std::function<int()> setup_run(CLI::App& sub) {
  auto a = std::make_shared<RunArgs>();
  sub.add_option("plan", a->plan, "PLAN.toml with [svd], [jobs] and/or [smooth] tables")
      ->required();
  sub.add_option(
      "--set", a->set,
      "Override a plan value: TABLE.KEY=VALUE, VALUE as in the plan (TOML), e.g. "
      "jobs.jobs=4, 'jobs.command=[\"echo\", \"{}\"]', 'svd.output=\"r5\"'; a VALUE that "
      "is not TOML is text (svd.output=r5, jobs.timeout=30m), and for an array split at "
      "commas (jobs.args=a,b). Checked as the plan is (repeatable)");
  sub.add_option("--cores", a->cores,
                 "Core budget for SVD workers and jobs together (default: usable cores)")
      ->check(whole_number_at_least(1));
  sub.add_flag("--resume", a->resume,
               "Skip complete SVD outputs, [smooth] subjects whose output exists and finished "
               "jobs (without it, [svd] and [smooth] redo their work)");
  sub.add_option("--report", a->report, "One JSON report for both halves ({shard} becomes K-of-N)");
  CLI::Option* shard = sub.add_option(
      "--shard", a->shard,
      "K/N or slurm: only shard K of N of each half's subjects and of [svd]'s input files "
      "(item i, from 0, with i mod N = K-1); slurm reads SLURM_ARRAY_TASK_ID/_MIN/_COUNT. "
      "Put {shard} in joblog names");
  sub.add_flag("-q,--quiet", a->quiet, "Print only failures and the summary");
  return [a, shard] {
    a->shard_given = shard->count() > 0;
    return run_run(*a);
  };
}

}  // namespace

TANDEM_REGISTER_COMMAND(
    50, "run",
    "Run a plan: SVD on the GPU (or CPU) and subject jobs at once, under one core budget",
    setup_run);

}  // namespace tandem::cli
