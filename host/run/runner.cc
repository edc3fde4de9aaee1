// SPDX-License-Identifier: Apache-2.0
#include "run/runner.h"

#include <chrono>
#include <exception>
#include <memory>
#include <thread>

#include "core/core_budget.h"
#include "core/cores.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "jobs/units.h"
#include "run/budgeted_backend.h"

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
  return o;
}

std::vector<SvdSource> svd_sources(const SvdPlan& s) {
  std::vector<SvdSource> out = expand_inputs(s.inputs, s.output);
  if (!s.random.empty()) out.push_back(random_source(parse_random_spec(s.random), s.output));
  return out;
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

  // Each half shards its own subject list, as `tandem map --shard` would.
  auto plan_half = [&](jobs::MapOptions o) {
    o.shard = settings.shard;
    return jobs::plan_map(o);
  };
  std::vector<JobHalf> halves;
  if (plan.smooth.present) {
    halves.push_back({"smooth", plan_half(smooth_options(plan.smooth, settings.self_exe)), false});
  }
  if (plan.jobs.present) {
    halves.push_back(
        {"jobs", plan_half(jobs_options(plan.jobs, settings.resume)), plan.jobs.jobs > 0});
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
      out.svd_scope = "shard " + shard_label(*settings.shard) + ": " + std::to_string(part.files) +
                      " of " + std::to_string(part.total_files) + " input files";
    }
    svd_options = svd_run_options(plan.svd, settings.resume);
    BackendConfig cfg;
    cfg.device = parse_device(plan.svd.device);
    cfg.threads = static_cast<int>(
        plan.svd.threads > 0 ? std::min<int64_t>(plan.svd.threads, out.cores) : out.cores);
    for (int64_t g : plan.svd.gpus) cfg.gpus.push_back(static_cast<int>(g));
    std::shared_ptr<Backend> chosen =
        settings.svd_backend ? settings.svd_backend : make_backend(cfg, &out.svd_note);
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
  for (JobHalf& h : halves) {
    out.job_names.push_back(h.name);
    plans.push_back(&h.plan);
    observers.push_back(job_observer ? job_observer(h.name) : nullptr);
  }
  if (!plans.empty()) out.job_runs = jobs::run_maps(plans, observers);
  out.jobs_seconds = seconds_since(j0);
  if (svd_thread.joinable()) svd_thread.join();
  out.interrupted = interrupted();
  out.wall_seconds = seconds_since(t0);
  return out;
}

}  // namespace tandem::run
