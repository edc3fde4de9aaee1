// SPDX-License-Identifier: Apache-2.0
#include "jobs/slurm.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/filesystem.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/self_exe.h"
#include "jobs/joblog.h"
#include "jobs/process_posix.h"

namespace tandem::jobs {

using detail::trimmed;

namespace {

using Clock = std::chrono::steady_clock;

// After scancel, beyond --grace: tandem's start, the status file, SLURM's bookkeeping.
constexpr double kCancelWaitSeconds = 15;
// How long a task whose job died of a signal waits for SLURM's signal to itself: 100 x 10 ms.
constexpr int kSignalWaitSteps = 100;
// SLURM's MaxArraySize is at most 4000001; a longer range in sacct's output is garbage.
constexpr long kMaxArrayRange = 4000001;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// "CANCELLED by 1000" -> "CANCELLED".
std::string first_word(const std::string& s) { return s.substr(0, s.find(' ')); }

// One item of an array range: "7", "5-9" or "1-9:2" -> first, last, step.
bool parse_range_item(const std::string& item, long& a, long& b, long& step) {
  const char* c = item.c_str();
  int used = 0;
  step = 1;
  if (std::sscanf(c, "%ld-%ld:%ld%n", &a, &b, &step, &used) == 3 && c[used] == '\0') return true;
  step = 1;
  if (std::sscanf(c, "%ld-%ld%n", &a, &b, &used) == 2 && c[used] == '\0') return true;
  if (std::sscanf(c, "%ld%n", &a, &used) != 1 || c[used] != '\0') return false;
  b = a;
  return true;
}

// The indices of an array range as sacct and squeue print it between brackets: "5-9%2",
// "1,3,7-9", "1-9:2"; empty when the text is anything else.
std::vector<int> array_indices(const std::string& spec) {
  std::vector<int> out;
  const std::string list = spec.substr(0, spec.find('%'));
  for (std::size_t start = 0; start <= list.size();) {
    std::size_t comma = std::min(list.find(',', start), list.size());
    long a = 0, b = 0, step = 1;
    if (!parse_range_item(list.substr(start, comma - start), a, b, step)) return {};
    if (a < 0 || b < a || step < 1 || b - a > kMaxArrayRange) return {};
    for (long i = a; i <= b; i += step) out.push_back(static_cast<int>(i));
    start = comma + 1;
  }
  return out;
}

// slurmstepd's line in a task's SLURM output (`--output`, which holds stderr too) that says it
// killed the task for its memory, without "slurmstepd-NODE: error: "; "" when there is none.
// jobacct_gather's OverMemoryKill writes "StepId=5.batch exceeded memory limit (442544128 >
// 104857600), being killed" and "Exceeded job memory limit", and SLURM 22.05 then records the
// task as FAILED (ExitCode 0:9), not OUT_OF_MEMORY; task/cgroup writes "Detected 1 oom-kill
// event(s) in StepId=...". Only the file's end is read: slurmstepd writes these last.
std::string slurm_memory_kill_line(const std::string& path) {
  constexpr std::streamoff kTail = 64 * 1024;
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(size > kTail ? size - kTail : 0);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("slurmstepd", 0) != 0) continue;
    std::string lower = line;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower.find("exceeded memory limit") == std::string::npos &&
        lower.find("exceeded job memory limit") == std::string::npos &&
        lower.find("exceeded step memory limit") == std::string::npos &&
        lower.find("oom-kill event") == std::string::npos)
      continue;
    const std::size_t error = line.find("error: ");
    line = trimmed(error == std::string::npos ? line : line.substr(error + 7));
    return line;
  }
  return "";
}

std::optional<SlurmStates> query_sacct(const std::string& job_id) {
  if (resolve_executable("sacct").empty()) return std::nullopt;
  CapturedRun r = run_captured(
      {"sacct", "-j", job_id, "--parsable2", "--noheader", "--format=JobID,State,ExitCode"});
  if (!r.started || r.exit_code != 0) return std::nullopt;
  return SlurmStates{parse_sacct(r.out, job_id), false, "sacct"};
}

