// SPDX-License-Identifier: Apache-2.0
// The pool with real `sh -c` children: outcomes, timeouts that end whole process groups,
// interrupts, retries, halting, declared outputs and leaks.
#include "jobs/pool.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "core/core_budget.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "jobs/joblog.h"
#include "process_test_util.h"

namespace tandem::jobs {
namespace {

using testing::TempDir;

// Runs each script as `sh -c SCRIPT` in its own job.
std::vector<JobResult> run_scripts(const std::vector<std::string>& scripts, PoolOptions options,
                                   JobLog* log = nullptr, Pool* pool_out = nullptr,
                                   std::vector<std::vector<std::string>> outputs = {}) {
  std::vector<JobSpec> jobs;
  for (std::size_t i = 0; i < scripts.size(); ++i) {
    JobSpec j;
    j.name = "job" + std::to_string(i + 1);
    j.seq = i + 1;
    if (i < outputs.size()) j.outputs = outputs[i];
    jobs.push_back(j);
  }
  CommandFactory factory = [&](const JobSpec& job, int slot) {
    std::string script = scripts[job.seq - 1];
    return JobCommand{{"sh", "-c", script, std::to_string(slot)}, script};
  };
  Pool pool(options, log);
  auto results = pool.run(jobs, factory, nullptr);
  if (pool_out != nullptr) *pool_out = pool;
  return results;
}

PoolOptions fast_options(int slots = 2) {
  PoolOptions o;
  o.slots = slots;
  o.grace = 0.3;
  o.retry_delay = 0.01;
  return o;
}

TEST(PoolTest, SucceedingJobsAreOk) {
  auto results = run_scripts({"exit 0", "true", "echo hi"}, fast_options());
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) {
    EXPECT_EQ(r.outcome, Outcome::kOk) << r.name << ": " << r.message;
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.attempts, 1);
    EXPECT_GT(r.peak_rss_bytes, 0);
  }
}

TEST(PoolTest, NonZeroExitIsFailureWithCode) {
  auto results = run_scripts({"exit 3", "true"}, fast_options());
  EXPECT_EQ(results[0].outcome, Outcome::kExit);
  EXPECT_EQ(results[0].exit_code, 3);
  EXPECT_EQ(results[0].message, "exit 3");
  EXPECT_EQ(results[1].outcome, Outcome::kOk);
}

TEST(PoolTest, CommandNotFoundIsItsOwnOutcome) {
  std::vector<JobSpec> jobs(1);
  jobs[0].name = "x";
  jobs[0].seq = 1;
  Pool pool(fast_options(), nullptr);
  auto direct = pool.run(
      jobs,
      [](const JobSpec&, int) {
        return JobCommand{{"tandem-no-such-command-zz"}, "x"};
      },
      nullptr);
  EXPECT_EQ(direct[0].outcome, Outcome::kNotFound);
  EXPECT_EQ(direct[0].exit_code, 127);
  auto shell = run_scripts({"tandem-no-such-command-zz"}, fast_options());
  EXPECT_EQ(shell[0].outcome, Outcome::kNotFound);
  EXPECT_EQ(shell[0].exit_code, 127);
}

TEST(PoolTest, KilledBySignalIsSignalNotOom) {
  auto results = run_scripts({"kill -USR1 $$", "kill -9 $$"}, fast_options());
  EXPECT_EQ(results[0].outcome, Outcome::kSignal);
  EXPECT_EQ(results[0].signal, SIGUSR1);
  EXPECT_EQ(results[1].outcome, Outcome::kSignal);
  EXPECT_EQ(results[1].signal, SIGKILL);
}

