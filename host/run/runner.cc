// SPDX-License-Identifier: Apache-2.0
#include "run/runner.h"

#include <chrono>
#include <exception>
#include <memory>
#include <thread>

#include "backend_registry.h"
#include "core/core_budget.h"
#include "core/cores.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "jobs/resources.h"
#include "jobs/template.h"
#include "jobs/units.h"
#include "run/budgeted_backend.h"
#include "run/child_error_observer.h"
#include "run/plan_check.h"

namespace tandem::run {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

SvdRunOptions svd_run_options(const SvdPlan& s, bool resume) {
  SvdRunOptions o;
  o.svd.full_matrices = !s.economy;
  o.svd.values_only = s.values_only;
  o.svd.check = s.check;
  o.svd.canonical_signs = s.canonical_signs;
  o.svd.algorithm = parse_algorithm(s.algorithm);
  o.resume = resume;
  o.writer_threads = 1;  // the jobs hold the cores; see SvdRunOptions::writer_threads
  o.memory_bytes = jobs::memory_available();  // as tandem svd: too large fails up front
  return o;
}

std::vector<SvdSource> svd_sources(const SvdPlan& s) {
  std::vector<SvdSource> out = expand_inputs(s.inputs, s.output);
  if (!s.random.empty()) out.push_back(random_source(parse_random_spec(s.random), s.output));
  return out;
}

// The placeholders of a half's templates against its subjects' columns, each error naming the
// plan's key (map's own check, in plan_map, would name "map" or "--output").
void check_templates(const Plan& plan, const std::string& table, const std::string& subjects,
                     const std::vector<std::string>& args,
                     const std::vector<std::pair<std::string, std::vector<std::string>>>& keys) {
  // Standard input can be read once only: plan_map checks those templates itself.
  if (subjects == "-") return;
  std::vector<std::string> columns;
  try {
    columns = subjects.empty() ? jobs::subjects_from_args(args).columns
                               : jobs::load_subjects(subjects).columns;
  } catch (const InputError& e) {
    // Nothing has run yet: a subject list that cannot be used is a bad plan value (exit 2).
    throw UsageError(plan.where(table, "subjects") + ": " + e.what());
  }
  for (const auto& [key, texts] : keys) {
    for (const std::string& text : texts) {
      jobs::Template t(text, columns, plan.where(table, key));
      if (key != "command" && key != "input" && t.uses_slot()) {
        throw UsageError(plan.where(table, key) +
                         ": {%} (the worker slot) is unknown before a job runs");
      }
    }
  }
}

// plan_map's remaining usage errors (two subjects that would run the same command) are about
// the half as a whole: they name the table, not a flag the plan never had.
jobs::MapPlan plan_half(const Plan& plan, const std::string& table, const jobs::MapOptions& o) {
  try {
    return jobs::plan_map(o);
  } catch (const UsageError& e) {
    throw UsageError(plan.path + ": [" + table + "] " + without_flag(e.what()));
  }
}

void check_placeholders(const Plan& plan) {
  const SmoothPlan& s = plan.smooth;
  if (s.present) {
    check_templates(plan, "smooth", s.subjects, s.args,
                    {{"input", {s.input}}, {"output", {s.output}}});
  }
  const JobsPlan& j = plan.jobs;
  if (j.present) {
    check_templates(plan, "jobs", j.subjects, j.args,
                    {{"command", j.command}, {"outputs", j.outputs}});
  }
}

// `tandem smooth --device gpu` in every job would fail each one alike: refused up front, as
// [svd] device = "gpu" is.
void check_smooth_device(const Plan& plan) {
  if (!plan.smooth.present || plan.smooth.device != "gpu") return;
  std::string why;
  if (list_gpus(&why).empty()) {
    throw UsageError(plan.where("smooth", "device") + ": \"gpu\", but " + why);
  }
}

// The SVD backend the plan asks for; no usable GPU for device = "gpu" names the plan's key.
std::shared_ptr<Backend> svd_backend(const Plan& plan, const BackendConfig& cfg,
                                     std::string* note) {
  try {
    return make_backend(cfg, note);
  } catch (const NoDeviceError& e) {
    throw UsageError(plan.where("svd", "device") + ": \"gpu\", but " + without_flag(e.what()));
  }
}

// The [smooth] half. A subject whose output exists is done only under --resume: otherwise the
// plan's settings may have changed since it was written, and it is smoothed again (as `tandem
// smooth` and the [svd] half redo theirs). The output stays declared either way, so that a
// failed job's output is removed rather than left looking like a result.
jobs::MapPlan plan_smooth(const Plan& p, const RunSettings& settings) {
  const SmoothPlan& s = p.smooth;
  jobs::MapOptions o = smooth_options(s, settings.self_exe);
  o.shard = settings.shard;
  if (settings.resume) return plan_half(p, "smooth", o);
  o.outputs.clear();
  jobs::MapPlan plan = plan_half(p, "smooth", o);
  const jobs::Template output(s.output, plan.subjects.columns, "[smooth] output");
  for (std::size_t i = 0; i < plan.jobs.size(); ++i) {
    plan.jobs[i].outputs = {
        output.render(plan.subjects.rows[plan.rows[i]], plan.jobs[i].seq, 0, false)};
  }
  return plan;
}

// One job half, planned up front so its usage errors come before anything runs.
struct JobHalf {
  std::string name;
  jobs::MapPlan plan;
  bool explicit_jobs;  // the plan caps how many run at once; else the budget alone decides
};

}  // namespace