// Without accounting (no slurmdbd) sacct fails; squeue still lists each task, ended ones
// included, until slurmctld forgets it (MinJobAge, 300 s by default, after it ends).
std::optional<SlurmStates> query_squeue(const std::string& job_id) {
  if (resolve_executable("squeue").empty()) return std::nullopt;
  CapturedRun r = run_captured(
      {"squeue", "--jobs=" + job_id, "--states=all", "--array", "--noheader", "--format=%i|%T"});
  if (!r.started) return std::nullopt;
  if (r.exit_code != 0) {
    // slurm 22.05: "slurm_load_jobs error: Invalid job id specified" once all of it is forgotten.
    if (r.err.find("Invalid job id") == std::string::npos) return std::nullopt;
    return SlurmStates{{}, true, "squeue"};
  }
  SlurmStates s{parse_sacct(r.out, job_id), false, "squeue"};
  // A listing without one of the tasks (pending ones included) means it was forgotten.
  s.unlisted_ended = !s.tasks.empty();
  return s;
}

std::optional<SlurmStates> query_states(const std::string& job_id) {
  if (job_id.empty()) return std::nullopt;
  if (auto s = query_sacct(job_id)) return s;
  return query_squeue(job_id);
}

std::string hostname() {
  char name[256] = {};
  // Never empty: an empty host marks a task SLURM ended without a status file.
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "?";
  return name;
}

}  // namespace

std::string detail::trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

void check_slurm_map_options(const MapOptions& o) {
  if (o.halt.mode != HaltMode::kNever) {
    throw UsageError(
        "--halt cannot be used with --executor slurm: the array tasks run on their own");
  }
}

std::map<int, std::string> parse_sacct(const std::string& text, const std::string& job_id) {
  std::map<int, std::string> states;
  // Tasks that never started stay one record, `123_[5-9%2]`; scancel makes it CANCELLED.
  std::map<int, std::string> grouped;
  const std::string prefix = job_id + "_";
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    std::size_t bar = line.find('|');
    if (bar == std::string::npos || line.rfind(prefix, 0) != 0) continue;
    std::string index = line.substr(prefix.size(), bar - prefix.size());
    std::size_t bar2 = line.find('|', bar + 1);
    std::string state = first_word(trimmed(line.substr(bar + 1, bar2 - bar - 1)));
    if (index.size() > 2 && index.front() == '[' && index.back() == ']') {
      for (int i : array_indices(index.substr(1, index.size() - 2))) grouped[i] = state;
      continue;
    }
    if (index.empty() || index.size() > 9 || !std::all_of(index.begin(), index.end(), ::isdigit))
      continue;
    states[std::stoi(index)] = state;
  }
  states.insert(grouped.begin(), grouped.end());
  return states;
}