TEST(PoolTest, TimeoutEndsTheWholeGroupIncludingATermIgnoringGrandchild) {
  TempDir dir;
  testing::write_grandchild_scripts(dir);
  std::string marker = testing::unique_marker("timeout");
  testing::KillMarkedOnExit cleanup(marker);
  PoolOptions o = fast_options();
  o.timeout = 1;
  auto results =
      run_scripts({"sh " + dir / "leader.sh" + " " + dir.str() + " " + marker + " wait"}, o);
  EXPECT_EQ(results[0].outcome, Outcome::kTimeout);
  EXPECT_NE(results[0].signal, 0);
  int leader = testing::read_pid(dir / "leader");
  int grand = testing::read_pid(dir / "grand");
  ASSERT_GT(leader, 0);
  ASSERT_GT(grand, 0);
  EXPECT_FALSE(testing::pid_exists(grand));
  EXPECT_FALSE(testing::pid_exists(leader));
  EXPECT_TRUE(testing::processes_with_marker(marker).empty());
  EXPECT_TRUE(testing::own_children().empty());
}

TEST(PoolTest, FinishedJobsLeftoverBackgroundChildIsEnded) {
  TempDir dir;
  testing::write_grandchild_scripts(dir);
  std::string marker = testing::unique_marker("leftover");
  testing::KillMarkedOnExit cleanup(marker);
  auto results = run_scripts({"sh " + dir / "leader.sh" + " " + dir.str() + " " + marker + " exit"},
                             fast_options());
  EXPECT_EQ(results[0].outcome, Outcome::kOk);
  int grand = testing::read_pid(dir / "grand");
  ASSERT_GT(grand, 0);
  EXPECT_FALSE(testing::pid_exists(grand));
  EXPECT_TRUE(testing::processes_with_marker(marker).empty());
}

TEST(PoolTest, GrandchildThatCallsSetsidIsStillEnded) {
  TempDir dir;
  testing::write_grandchild_scripts(dir);
  std::string marker = testing::unique_marker("setsid");
  testing::KillMarkedOnExit cleanup(marker);
  auto results = run_scripts(
      {"sh " + dir / "leader.sh" + " " + dir.str() + " " + marker + " setsid"}, fast_options());
  EXPECT_EQ(results[0].outcome, Outcome::kOk);
  EXPECT_TRUE(testing::processes_with_marker(marker).empty());
  EXPECT_TRUE(testing::own_children().empty());
}

TEST(PoolTest, InterruptStopsLaunchingAndEndsEveryGroup) {
  TempDir dir;
  testing::write_grandchild_scripts(dir);
  std::string marker = testing::unique_marker("interrupt");
  testing::KillMarkedOnExit cleanup(marker);
  install_interrupt_handlers();
  reset_interrupted();
  std::string slow = "sh " + dir / "leader.sh" + " " + dir.str() + " " + marker + " wait";
  // Job 2 interrupts tandem (its parent) once job 1's grandchild runs, like Ctrl-C would.
  std::string trigger =
      "while [ ! -e " + dir / "grand" + " ]; do sleep 0.01; done; kill -INT $PPID; sleep 30";
  JobLog log(dir / "joblog");
  Pool pool(fast_options(), nullptr);
  auto results = run_scripts({slow, trigger, "true", "true"}, fast_options(), &log, &pool);
  bool was_interrupted = interrupted();
  reset_interrupted();
  EXPECT_TRUE(was_interrupted);
  EXPECT_TRUE(pool.interrupted());
  EXPECT_EQ(results[0].outcome, Outcome::kInterrupted);
  EXPECT_EQ(results[1].outcome, Outcome::kInterrupted);
  EXPECT_EQ(results[2].outcome, Outcome::kNotStarted);
  EXPECT_EQ(results[3].outcome, Outcome::kNotStarted);
  EXPECT_TRUE(testing::processes_with_marker(marker).empty());
  EXPECT_TRUE(testing::own_children().empty());
  auto lines = testing::read_lines(dir / "joblog");
  EXPECT_EQ(lines.size(), 3u);  // header + the two started jobs
}

// Collects what the pool says when it stops.
class StoppingLog : public PoolObserver {
 public:
  void stopping(const std::string& reason) override { reasons.push_back(reason); }
  std::vector<std::string> reasons;
};

