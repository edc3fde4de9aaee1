// SPDX-License-Identifier: Apache-2.0
#include "jobs/slurm_files.h"

#include <boost/filesystem.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "jobs/template.h"

namespace tandem::jobs {

namespace fs = boost::filesystem;
using nlohmann::json;

namespace {

constexpr int kFormatVersion = 1;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void make_dir(const fs::path& dir) {
  boost::system::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw_system_error("cannot create", dir.string(), ec.value());
}

json settings_json(const SlurmRun& run) {
  const PoolOptions& p = run.pool;
  return {{"timeout", p.timeout},
          {"retries", p.retries},
          {"retry_delay", p.retry_delay},
          {"grace", p.grace},
          {"keep_failed", p.keep_failed},
          {"env", p.env},
          {"threads_per_job", run.threads_per_job}};
}

json task_json(const SlurmTask& t) {
  return {{"index", t.index},        {"subject", t.name},      {"seq", t.seq},
          {"argv", t.argv},          {"command", t.command},   {"outputs", t.outputs},
          {"stdout", t.stdout_path}, {"stderr", t.stderr_path}};
}

SlurmTask task_from_json(const json& j) {
  SlurmTask t;
  t.index = j.at("index").get<int>();
  t.name = j.at("subject").get<std::string>();
  t.seq = j.at("seq").get<std::size_t>();
  t.argv = j.at("argv").get<std::vector<std::string>>();
  t.command = j.at("command").get<std::string>();
  t.outputs = j.at("outputs").get<std::vector<std::string>>();
  t.stdout_path = j.at("stdout").get<std::string>();
  t.stderr_path = j.at("stderr").get<std::string>();
  return t;
}

}  // namespace

SlurmRun make_slurm_run(const MapPlan& plan, const std::string& dir, const std::string& tandem,
                        int threads_per_job) {
  SlurmRun run;
  run.dir = fs::absolute(dir).lexically_normal().string();
  if (run.dir.size() > 1 && run.dir.back() == '/') run.dir.pop_back();
  run.workdir = fs::current_path().string();
  run.tandem = tandem;
  run.pool = plan.pool;
  run.pool.slots = 1;
  run.pool.mem_per_job = 0;
  run.pool.budget = nullptr;
  run.pool.failure_log_dir.clear();
  run.threads_per_job = threads_per_job;
  if (!plan.joblog.empty()) run.joblog = fs::absolute(plan.joblog).string();
  for (std::size_t i = 0; i < plan.jobs.size(); ++i) {
    const JobSpec& job = plan.jobs[i];
    const auto& row = plan.subjects.rows[plan.rows[i]];
    SlurmTask t;
    t.index = static_cast<int>(i) + 1;
    t.name = job.name;
    t.seq = job.seq;
    t.argv = plan.command.argv(row, job.seq, 1);
    t.command = plan.command.display(row, job.seq, 1);
    t.outputs = job.outputs;
    std::string base = run.dir + "/logs/" + std::to_string(job.seq);
    t.stdout_path = job.stdout_path.empty() ? base + ".out" : job.stdout_path;
    t.stderr_path = job.stderr_path.empty() ? base + ".err" : job.stderr_path;
    run.tasks.push_back(std::move(t));
  }
  return run;
}

std::string array_script(const SlurmRun& run) {
  return "#!/bin/sh\n"
         "# Written by tandem map --executor slurm: array task $SLURM_ARRAY_TASK_ID runs one "
         "subject.\n"
         "cd " +
         shell_quote(run.workdir) + " || exit 1\n" + "exec " + shell_quote(run.tandem) +
         " slurm-task " + shell_quote(run.dir) + " \"$SLURM_ARRAY_TASK_ID\"\n";
}

void write_run_dir(const SlurmRun& run) {
  boost::system::error_code ec;
  if (fs::exists(run.dir, ec) && !(fs::is_directory(run.dir, ec) && fs::is_empty(run.dir, ec))) {
    throw UsageError("--run-dir " + run.dir +
                     " exists and is not empty; give a new directory (--resume reads --joblog)");
  }
  json tasks = json::array();
  for (const auto& t : run.tasks) tasks.push_back(task_json(t));
  json doc = {{"tandem_slurm_run", kFormatVersion},
              {"workdir", run.workdir},
              {"tandem", run.tandem},
              {"joblog", run.joblog},
              {"settings", settings_json(run)},
              {"tasks", tasks}};
  // Rendered before anything is created: a run that cannot be written leaves no run directory.
  std::string text;
  try {
    text = doc.dump(1) + "\n";
  } catch (const json::type_error&) {
    // The tasks read this file back with nlohmann::json, which takes UTF-8 only.
    throw UsageError(
        "--executor slurm: a subject, command or output path is not UTF-8 text (a Latin-1 file "
        "name?), and each task's command is kept in RUNDIR/tasks.json as UTF-8: rename it, or "
        "run without --executor slurm");
  }
  for (const char* sub : {"logs", "slurm", "status", "joblogs"}) make_dir(fs::path(run.dir) / sub);
  for (const auto& t : run.tasks) {
    make_dir(fs::path(t.stdout_path).parent_path());
    make_dir(fs::path(t.stderr_path).parent_path());
  }
  write_file_atomic(run.dir + "/tasks.json", text);
  std::string script = run.dir + "/array.sh";
  write_file_atomic(script, array_script(run));
  fs::permissions(script, fs::perms::add_perms | fs::perms::owner_exe | fs::perms::group_exe, ec);
}

SlurmRun load_slurm_run(const std::string& dir) {
  SlurmRun run;
  run.dir = fs::absolute(dir).lexically_normal().string();
  if (run.dir.size() > 1 && run.dir.back() == '/') run.dir.pop_back();
  std::string path = run.dir + "/tasks.json";
  // A wrong RUNDIR is the caller's mistake (exit 2); a damaged run directory is an input error.
  boost::system::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw UsageError(dir + " is not a tandem SLURM run directory (no tasks.json)");
  }
  std::string text = read_all(path);
  if (text.empty())
    throw InputError(path, "", "missing or empty: not a tandem SLURM run directory");
  try {
    json doc = json::parse(text);
    if (doc.at("tandem_slurm_run").get<int>() != kFormatVersion) {
      throw InputError(path, "", "written by another tandem version");
    }
    run.workdir = doc.at("workdir").get<std::string>();
    run.tandem = doc.at("tandem").get<std::string>();
    run.joblog = doc.at("joblog").get<std::string>();
    const json& s = doc.at("settings");
    run.pool.slots = 1;
    run.pool.timeout = s.at("timeout").get<double>();
    run.pool.retries = s.at("retries").get<int>();
    run.pool.retry_delay = s.at("retry_delay").get<double>();
    run.pool.grace = s.at("grace").get<double>();
    run.pool.keep_failed = s.at("keep_failed").get<bool>();
    run.pool.env = s.at("env").get<std::vector<std::pair<std::string, std::string>>>();
    run.threads_per_job = s.at("threads_per_job").get<int>();
    for (const auto& t : doc.at("tasks")) run.tasks.push_back(task_from_json(t));
  } catch (const json::exception& e) {
    throw InputError(path, "", std::string("not a valid task file: ") + e.what());
  }
  std::string id = read_all(run.dir + "/job_id");
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  run.job_id = id;
  return run;
}

