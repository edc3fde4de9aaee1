// SPDX-License-Identifier: Apache-2.0
#include "jobs/pool.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "core/core_budget.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "jobs/joblog.h"
#include "jobs/outputs.h"
#include "jobs/process_posix.h"
#include "jobs/resources.h"

namespace tandem::jobs {

namespace {

using Clock = std::chrono::steady_clock;

// The longest sleep of the wait loop: bounds how late SIGINT/SIGTERM/SIGHUP is noticed when it
// arrives just before the sleep or is handled by another thread (neither wakes the poll).
constexpr double kMaxWait = 0.2;
// How often a job waiting for cores from a shared budget checks whether it got them.
constexpr double kBudgetPoll = 0.01;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

Clock::time_point after(Clock::time_point t, double seconds) {
  return t + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

double epoch_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// One attempt in flight. pid is also the process group id.
struct Attempt {
  std::size_t job = 0;
  pid_t pid = -1;
  int slot = 0;
  Clock::time_point start;
  double start_epoch = 0;
  Clock::time_point deadline = Clock::time_point::max();
  Clock::time_point kill_at = Clock::time_point::max();
  bool terminating = false;
  bool killed = false;
  bool timed_out = false;
  bool stopped = false;
  std::uint64_t oom_before = 0;
  // Cores held from PoolOptions::budget, given back when the process ends.
  int cores = 0;
  // In-memory stdout/stderr when the job has no log files; shared so Attempt stays copyable.
  std::shared_ptr<MemoryFile> out;
  std::shared_ptr<MemoryFile> err;
};

// A finished job's group that still has members (a background grandchild).
struct Leftover {
  pid_t pgid;
  Clock::time_point kill_at;
  bool killed = false;
};

// The state of one Pool::run call.
class PoolRun {
 public:
  explicit PoolRun(const PoolTask& task)
      : options_(task.options),
        joblog_(task.joblog),
        jobs_(*task.jobs),
        command_(task.command),
        observer_(task.observer ? task.observer : &null_observer_),
        gate_(options_.mem_per_job),
        slot_busy_(static_cast<std::size_t>(std::max(1, options_.slots)) + 1, false),
        begin_(Clock::now()) {
    results_.resize(jobs_.size());
    for (std::size_t i = 0; i < jobs_.size(); ++i) {
      results_[i].name = jobs_[i].name;
      results_[i].seq = jobs_[i].seq;
      results_[i].outputs = jobs_[i].outputs;
      results_[i].stdout_path = jobs_[i].stdout_path;
      results_[i].stderr_path = jobs_[i].stderr_path;
      ready_.push_back(i);
    }
  }

  // Reached with jobs still running only when an exception (the joblog could not be written)
  // leaves run(): even then nothing may outlive tandem.
  ~PoolRun() {
    for (const auto& [pid, a] : running_) signal_group(pid, SIGKILL);
    for (const auto& l : leftovers_) signal_group(l.pgid, SIGKILL);
    for (const auto& [pid, a] : running_) {
      ::waitpid(pid, nullptr, 0);
      release_cores(a);
    }
    cancel_ticket();
  }
  PoolRun(const PoolRun&) = delete;
  PoolRun& operator=(const PoolRun&) = delete;

  // One pass of the loop for this run: interrupt, deadlines, launches, progress. `interrupts`
  // counts the SIGINT/SIGTERM/SIGHUP received while the loop runs.
  void tick(Clock::time_point now, int interrupts) {
    interrupts_ = interrupts;
    if (!stopping_ && tandem::interrupted()) {
      stop(tandem::interrupt_signal(), "interrupted");
    } else if (stopping_ && !killing_ && interrupts > std::min(interrupts_at_stop_, 1)) {
      // Another Ctrl-C after the one that stopped the run (or during --halt now's grace):
      // the user will not wait out --grace.
      kill_now();
    }
    enforce_deadlines(now);
    if (!stopping_) launch(now);
    if (stopping_) cancel_ticket();
    report_progress(now, false);
  }

  // Nothing runs and nothing more will start.
  bool finished() const {
    return running_.empty() && leftovers_.empty() && (stopping_ || nothing_pending());
  }

  // Takes a reaped child that leads one of this run's jobs; false when it is not one of them.
  bool take_reaped(const ReapedChild& c) {
    auto it = running_.find(c.pid);
    if (it == running_.end()) return false;
    Attempt a = it->second;
    running_.erase(it);
    slot_busy_[static_cast<std::size_t>(a.slot)] = false;
    release_cores(a);
    auto now = Clock::now();
    if (group_alive(a.pid)) {
      // Members outlive the leader: end them too, from now or from the earlier TERM.
      if (!a.terminating) signal_group(a.pid, SIGTERM);
      leftovers_.push_back({a.pid, a.terminating ? a.kill_at : after(now, options_.grace)});
    }
    classify(a, c, now);
    return true;
  }

  std::vector<JobResult> finish_run() {
    report_progress(Clock::now(), true);
    return std::move(results_);
  }

  // When this run next needs the loop: a deadline, a kill, a retry, a budget poll.
  Clock::time_point next_wake(Clock::time_point now) const {
    Clock::time_point next = after(now, kMaxWait);
    for (const auto& [pid, a] : running_) {
      next = std::min(next, a.terminating ? (a.killed ? next : a.kill_at) : a.deadline);
    }
    for (const auto& l : leftovers_) {
      if (!l.killed) next = std::min(next, l.kill_at);
    }
    if (!retries_.empty()) next = std::min(next, retries_.begin()->first);
    // A queued budget request is granted by other threads without waking this one: poll it.
    if (ticket_) next = std::min(next, after(now, kBudgetPoll));
    return next;
  }

  bool interrupted() const { return interrupted_; }
  bool halted() const { return halted_; }

 private:
  bool nothing_pending() const { return ready_.empty() && retries_.empty(); }

  void launch(Clock::time_point now) {
    while (!retries_.empty() && retries_.begin()->first <= now) {
      ready_.push_front(retries_.begin()->second);
      retries_.erase(retries_.begin());
    }
    // One reading of the OOM counter serves every job started in this pass.
    std::uint64_t oom_count = 0;
    bool oom_read = false;
    while (!ready_.empty() && static_cast<int>(running_.size()) < options_.slots &&
           gate_.may_start(static_cast<int>(running_.size()), now) && take_cores()) {
      std::size_t job = ready_.front();
      ready_.pop_front();
      if (!oom_read) oom_count = oom_kill_count();
      oom_read = true;
      start(job, now, oom_count);
    }
  }

  // With a shared budget, the next job waits in its queue; true once its cores are held.
  bool take_cores() {
    if (options_.budget == nullptr) return true;
    if (!ticket_) ticket_ = options_.budget->request(options_.cores_per_job);
    if (!options_.budget->ready(*ticket_)) return false;
    ticket_.reset();
    held_ = options_.budget->clamp(options_.cores_per_job);
    return true;
  }

  void release_cores(const Attempt& a) {
    if (options_.budget != nullptr && a.cores > 0) options_.budget->release(a.cores);
  }

  void cancel_ticket() {
    if (options_.budget != nullptr && ticket_) options_.budget->cancel(*ticket_);
    ticket_.reset();
  }

  int free_slot() {
    for (std::size_t s = 1; s < slot_busy_.size(); ++s) {
      if (!slot_busy_[s]) return static_cast<int>(s);
    }
    return 1;
  }

  void start(std::size_t job, Clock::time_point now, std::uint64_t oom_count) {
    JobResult& result = results_[job];
    Attempt a;
    a.job = job;
    a.slot = free_slot();
    a.start = now;
    a.start_epoch = epoch_now();
    JobCommand cmd = command_(jobs_[job], a.slot);
    result.command = cmd.display;
    if (result.attempts++ == 0) result.start_time = a.start_epoch;
    a.oom_before = oom_count;
    a.cores = std::exchange(held_, 0);
    if (std::string why = make_output_parents(jobs_[job].outputs); !why.empty()) {
      observer_->job_started(result, a.slot);
      release_cores(a);
      finish(a, Outcome::kExit, -1, 0, 0, why, now);
      return;
    }
    ProcessSpec spec{cmd.argv, options_.env, jobs_[job].stdout_path, jobs_[job].stderr_path};
    StartedProcess p;
    try {
      if (jobs_[job].stdout_path.empty() && jobs_[job].stderr_path.empty()) {
        a.out = std::make_shared<MemoryFile>();
        a.err = std::make_shared<MemoryFile>();
        spec.stdout_fd = a.out->fd();
        spec.stderr_fd = a.err->fd();
      }
      p = start_process(spec);
    } catch (const std::exception& e) {
      // Out of descriptors or memory: this attempt fails, the run goes on.
      a.out.reset();
      a.err.reset();
      p.error = EMFILE;
      p.message = e.what();
    }
    observer_->job_started(result, a.slot);
    if (p.pid < 0) {
      release_cores(a);
      // Never ran: a shell would have said 127 (not found) or 126 (cannot execute).
      bool missing = p.error == ENOENT;
      finish(a, missing ? Outcome::kNotFound : Outcome::kExit, missing ? 127 : 126, 0, 0, p.message,
             now);
      return;
    }
    a.pid = p.pid;
    if (options_.timeout > 0) a.deadline = after(now, options_.timeout);
    gate_.started(now);
    slot_busy_[static_cast<std::size_t>(a.slot)] = true;
    running_.emplace(a.pid, a);
  }

  void classify(const Attempt& a, const ReapedChild& c, Clock::time_point now) {
    int code = WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1;
    int sig = WIFSIGNALED(c.status) ? WTERMSIG(c.status) : 0;
    JobResult& result = results_[a.job];
    result.peak_rss_bytes = std::max(result.peak_rss_bytes, c.peak_rss_bytes);
    Outcome outcome = Outcome::kOk;
    std::string message;
    if (a.stopped) {
      outcome = Outcome::kInterrupted;
      message = halted_ ? "ended by --halt now" : "ended by an interrupt";
    } else if (a.timed_out) {
      outcome = Outcome::kTimeout;
      char limit[32];
      std::snprintf(limit, sizeof limit, "%gs", options_.timeout);
      message = std::string("ran past --timeout ") + limit;
    } else if (sig != 0) {
      bool oom = sig == SIGKILL && oom_kill_count() > a.oom_before;
      outcome = oom ? Outcome::kOom : Outcome::kSignal;
      message = oom ? "killed by the OOM killer"
                    : "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
    } else if (code == 127) {
      outcome = Outcome::kNotFound;
      message = "command not found (exit 127)";
    } else if (code != 0) {
      outcome = Outcome::kExit;
      message = "exit " + std::to_string(code);
    } else if (auto missing = missing_outputs(jobs_[a.job].outputs); !missing.empty()) {
      outcome = Outcome::kMissingOutput;
      message = "exited 0 but did not create " + missing.front();
    }
    finish(a, outcome, code, sig, seconds_between(a.start, now), message, now);
  }

  void finish(const Attempt& a, Outcome outcome, int code, int sig, double runtime,
              const std::string& message, Clock::time_point now) {
    JobResult& result = results_[a.job];
    result.outcome = outcome;
    result.exit_code = code;
    result.signal = sig;
    result.duration += runtime;
    result.message = message;
    if (joblog_ != nullptr) {
      // GNU parallel writes Exitval -1 for a timeout and 0 (with the signal) when killed. A job
      // that exited 0 but still failed (interrupted, missing output) is logged with -1 as well,
      // so that --resume never reads it as done.
      bool failed_quietly = is_failure(outcome) && code <= 0 && sig == 0;
      int logged = a.timed_out || failed_quietly ? -1 : std::max(code, 0);
      joblog_->append({result.seq, a.start_epoch, runtime, logged, sig, result.command});
    }
    bool retryable = is_failure(outcome) && outcome != Outcome::kNotFound &&
                     outcome != Outcome::kInterrupted && result.attempts <= options_.retries &&
                     !stopping_ && !halt_soon_;
    if (a.out) collect_output(a, result, is_failure(outcome), !retryable);
    if (!is_failure(outcome)) {
      ++done_;
      observer_->job_finished(result);
      return;
    }
    discard_outputs(jobs_[a.job].outputs, options_.keep_failed && !retryable);
    if (retryable) {
      const double delay = retry_delay_seconds(options_.retry_delay, result.attempts - 1);
      retries_.emplace(after(now, delay), a.job);
      observer_->job_retrying(result, delay);
      return;
    }
    ++done_;
    ++failed_;
    observer_->job_finished(result);
    check_halt();
  }

  // Hands captured output to the observer (final attempts) and saves a failure's to files.
  void collect_output(const Attempt& a, JobResult& result, bool failed, bool final_attempt) {
    std::string out = a.out->contents();
    std::string err = a.err->contents();
    if (failed && !options_.failure_log_dir.empty()) {
      std::string base = options_.failure_log_dir + "/" + std::to_string(result.seq);
      result.stdout_path = base + ".out";
      result.stderr_path = base + ".err";
      std::ofstream(result.stdout_path, std::ios::binary) << out;
      std::ofstream(result.stderr_path, std::ios::binary) << err;
    }
    if (final_attempt) observer_->job_output(result, out, err);
  }

  void check_halt() {
    const HaltPolicy& h = options_.halt;
    if (h.mode == HaltMode::kNever || failed_ < static_cast<std::size_t>(h.failures)) return;
    if (halt_soon_ || stopping_) return;
    halt_soon_ = true;
    halted_ = true;
    if (h.mode == HaltMode::kNow) {
      stop(SIGTERM, "--halt now: " + std::to_string(failed_) + " failed");
    } else {
      observer_->stopping("--halt soon: " + std::to_string(failed_) +
                          " failed, waiting for the running jobs");
      ready_.clear();
      retries_.clear();
    }
  }

  // Stops launching and sends `sig` to every running group; SIGKILL follows after the grace.
  void stop(int sig, const std::string& reason) {
    stopping_ = true;
    interrupted_ = !halted_;
    interrupts_at_stop_ = interrupts_;
    observer_->stopping(reason + "; " + waiting_for_running(interrupted_));
    auto now = Clock::now();
    for (auto& [pid, a] : running_) {
      signal_group(pid, sig);
      a.stopped = true;
      if (!a.terminating) a.kill_at = after(now, options_.grace);
      a.terminating = true;
    }
  }

  // "waiting up to 5s for 2 running jobs to end (Ctrl-C again to kill them now)".
  std::string waiting_for_running(bool after_ctrl_c) const {
    const std::size_t n = running_.size();
    if (n == 0) return "no job is running";
    char grace[32];
    std::snprintf(grace, sizeof grace, "%gs", options_.grace);
    std::string jobs = n == 1 ? "1 running job" : std::to_string(n) + " running jobs";
    return std::string("waiting up to ") + grace + " for " + jobs + " to end (Ctrl-C " +
           (after_ctrl_c ? "again " : "") + "to kill " + (n == 1 ? "it" : "them") + " now)";
  }

  void kill_now() {
    killing_ = true;
    if (!running_.empty()) {
      observer_->stopping("interrupted again; killing " + std::to_string(running_.size()) +
                          (running_.size() == 1 ? " running job now" : " running jobs now"));
    }
    for (auto& [pid, a] : running_) {
      if (a.killed) continue;
      signal_group(pid, SIGKILL);
      a.stopped = a.terminating = a.killed = true;
    }
    for (auto& l : leftovers_) {
      if (l.killed) continue;
      signal_group(l.pgid, SIGKILL);
      l.killed = true;
    }
  }

  void enforce_deadlines(Clock::time_point now) {
    for (auto& [pid, a] : running_) {
      if (!a.terminating && now >= a.deadline) {
        signal_group(pid, SIGTERM);
        a.terminating = true;
        a.timed_out = true;
        a.kill_at = after(now, options_.grace);
      } else if (a.terminating && !a.killed && now >= a.kill_at) {
        signal_group(pid, SIGKILL);
        a.killed = true;
      }
    }
    for (auto it = leftovers_.begin(); it != leftovers_.end();) {
      if (!group_alive(it->pgid)) {
        it = leftovers_.erase(it);
        continue;
      }
      if (!it->killed && now >= it->kill_at) {
        signal_group(it->pgid, SIGKILL);
        it->killed = true;
      }
      ++it;
    }
  }

  void report_progress(Clock::time_point now, bool force) {
    if (!force && now - last_progress_ < std::chrono::milliseconds(500) && done_ == last_done_ &&
        running_.size() == last_running_) {
      return;
    }
    last_progress_ = now;
    last_done_ = done_;
    last_running_ = running_.size();
    observer_->progress(
        {jobs_.size(), done_, failed_, running_.size(), seconds_between(begin_, now)});
  }

  const PoolOptions& options_;
  JobLog* joblog_;
  const std::vector<JobSpec>& jobs_;
  const CommandFactory& command_;
  PoolObserver null_observer_;
  PoolObserver* observer_;
  MemoryGate gate_;
  std::vector<bool> slot_busy_;
  std::vector<JobResult> results_;
  std::deque<std::size_t> ready_;
  std::multimap<Clock::time_point, std::size_t> retries_;
  std::map<pid_t, Attempt> running_;
  std::vector<Leftover> leftovers_;
  std::optional<CoreBudget::Ticket> ticket_;
  int held_ = 0;
  Clock::time_point begin_;
  Clock::time_point last_progress_;
  std::size_t done_ = 0;
  std::size_t failed_ = 0;
  std::size_t last_done_ = 0;
  std::size_t last_running_ = 0;
  bool stopping_ = false;
  // A further interrupt arrived while stopping: every group has been sent SIGKILL.
  bool killing_ = false;
  int interrupts_ = 0;
  int interrupts_at_stop_ = 0;
  bool halt_soon_ = false;
  bool interrupted_ = false;
  bool halted_ = false;
};

// Descendants that left their job's group (setsid) were re-parented to us through the
// subreaper; nothing may outlive the run, so they are ended like a group.
void end_adopted_children(ChildSignalScope& signals, double grace,
                          const InterruptCountScope& interrupts) {
  const int interrupts_before = interrupts.count();
  auto now = Clock::now();
  auto kill_at = after(now, grace);
  // Past this, whatever is left cannot be killed (uninterruptible sleep): give up on it.
  auto give_up = after(kill_at, 2.0);
  bool termed = false;
  while (true) {
    ReapedChild c;
    while (reap_one(c)) {
    }
    auto children = child_processes();
    now = Clock::now();
    if (children.empty() || now >= give_up) return;
    // Like the loop: an interrupt after the one that stopped the run kills without the grace.
    const int seen = interrupts.count();
    bool kill_now = now >= kill_at || seen >= 2 || seen > interrupts_before;
    if (kill_now || !termed) {
      // Adoptees that called setsid lead their own group: end the group with them.
      for (pid_t pid : children) {
        ::kill(pid, kill_now ? SIGKILL : SIGTERM);
        signal_group(pid, kill_now ? SIGKILL : SIGTERM);
      }
      termed = true;
    }
    signals.wait(0.05);
  }
}

}  // namespace

void run_pools(std::vector<PoolTask>& tasks) {
  bool subreaper = false;
  double grace = 0;
  for (const PoolTask& t : tasks) {
    TANDEM_EXPECTS(t.jobs != nullptr && t.options.slots >= 1, "a pool task needs jobs and a slot");
    subreaper = subreaper || t.options.subreaper;
    grace = std::max(grace, t.options.grace);
  }
  const bool was_subreaper = subreaper && set_subreaper(true);
  {
    ChildSignalScope signals;
    InterruptCountScope interrupts;
    std::vector<std::unique_ptr<PoolRun>> runs;
    for (const PoolTask& t : tasks) runs.push_back(std::make_unique<PoolRun>(t));
    while (true) {
      // One reaper for every run: a child of this process can be waited for in one place only.
      ReapedChild c;
      while (reap_one(c)) {
        // A child no run claims is a descendant adopted through the subreaper, now reaped.
        for (auto& r : runs) {
          if (r->take_reaped(c)) break;
        }
      }
      const auto now = Clock::now();
      bool all_finished = true;
      auto wake = after(now, kMaxWait);
      for (auto& r : runs) {
        r->tick(now, interrupts.count());
        all_finished = all_finished && r->finished();
        wake = std::min(wake, r->next_wake(now));
      }
      if (all_finished) break;
      signals.wait(std::max(0.0, seconds_between(Clock::now(), wake)));
    }
    if (subreaper) end_adopted_children(signals, grace, interrupts);
    for (std::size_t i = 0; i < runs.size(); ++i) {
      tasks[i].interrupted = runs[i]->interrupted();
      tasks[i].halted = runs[i]->halted();
      tasks[i].results = runs[i]->finish_run();
    }
  }
  if (subreaper && !was_subreaper) set_subreaper(false);
}

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kExit:
      return "exit";
    case Outcome::kSignal:
      return "signal";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kOom:
      return "oom";
    case Outcome::kNotFound:
      return "not_found";
    case Outcome::kMissingOutput:
      return "missing_output";
    case Outcome::kInterrupted:
      return "interrupted";
    case Outcome::kSkipped:
      return "skipped";
    case Outcome::kNotStarted:
      return "not_started";
  }
  return "unknown";
}

