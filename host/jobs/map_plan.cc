// SPDX-License-Identifier: Apache-2.0
#include "jobs/map_plan.h"

#include <unistd.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>

#include "core/cores.h"
#include "core/error.h"
#include "jobs/joblog.h"
#include "jobs/outputs.h"

namespace tandem::jobs {

namespace fs = boost::filesystem;

namespace {

// A subject as a directory name under --results: no '/', never "." or "..".
std::string directory_name(const std::string& subject) {
  std::string name = subject;
  std::replace(name.begin(), name.end(), '/', '_');
  if (name.empty() || name == "." || name == "..") name = "_" + name;
  return name;
}

SubjectList load(const MapOptions& o) {
  bool from_file = !o.subjects_file.empty();
  if (from_file == !o.subject_args.empty()) {
    throw UsageError("map: give the subjects with exactly one of --subjects FILE or --args");
  }
  if (!from_file) return subjects_from_args(o.subject_args);
  try {
    return load_subjects(o.subjects_file);
  } catch (const InputError& e) {
    // Nothing has run yet: a subjects file that cannot be used is a bad argument (exit 2).
    throw UsageError(std::string("--subjects: ") + e.what());
  }
}

// Two subjects whose commands are the same (but for {#} and {%}) would do the same work at
// once, writing the same outputs; only the user knows which line is the mistake. Rows of one
// subject that differ in a column the command uses (its sessions, say) are distinct runs.
void refuse_duplicates(const MapOptions& o, const SubjectList& s, const CommandTemplate& command) {
  std::map<std::string, std::size_t> first_with;
  for (std::size_t i = 0; i < s.rows.size(); ++i) {
    auto [seen, fresh] = first_with.emplace(command.display(s.rows[i], 1, 1), i);
    if (fresh) continue;
    const std::size_t j = seen->second;
    const std::string a = std::to_string(s.lines[j]), b = std::to_string(s.lines[i]);
    std::string where = o.subjects_file.empty()
                            ? "--args: subjects " + a + " and " + b
                            : "--subjects: " + o.subjects_file + ": lines " + a + " and " + b;
    if (s.rows[i][0] == s.rows[j][0]) {
      throw UsageError(where + " both name " + s.rows[i][0] +
                       ", whose command would run twice at once; remove the duplicate");
    }
    throw UsageError(where + " (" + s.rows[j][0] + ", " + s.rows[i][0] +
                     ") would run the same command twice at once: " + seen->first +
                     "; remove one, or use a placeholder that tells them apart");
  }
}

std::vector<std::pair<std::string, std::string>> thread_env(int threads) {
  std::string k = std::to_string(threads);
  return {{"OMP_NUM_THREADS", k},
          {"OPENBLAS_NUM_THREADS", k},
          {"MKL_NUM_THREADS", k},
          {"ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", k}};
}

PoolOptions pool_options(const MapOptions& o) {
  if (o.threads_per_job < 1) throw UsageError("--threads-per-job must be at least 1");
  if (o.jobs < 0) {
    throw UsageError(
        "-j must be at least 1, or 0 for the default (usable cores / --threads-per-job)");
  }
  if (o.retries < 0) throw UsageError("--retries must not be negative");
  PoolOptions p;
  p.slots = o.jobs > 0 ? o.jobs : std::max(1, available_cores() / o.threads_per_job);
  p.timeout = o.timeout;
  p.retries = o.retries;
  p.retry_delay = o.retry_delay;
  p.grace = o.grace;
  p.halt = o.halt;
  p.mem_per_job = o.mem_per_job;
  p.env = thread_env(o.threads_per_job);
  p.cores_per_job = o.threads_per_job;
  p.keep_failed = o.keep_failed;
  return p;
}

}  // namespace

MapPlan plan_map(const MapOptions& o) {
  if (o.resume && o.joblog.empty()) throw UsageError("--resume needs --joblog FILE");
  SubjectList subjects = load(o);
  CommandTemplate command(o.command, o.shell, subjects.columns);
  refuse_duplicates(o, subjects, command);
  std::vector<Template> outputs;
  for (const auto& t : o.outputs) {
    outputs.emplace_back(t, subjects.columns, "--output");
    if (outputs.back().uses_slot()) throw UsageError("--output: {%} is unknown before a job runs");
  }
  const std::string joblog = substitute_shard(o.joblog, o.shard.value_or(Shard{}));
  JobLogHistory history;
  if (o.resume) history = read_joblog(joblog);
  MapPlan plan{
      {}, {}, {}, subjects, command, pool_options(o), o.results_dir.empty(), o.results_dir, joblog};
  plan.shard = o.shard;
  std::set<std::string> dir_names;
  for (std::size_t i = 0; i < subjects.rows.size(); ++i) {
    const auto& row = subjects.rows[i];
    JobSpec job;
    job.name = row[0];
    job.seq = i + 1;
    for (const auto& t : outputs) job.outputs.push_back(t.render(row, job.seq, 0, false));
    if (!o.results_dir.empty()) {
      std::string dir = directory_name(job.name);
      if (!dir_names.insert(dir).second) dir += "-" + std::to_string(job.seq);
      job.stdout_path = (fs::path(o.results_dir) / dir / "stdout").string();
      job.stderr_path = (fs::path(o.results_dir) / dir / "stderr").string();
    }
    // Other shards' subjects are not this run's: not run, not skipped, not reported. Checked
    // after naming, so that a subject's --results directory is the same in every shard.
    if (o.shard && !in_shard(i, *o.shard)) continue;
    // Declared outputs decide "done" when there are any; otherwise the joblog does.
    std::string reason;
    if (all_outputs_exist(job.outputs)) {
      reason = "outputs exist";
    } else if (job.outputs.empty() && o.resume &&
               history.succeeded.count(command.display(row, job.seq, 1)) > 0) {
      reason = "succeeded in " + joblog;
    }
    if (!reason.empty()) {
      JobResult r;
      r.name = job.name;
      r.seq = job.seq;
      r.command = command.display(row, job.seq, 1);
      r.outcome = Outcome::kSkipped;
      r.message = reason;
      r.outputs = job.outputs;
      plan.skipped.push_back(std::move(r));
      continue;
    }
    plan.jobs.push_back(std::move(job));
    plan.rows.push_back(i);
  }
  return plan;
}

std::vector<std::string> dry_run_commands(const MapPlan& plan) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < plan.jobs.size(); ++i) {
    int slot = static_cast<int>(i % static_cast<std::size_t>(plan.pool.slots)) + 1;
    out.push_back(plan.command.display(plan.subjects.rows[plan.rows[i]], plan.jobs[i].seq, slot));
  }
  return out;
}