bool is_final_slurm_state(const std::string& state) {
  static const std::set<std::string> kFinal = {
      "BOOT_FAIL", "CANCELLED",     "COMPLETED", "DEADLINE", "FAILED",
      "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "REVOKED",  "TIMEOUT"};
  return kFinal.count(state) > 0;
}

JobResult slurm_ended_result(const SlurmRun& run, const SlurmTask& task, const std::string& state) {
  JobResult r;
  r.name = task.name;
  r.seq = task.seq;
  r.command = task.command;
  r.outputs = task.outputs;
  r.stdout_path = task.stdout_path;
  r.stderr_path = task.stderr_path;
  const std::string out =
      run.dir + "/slurm/" + run.job_id + "_" + std::to_string(task.index) + ".out";
  const std::string see = " (no status file; see " + out + ")";
  const std::string memory = slurm_memory_kill_line(out);
  if (state == "OUT_OF_MEMORY" || !memory.empty()) {
    r.outcome = Outcome::kOom;
    std::string why = state.empty() ? memory : memory.empty() ? state : state + ": " + memory;
    r.message = "SLURM killed the task for using more memory than it asked for (" + why +
                "): give it more with --mem-per-job or --slurm-arg=--mem=..." + see;
    return r;
  }
  if (state == "TIMEOUT" || state == "DEADLINE") {
    r.outcome = Outcome::kTimeout;
  } else if (state == "CANCELLED") {
    r.outcome = Outcome::kInterrupted;
  } else if (state == "FAILED" || state == "COMPLETED") {
    r.outcome = Outcome::kExit;
  } else {
    r.outcome = Outcome::kSignal;
  }
  if (state.empty()) {
    r.message =
        "SLURM no longer lists the task and it left no status file: killed or cancelled "
        "before it could report" +
        see;
  } else {
    r.message = "SLURM ended the task: " + state + see;
  }
  return r;
}

JobResult slurm_unreadable_status_result(const SlurmRun& run, const SlurmTask& task,
                                         const std::string& state, const std::string& why) {
  JobResult r = slurm_ended_result(run, task, state);
  if (r.outcome == Outcome::kSignal) r.outcome = Outcome::kExit;
  r.message = "unreadable status file " + why + "; SLURM " +
              (state.empty() ? std::string("does not list the task") : "says " + state);
  return r;
}

SlurmMonitor::SlurmMonitor(const SlurmRun& run, double settle)
    : run_(run),
      settle_(settle),
      results_(run.tasks.size()),
      hosts_(run.tasks.size()),
      ended_since_(run.tasks.size(), -1),
      ended_polls_(run.tasks.size(), 0),
      signalled_since_(run.tasks.size(), -1),
      unreadable_(run.tasks.size()),
      begin_(Clock::now()) {}

std::vector<JobResult> SlurmMonitor::poll() {
  std::vector<JobResult> now_final;
  auto finish = [&](std::size_t i, JobResult r, std::string host) {
    if (is_failure(r.outcome)) ++failed_;
    ++done_;
    hosts_[i] = std::move(host);
    results_[i] = r;
    now_final.push_back(std::move(r));
  };
  const double t = seconds_since(begin_);
  // A task that says a signal ended it was cancelled by scancel or by SLURM's time limit, and
  // only SLURM's state tells which: such a status waits for the query (and, while SLURM still
  // has the task running or completing, for `settle`), unless this tandem cancelled the run.
  // `states` null: no query made yet; `asked`: one was made (it may have had no answer).
  auto read_new_statuses = [&](const SlurmStates* states, bool asked) {
    for (std::size_t i = 0; i < run_.tasks.size(); ++i) {
      if (results_[i]) continue;
      auto s = read_task_status(run_, run_.tasks[i].index, &unreadable_[i]);
      if (!s) continue;
      JobResult r = s->result;
      if (r.outcome == Outcome::kInterrupted && !tandem::interrupted()) {
        if (!asked) continue;
        std::string state;
        if (states) {
          auto it = states->tasks.find(run_.tasks[i].index);
          if (it != states->tasks.end()) state = it->second;
        }
        if (state == "TIMEOUT" || state == "DEADLINE") {
          r.outcome = Outcome::kTimeout;
          r.message = "SLURM's time limit ended the task (" + state +
                      "): give it more with --slurm-arg=--time=...";
        } else if (states && !is_final_slurm_state(state) &&
                   !(state.empty() && states->unlisted_ended)) {
          if (signalled_since_[i] < 0) signalled_since_[i] = t;
          if (settle_ > 0 && t - signalled_since_[i] < settle_) {
            ++ending_;
            continue;
          }
        }
      }
      finish(i, std::move(r), s->hostname);
    }
  };
  ending_ = 0;
  read_new_statuses(nullptr, false);
  if (finished()) return now_final;
  auto states = query_states(run_.job_id);
  states_from_ = states ? states->source : "";
  running_ = 0;
  // A task that wrote its status file and then ended: read the files again after the query.
  read_new_statuses(states ? &*states : nullptr, true);
  // A task writes its status file last, whole, so one that cannot be read will not mend: unless
  // SLURM still has the task pending or running, it has ended without a result.
  for (std::size_t i = 0; i < run_.tasks.size(); ++i) {
    if (results_[i] || unreadable_[i].empty()) continue;
    std::string state;
    if (states) {
      auto it = states->tasks.find(run_.tasks[i].index);
      if (it != states->tasks.end()) state = it->second;
    }
    if (!state.empty() && !is_final_slurm_state(state)) continue;
    finish(i, slurm_unreadable_status_result(run_, run_.tasks[i], state, unreadable_[i]), "");
  }
  if (!states) return now_final;
  for (std::size_t i = 0; i < run_.tasks.size(); ++i) {
    if (results_[i]) continue;
    auto it = states->tasks.find(run_.tasks[i].index);
    std::string state = it == states->tasks.end() ? "" : it->second;
    if (state == "RUNNING" || state == "COMPLETING") ++running_;
    const bool forgotten = state.empty() && states->unlisted_ended;
    if (!is_final_slurm_state(state) && !forgotten) {
      ended_polls_[i] = 0;
      continue;
    }
    if (ended_polls_[i]++ == 0) ended_since_[i] = t;
    if (settle_ > 0 && (ended_polls_[i] < 2 || t - ended_since_[i] < settle_)) {
      ++ending_;
      continue;
    }
    finish(i, slurm_ended_result(run_, run_.tasks[i], state), "");
  }
  return now_final;
}

bool append_slurm_joblog(const SlurmRun& run, const SlurmMonitor& monitor) {
  if (run.joblog.empty()) return false;
  // Created exclusively: `tandem status` and the waiting tandem never both append.
  std::string marker = run.dir + "/joblog.appended";
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    throw_system_error("cannot create", marker, errno);
  }
  ::close(fd);
  JobLog log(run.joblog);
  for (std::size_t i = 0; i < run.tasks.size(); ++i) {
    const auto& result = monitor.results()[i];
    if (!result) continue;
    const std::string& host = monitor.hostnames()[i];
    std::vector<JobLogEntry> entries =
        read_joblog_entries(task_joblog_path(run, run.tasks[i].index));
    for (auto& e : entries) {
      e.host = host.empty() ? ":" : host;
      log.append(e);
    }
    // SLURM ended it before its pool logged the attempt: one failed line, so --resume reruns it.
    if (host.empty())
      log.append({result->seq, result->start_time, result->duration, -1, 0, result->command});
  }
  return true;
}