bool is_failure(Outcome outcome) { return outcome != Outcome::kOk && outcome != Outcome::kSkipped; }

double retry_delay_seconds(double first_delay, int retry) {
  constexpr double kMaxRetryDelay = 60;
  return std::min(kMaxRetryDelay, first_delay * std::pow(2.0, retry));
}

HaltPolicy parse_halt(const std::string& text) {
  HaltPolicy policy;
  if (text == "never") return policy;
  auto comma = text.find(',');
  std::string when = text.substr(0, comma);
  std::string rest = comma == std::string::npos ? "fail=1" : text.substr(comma + 1);
  if ((when == "soon" || when == "now") && rest.rfind("fail=", 0) == 0) {
    try {
      std::size_t used = 0;
      int k = std::stoi(rest.substr(5), &used);
      if (k >= 1 && used == rest.size() - 5) {
        policy.mode = when == "soon" ? HaltMode::kSoon : HaltMode::kNow;
        policy.failures = k;
        return policy;
      }
    } catch (const std::exception&) {
    }
  }
  throw UsageError("--halt: '" + text + "' is not never, soon,fail=K or now,fail=K");
}

Pool::Pool(PoolOptions options, JobLog* joblog) : options_(std::move(options)), joblog_(joblog) {
  TANDEM_EXPECTS(options_.slots >= 1, "the pool needs at least one slot");
}

std::vector<JobResult> Pool::run(const std::vector<JobSpec>& jobs, const CommandFactory& command,
                                 PoolObserver* observer) {
  std::vector<PoolTask> tasks(1);
  tasks[0].options = options_;
  tasks[0].joblog = joblog_;
  tasks[0].jobs = &jobs;
  tasks[0].command = command;
  tasks[0].observer = observer;
  run_pools(tasks);
  interrupted_ = tasks[0].interrupted;
  halted_ = tasks[0].halted;
  return std::move(tasks[0].results);
}

}  // namespace tandem::jobs