namespace {

std::string make_temporary_log_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/tandem-map-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw_system_error("cannot create a log directory", pattern, errno);
  }
  return pattern;
}

void prepare_logs(MapPlan& plan, std::string& temp_dir) {
  if (plan.temporary_logs) {
    // Output is captured in memory; only failed jobs' logs are written, here.
    temp_dir = make_temporary_log_dir();
    plan.pool.failure_log_dir = temp_dir;
    return;
  }
  for (const auto& job : plan.jobs) {
    boost::system::error_code ec;
    auto dir = fs::path(job.stdout_path).parent_path();
    fs::create_directories(dir, ec);
    if (ec) throw_system_error("cannot create", dir.string(), ec.value());
  }
}

}  // namespace

std::vector<MapResult> run_maps(const std::vector<MapPlan*>& plans,
                                const std::vector<PoolObserver*>& observers) {
  TANDEM_EXPECTS(plans.size() == observers.size(), "one observer per plan");
  auto begin = std::chrono::steady_clock::now();
  const std::size_t n = plans.size();
  std::vector<std::string> temp_dirs(n);
  std::vector<std::unique_ptr<JobLog>> joblogs(n);
  std::vector<std::vector<std::size_t>> row_of_seq(n);
  std::vector<PoolTask> tasks(n);
  for (std::size_t k = 0; k < n; ++k) {
    MapPlan& plan = *plans[k];
    // Nothing has run: the earlier plans' (still empty) temporary log directories go too.
    auto remove_temp_dirs = [&temp_dirs] {
      for (const std::string& dir : temp_dirs) {
        if (!dir.empty()) ::rmdir(dir.c_str());
      }
    };
    try {
      prepare_logs(plan, temp_dirs[k]);
      if (!plan.joblog.empty()) joblogs[k] = std::make_unique<JobLog>(plan.joblog);
    } catch (const Error& e) {
      remove_temp_dirs();
      // A --results directory or --joblog that cannot be made is a bad argument (exit 2).
      throw UsageError(e.what());
    } catch (...) {
      remove_temp_dirs();
      throw;
    }
    std::vector<std::size_t>& rows = row_of_seq[k];
    rows.assign(plan.subjects.rows.size() + 1, 0);
    for (std::size_t i = 0; i < plan.jobs.size(); ++i) rows[plan.jobs[i].seq] = plan.rows[i];
    tasks[k].options = plan.pool;
    tasks[k].joblog = joblogs[k].get();
    tasks[k].jobs = &plan.jobs;
    tasks[k].observer = observers[k];
    tasks[k].command = [&plan, &rows](const JobSpec& job, int slot) {
      const auto& row = plan.subjects.rows[rows[job.seq]];
      return JobCommand{plan.command.argv(row, job.seq, slot),
                        plan.command.display(row, job.seq, slot)};
    };
  }
  run_pools(tasks);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  std::vector<MapResult> out(n);
  for (std::size_t k = 0; k < n; ++k) {
    const MapPlan& plan = *plans[k];
    out[k].interrupted = tasks[k].interrupted;
    out[k].halted = tasks[k].halted;
    // The temporary directory stays only when it holds a failed job's logs.
    if (plan.temporary_logs && ::rmdir(temp_dirs[k].c_str()) != 0)
      out[k].kept_log_dir = temp_dirs[k];
    out[k].results = std::move(tasks[k].results);
    out[k].results.insert(out[k].results.end(), plan.skipped.begin(), plan.skipped.end());
    std::sort(out[k].results.begin(), out[k].results.end(),
              [](const JobResult& a, const JobResult& b) { return a.seq < b.seq; });
    out[k].wall_seconds = wall;
    out[k].shard = plan.shard;
    out[k].total_subjects = plan.subjects.rows.size();
  }
  return out;
}

MapResult run_map(MapPlan& plan, PoolObserver* observer) {
  return std::move(run_maps({&plan}, {observer}).at(0));
}

}  // namespace tandem::jobs