bool RunOutcome::any_failed() const {
  if (!svd_error.empty() || svd.failed > 0) return true;
  for (const auto& r : job_runs) {
    for (const auto& j : r.results) {
      if (jobs::is_failure(j.outcome)) return true;
    }
  }
  return false;
}

std::string cores_warning(int requested, int usable) {
  if (requested <= usable) return "";
  return "--cores " + std::to_string(requested) + " is more than the " + std::to_string(usable) +
         " usable core" + (usable == 1 ? "" : "s") +
         " here; the jobs and SVD workers will be oversubscribed";
}

jobs::MapOptions jobs_options(const JobsPlan& j, bool resume) {
  jobs::MapOptions o;
  o.command = j.command;
  o.shell = j.shell;
  o.subjects_file = j.subjects;
  o.subject_args = j.args;
  o.jobs = static_cast<int>(j.jobs);
  o.threads_per_job = static_cast<int>(j.threads_per_job);
  o.timeout = j.timeout.empty() ? 0 : jobs::parse_duration(j.timeout, "[jobs] timeout");
  o.retries = static_cast<int>(j.retries);
  o.mem_per_job =
      j.mem_per_job.empty() ? 0 : jobs::parse_bytes(j.mem_per_job, "[jobs] mem_per_job");
  o.joblog = j.joblog;
  // Declared outputs already mark done subjects; the joblog adds the rest when there is one.
  o.resume = resume && !j.joblog.empty();
  o.results_dir = j.results;
  o.outputs = j.outputs;
  return o;
}

jobs::MapOptions smooth_options(const SmoothPlan& s, const std::string& self_exe) {
  jobs::MapOptions o;
  o.command = {self_exe,   "smooth", s.input,
               "--fwhm",   s.fwhm,   "-o",
               s.output,   "-j",     std::to_string(s.threads_per_job),
               "--device", s.device, "--quiet"};
  o.subjects_file = s.subjects;
  o.subject_args = s.args;
  o.threads_per_job = static_cast<int>(s.threads_per_job);
  o.outputs = {s.output};  // a subject whose output exists is done; a failed one leaves none
  o.results_dir = s.results;
  return o;
}