void write_job_id(const SlurmRun& run, const std::string& job_id) {
  write_file_atomic(run.dir + "/job_id", job_id + "\n");
}

std::string status_path(const SlurmRun& run, int index) {
  return run.dir + "/status/" + std::to_string(index) + ".json";
}

std::string task_joblog_path(const SlurmRun& run, int index) {
  return run.dir + "/joblogs/" + std::to_string(index);
}

void write_task_status(const SlurmRun& run, int index, const TaskStatus& status) {
  const JobResult& r = status.result;
  json doc = {
      {"subject", r.name},          {"seq", r.seq},           {"outcome", outcome_name(r.outcome)},
      {"exit_code", r.exit_code},   {"signal", r.signal},     {"attempts", r.attempts},
      {"start_time", r.start_time}, {"duration", r.duration}, {"peak_rss_bytes", r.peak_rss_bytes},
      {"command", r.command},       {"message", r.message},   {"hostname", status.hostname}};
  write_file_atomic(status_path(run, index), doc.dump(1) + "\n");
}

std::optional<TaskStatus> read_task_status(const SlurmRun& run, int index,
                                           std::string* unreadable) {
  const std::string path = status_path(run, index);
  auto fail = [&](const std::string& why) -> std::optional<TaskStatus> {
    if (unreadable != nullptr) *unreadable = path + ": " + why;
    return std::nullopt;
  };
  if (unreadable != nullptr) unreadable->clear();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    boost::system::error_code ec;
    // Not there yet is the usual answer while the task runs.
    if (!fs::exists(path, ec)) return std::nullopt;
    return fail(std::string("cannot be read: ") + std::strerror(err));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  // The task writes it whole (write_file_atomic), so an empty one is damaged, not unfinished.
  if (text.empty()) return fail("is empty");
  const SlurmTask& task = run.tasks.at(static_cast<std::size_t>(index) - 1);
  TaskStatus s;
  JobResult& r = s.result;
  try {
    json doc = json::parse(text);
    r.outcome = outcome_from_name(doc.at("outcome").get<std::string>());
    r.exit_code = doc.at("exit_code").get<int>();
    r.signal = doc.at("signal").get<int>();
    r.attempts = doc.at("attempts").get<int>();
    r.start_time = doc.at("start_time").get<double>();
    r.duration = doc.at("duration").get<double>();
    r.peak_rss_bytes = doc.at("peak_rss_bytes").get<long long>();
    r.command = doc.at("command").get<std::string>();
    r.message = doc.at("message").get<std::string>();
    s.hostname = doc.at("hostname").get<std::string>();
  } catch (const json::parse_error& e) {
    return fail(std::string("not valid JSON (") + e.what() + ")");
  } catch (const json::exception& e) {
    return fail(std::string("not a task status (") + e.what() + ")");
  }
  r.name = task.name;
  r.seq = task.seq;
  r.outputs = task.outputs;
  r.stdout_path = task.stdout_path;
  r.stderr_path = task.stderr_path;
  return s;
}

Outcome outcome_from_name(const std::string& name) {
  for (Outcome o :
       {Outcome::kOk, Outcome::kExit, Outcome::kSignal, Outcome::kTimeout, Outcome::kOom,
        Outcome::kNotFound, Outcome::kMissingOutput, Outcome::kInterrupted, Outcome::kSkipped}) {
    if (name == outcome_name(o)) return o;
  }
  return Outcome::kNotStarted;
}

}  // namespace tandem::jobs