TEST(PoolTest, SecondInterruptKillsTheJobsWithoutWaitingForTheGrace) {
  TempDir dir;
  std::string marker = testing::unique_marker("again");
  testing::KillMarkedOnExit cleanup(marker);
  install_interrupt_handlers();
  reset_interrupted();
  // Both jobs ignore SIGINT and SIGTERM, so only SIGKILL ends them; job 2 presses Ctrl-C twice
  // (interrupts its parent, the pool) once job 1 runs.
  std::string stubborn = "trap '' INT TERM; touch " + dir / "up" + "; sleep 30 # " + marker;
  std::string twice = "trap '' INT TERM; while [ ! -e " + dir / "up" +
                      " ]; do sleep 0.01; done; kill -INT $PPID; sleep 0.5; kill -INT $PPID;"
                      " sleep 30 # " +
                      marker;
  std::vector<JobSpec> jobs(2);
  for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i].seq = i + 1;
  std::vector<std::string> scripts = {stubborn, twice};
  CommandFactory factory = [&](const JobSpec& job, int) {
    return JobCommand{{"sh", "-c", scripts[job.seq - 1]}, scripts[job.seq - 1]};
  };
  PoolOptions options = fast_options();
  options.grace = 20;
  StoppingLog log;
  auto begin = std::chrono::steady_clock::now();
  auto results = Pool(options, nullptr).run(jobs, factory, &log);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  reset_interrupted();
  EXPECT_LT(seconds, 10.0);
  EXPECT_EQ(results[0].outcome, Outcome::kInterrupted);
  EXPECT_EQ(results[1].outcome, Outcome::kInterrupted);
  EXPECT_TRUE(testing::processes_with_marker(marker).empty());
  ASSERT_EQ(log.reasons.size(), 2u);
  EXPECT_EQ(log.reasons[0],
            "interrupted; waiting up to 20s for 2 running jobs to end (Ctrl-C again to kill them "
            "now)");
  EXPECT_EQ(log.reasons[1], "interrupted again; killing 2 running jobs now");
}

TEST(PoolTest, RetriesUntilSuccess) {
  TempDir dir;
  std::string counter = dir / "count";
  std::string script = "n=$(cat " + counter + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " +
                       counter + "; [ $n -ge 3 ]";
  PoolOptions o = fast_options();
  o.retries = 2;
  JobLog log(dir / "joblog");
  auto ok = run_scripts({script}, o, &log);
  EXPECT_EQ(ok[0].outcome, Outcome::kOk);
  EXPECT_EQ(ok[0].attempts, 3);
  EXPECT_EQ(testing::read_lines(dir / "joblog").size(), 4u);  // header + one line per attempt
  std::filesystem::remove(counter);
  o.retries = 1;
  auto failed = run_scripts({script}, o);
  EXPECT_EQ(failed[0].outcome, Outcome::kExit);
  EXPECT_EQ(failed[0].attempts, 2);
}

TEST(PoolTest, HaltSoonStopsLaunchingAfterFailures) {
  PoolOptions o = fast_options(1);
  o.halt = parse_halt("soon,fail=1");
  Pool pool(o, nullptr);
  auto results = run_scripts({"exit 1", "true", "true"}, o, nullptr, &pool);
  EXPECT_TRUE(pool.halted());
  EXPECT_FALSE(pool.interrupted());
  EXPECT_EQ(results[0].outcome, Outcome::kExit);
  EXPECT_EQ(results[1].outcome, Outcome::kNotStarted);
  EXPECT_EQ(results[2].outcome, Outcome::kNotStarted);
}

TEST(PoolTest, HaltNowEndsRunningJobs) {
  std::string marker = testing::unique_marker("halt");
  testing::KillMarkedOnExit cleanup(marker);
  PoolOptions o = fast_options(2);
  o.halt = parse_halt("now,fail=1");
  auto results = run_scripts({"sleep 30; echo " + marker, "sleep 0.2; exit 1"}, o);
  EXPECT_EQ(results[0].outcome, Outcome::kInterrupted);
  EXPECT_EQ(results[1].outcome, Outcome::kExit);
  EXPECT_TRUE(testing::processes_with_marker(marker).empty());
}