RunOutcome run_plan(const Plan& plan, const RunSettings& settings, SvdObserver& svd_observer,
                    const JobObserverFor& job_observer) {
  auto t0 = std::chrono::steady_clock::now();
  RunOutcome out;
  out.cores = settings.cores > 0 ? settings.cores : available_cores();
  CoreBudget budget(out.cores);

  check_placeholders(plan);
  check_smooth_device(plan);
  // Each half shards its own subject list, as `tandem map --shard` would.
  std::vector<JobHalf> halves;
  if (plan.smooth.present) halves.push_back({"smooth", plan_smooth(plan, settings), false});
  if (plan.jobs.present) {
    jobs::MapOptions o = jobs_options(plan.jobs, settings.resume);
    o.shard = settings.shard;
    halves.push_back({"jobs", plan_half(plan, "jobs", o), plan.jobs.jobs > 0});
  }
  for (JobHalf& h : halves) {
    h.plan.pool.budget = &budget;
    // The budget, not a slot count, limits how many run at once (an explicit `jobs` still caps).
    if (!h.explicit_jobs) h.plan.pool.slots = out.cores;
  }

  std::vector<SvdSource> sources;
  std::shared_ptr<Backend> backend;
  SvdRunOptions svd_options;
  if (plan.svd.present) {
    out.has_svd = true;
    sources = svd_sources(plan.svd);
    if (settings.shard) {
      ShardSelection part = select_shard(std::move(sources), *settings.shard);
      sources = std::move(part.sources);
      out.svd_scope =
          "shard " + shard_label(*settings.shard) + ": " + std::to_string(part.files) + " of " +
          counted(static_cast<long long>(part.total_files), "input file", "input files");
    }
    svd_options = svd_run_options(plan.svd, settings.resume);
    BackendConfig cfg;
    cfg.device = parse_device(plan.svd.device);
    cfg.threads = static_cast<int>(
        plan.svd.threads > 0 ? std::min<int64_t>(plan.svd.threads, out.cores) : out.cores);
    for (int64_t g : plan.svd.gpus) cfg.gpus.push_back(static_cast<int>(g));
    std::shared_ptr<Backend> chosen =
        settings.svd_backend ? settings.svd_backend : svd_backend(plan, cfg, &out.svd_note);
    backend = std::make_shared<BudgetedBackend>(chosen, budget);
    out.svd_backend = backend->name();
  }

  std::thread svd_thread;
  if (backend) {
    svd_thread = std::thread([&] {
      try {
        out.svd = run_svd_pipeline(sources, *backend, svd_options, svd_observer);
      } catch (const std::exception& e) {
        out.svd_error = e.what();
      }
    });
  }
  auto j0 = std::chrono::steady_clock::now();
  // Both job halves run together on one loop, so a half that cannot fill the cores never
  // leaves them idle while the other has subjects waiting.
  std::vector<jobs::MapPlan*> plans;
  std::vector<jobs::PoolObserver*> observers;
  // A failed `tandem smooth` child exits 1; its own error line says why, and goes with it.
  std::vector<std::unique_ptr<ChildErrorObserver>> child_errors(halves.size());
  for (std::size_t i = 0; i < halves.size(); ++i) {
    JobHalf& h = halves[i];
    out.job_names.push_back(h.name);
    plans.push_back(&h.plan);
    jobs::PoolObserver* observer = job_observer ? job_observer(h.name, h.plan) : nullptr;
    if (h.name == "smooth") {
      child_errors[i] = std::make_unique<ChildErrorObserver>(observer);
      observer = child_errors[i].get();
    }
    observers.push_back(observer);
  }
  if (!plans.empty()) out.job_runs = jobs::run_maps(plans, observers);
  for (std::size_t i = 0; i < out.job_runs.size(); ++i) {
    if (child_errors[i]) child_errors[i]->amend(out.job_runs[i]);
  }
  out.jobs_seconds = seconds_since(j0);
  if (svd_thread.joinable()) svd_thread.join();
  out.interrupted = interrupted();
  out.wall_seconds = seconds_since(t0);
  return out;
}

}  // namespace tandem::run