namespace {

// After scancel: running tasks end their jobs (SIGTERM, --grace, SIGKILL) and write their status
// files, pending ones become CANCELLED; wait for that, at most `limit` seconds, so that the
// joblog and report hold what the tasks say rather than "cancelled" for every one of them.
void await_cancelled(SlurmMonitor& monitor, PoolObserver* obs, double limit, double poll_seconds) {
  auto until = Clock::now() +
               std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limit));
  const auto step = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(std::min(poll_seconds, 1.0)));
  while (!monitor.all_ended() && Clock::now() < until) {
    std::this_thread::sleep_for(step);
    for (const auto& r : monitor.poll()) obs->job_finished(r);
  }
}

}  // namespace

MapResult wait_slurm_run(const SlurmRun& run, const MapPlan& plan, PoolObserver* observer,
                         double poll_seconds) {
  auto begin = Clock::now();
  PoolObserver none;
  PoolObserver* obs = observer ? observer : &none;
  SlurmMonitor monitor(run, std::min(60.0, 3 * poll_seconds));
  MapResult result;
  while (true) {
    for (const auto& r : monitor.poll()) obs->job_finished(r);
    obs->progress({run.tasks.size(), monitor.done(), monitor.failed(), monitor.running(),
                   seconds_since(begin)});
    if (monitor.finished() || tandem::interrupted()) break;
    auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(poll_seconds));
    while (Clock::now() < until && !tandem::interrupted()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if (!monitor.finished()) {
    obs->stopping("interrupted: cancelling SLURM job " + run.job_id + " with scancel");
    std::string why = cancel_slurm_run(run);
    if (why.empty()) {
      await_cancelled(monitor, obs, run.pool.grace + kCancelWaitSeconds, poll_seconds);
    } else {
      obs->stopping("scancel failed: " + why);
    }
    result.interrupted = true;
  }
  append_slurm_joblog(run, monitor);
  for (std::size_t i = 0; i < run.tasks.size(); ++i) {
    if (const auto& r = monitor.results()[i]) {
      result.results.push_back(*r);
      continue;
    }
    JobResult r = slurm_ended_result(run, run.tasks[i], "CANCELLED");
    if (r.outcome == Outcome::kInterrupted)
      r.message = "cancelled with scancel when tandem was interrupted";
    result.results.push_back(std::move(r));
  }
  result.results.insert(result.results.end(), plan.skipped.begin(), plan.skipped.end());
  std::sort(result.results.begin(), result.results.end(),
            [](const JobResult& a, const JobResult& b) { return a.seq < b.seq; });
  result.wall_seconds = seconds_since(begin);
  result.shard = plan.shard;
  result.total_subjects = plan.subjects.rows.size();
  return result;
}

SlurmRunStatus slurm_run_status(const SlurmRun& run) {
  SlurmMonitor monitor(run, 0);
  monitor.poll();
  SlurmRunStatus s;
  s.total = run.tasks.size();
  s.states_from = monitor.states_from();
  for (const auto& r : monitor.results()) {
    if (!r) continue;
    if (is_failure(r->outcome)) {
      ++s.failed;
      s.failures.push_back(*r);
    } else {
      ++s.ok;
    }
  }
  s.running = monitor.running();
  s.waiting = s.total - s.ok - s.failed - s.running;
  if (monitor.finished()) s.joblog_appended = append_slurm_joblog(run, monitor);
  return s;
}

std::string cancel_slurm_run(const SlurmRun& run) {
  if (run.job_id.empty()) return "no job id in " + run.dir + " (never submitted)";
  CapturedRun r = run_captured({"scancel", run.job_id});
  if (!r.started) return "scancel not found on PATH";
  if (r.exit_code != 0) return "scancel " + run.job_id + " failed: " + trimmed(r.err);
  return "";
}

bool run_slurm_task(const std::string& dir, int index) {
  SlurmRun run = load_slurm_run(dir);
  if (index < 1 || static_cast<std::size_t>(index) > run.tasks.size()) {
    throw UsageError("slurm-task: index " + std::to_string(index) + " is not in 1.." +
                     std::to_string(run.tasks.size()) + " of " + run.dir);
  }
  const SlurmTask& task = run.tasks[static_cast<std::size_t>(index) - 1];
  std::vector<JobSpec> jobs(1);
  jobs[0].name = task.name;
  jobs[0].seq = task.seq;
  jobs[0].outputs = task.outputs;
  jobs[0].stdout_path = task.stdout_path;
  jobs[0].stderr_path = task.stderr_path;
  JobLog log(task_joblog_path(run, index));
  Pool pool(run.pool, &log);
  JobResult r = pool.run(
                        jobs,
                        [&task](const JobSpec&, int) {
                          return JobCommand{task.argv, task.command};
                        },
                        nullptr)
                    .at(0);
  // scancel and the time limit signal every process of the task, one by one and in no set order
  // (slurmstepd, proctrack/linuxproc or cgroup): the job may die of SIGTERM before tandem is sent
  // its own. It was cancelled all the same, so give that signal a moment to arrive.
  if (r.outcome == Outcome::kSignal && !tandem::interrupted()) {
    for (int i = 0; i < kSignalWaitSteps && !tandem::interrupted(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  const bool cancelled = tandem::interrupted() && is_failure(r.outcome);
  if (cancelled || r.outcome == Outcome::kInterrupted || r.outcome == Outcome::kNotStarted) {
    r.outcome = Outcome::kInterrupted;
    r.message = "cancelled: the task got signal " + std::to_string(tandem::interrupt_signal()) +
                " (scancel, or SLURM's time limit)";
  }
  // The kernel's OOM killer (task/cgroup's memory limit, or the node's memory) ended the job.
  if (r.outcome == Outcome::kOom)
    r.message += ": give it more with --mem-per-job or --slurm-arg=--mem=...";
  write_task_status(run, index, {r, hostname()});
  return !is_failure(r.outcome);
}

}  // namespace tandem::jobs