TEST(PoolTest, MissingDeclaredOutputIsFailure) {
  TempDir dir;
  JobLog log(dir / "joblog");
  auto results = run_scripts({"true", "touch " + dir / "b"}, fast_options(), &log, nullptr,
                             {{dir / "a"}, {dir / "b"}});
  EXPECT_EQ(results[0].outcome, Outcome::kMissingOutput);
  EXPECT_EQ(results[1].outcome, Outcome::kOk);
  // Exit 0 without its output must not read as done to --resume.
  auto history = read_joblog(dir / "joblog");
  EXPECT_EQ(history.failed.count("true"), 1u);
  EXPECT_EQ(history.succeeded.count("touch " + dir / "b"), 1u);
}

TEST(PoolTest, FailedJobsOutputsAreRemovedOrMovedAside) {
  TempDir dir;
  auto results = run_scripts({"echo partial > " + dir / "a" + "; exit 1"}, fast_options(), nullptr,
                             nullptr, {{dir / "a"}});
  EXPECT_EQ(results[0].outcome, Outcome::kExit);
  EXPECT_FALSE(std::filesystem::exists(dir / "a"));
  PoolOptions keep = fast_options();
  keep.keep_failed = true;
  run_scripts({"echo partial > " + dir / "a" + "; exit 1"}, keep, nullptr, nullptr, {{dir / "a"}});
  EXPECT_FALSE(std::filesystem::exists(dir / "a"));
  EXPECT_EQ(testing::read_text(dir / "a.failed"), "partial\n");
}

TEST(PoolTest, SlotsAndEnvironmentReachTheJob) {
  PoolOptions o = fast_options(2);
  o.env = {{"OMP_NUM_THREADS", "3"}};
  // $0 is the slot ({%}) given by run_scripts.
  auto results = run_scripts(
      {"[ \"$OMP_NUM_THREADS\" = 3 ]", "[ \"$0\" -ge 1 ] && [ \"$0\" -le 2 ]", "[ \"$0\" -le 2 ]"},
      o);
  for (const auto& r : results) EXPECT_EQ(r.outcome, Outcome::kOk) << r.name;
}

TEST(PoolTest, SharedCoreBudgetLimitsConcurrencyAndIsGivenBack) {
  TempDir dir;
  // Each job needs both cores of the budget, so no two may overlap, whatever the slots.
  std::string job = "mkdir " + dir / "lock" + " || exit 1; sleep 0.1; rmdir " + dir / "lock";
  CoreBudget budget(2);
  PoolOptions o = fast_options(4);
  o.budget = &budget;
  o.cores_per_job = 2;
  auto results = run_scripts({job, job, job}, o);
  for (const auto& r : results) EXPECT_EQ(r.outcome, Outcome::kOk) << r.name;
  EXPECT_EQ(budget.in_use(), 0);
  EXPECT_EQ(budget.peak(), 2);
  // Cores held elsewhere (an SVD worker) hold the job back until they are released.
  budget.acquire(1);
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    testing::write_text(dir / "released", "");
    budget.release(1);
  });
  auto later = run_scripts({"test -e " + dir / "released"}, o);
  release.join();
  EXPECT_EQ(later[0].outcome, Outcome::kOk);
  EXPECT_EQ(budget.in_use(), 0);
}

TEST(PoolTest, ThousandJobsLeakNoDescriptorsOrZombies) {
  int fds_before = testing::open_fd_count();
  std::vector<std::string> scripts(1000, "true");
  auto results = run_scripts(scripts, fast_options(2));
  std::size_t ok = 0;
  for (const auto& r : results) ok += r.outcome == Outcome::kOk;
  EXPECT_EQ(ok, 1000u);
  EXPECT_EQ(testing::open_fd_count(), fds_before);
  EXPECT_TRUE(testing::own_children().empty());
}

TEST(PoolTest, ParsesHaltPolicies) {
  EXPECT_EQ(parse_halt("never").mode, HaltMode::kNever);
  EXPECT_EQ(parse_halt("soon,fail=3").failures, 3);
  EXPECT_EQ(parse_halt("now,fail=1").mode, HaltMode::kNow);
  EXPECT_THROW(parse_halt("later"), Error);
  EXPECT_THROW(parse_halt("soon,fail=0"), Error);
  EXPECT_THROW(parse_halt("now,fail=x"), Error);
}

}  // namespace
}  // namespace tandem::jobs
