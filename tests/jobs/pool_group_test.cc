// SPDX-License-Identifier: Apache-2.0
// Several job lists in one loop (run_pools): they run at the same time, and each keeps its own
// halt, timeout and results.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/core_budget.h"
#include "jobs/pool.h"
#include "process_test_util.h"

namespace tandem::jobs {
namespace {

using testing::TempDir;

// A list of `sh -c SCRIPT` jobs that owns what its PoolTask points to.
struct ScriptList {
  std::vector<std::string> scripts;
  std::vector<JobSpec> jobs;
  explicit ScriptList(std::vector<std::string> s) : scripts(std::move(s)) {
    for (std::size_t i = 0; i < scripts.size(); ++i) {
      JobSpec j;
      j.name = "job" + std::to_string(i + 1);
      j.seq = i + 1;
      jobs.push_back(j);
    }
  }
  PoolTask task(PoolOptions options) const {
    PoolTask t;
    t.options = std::move(options);
    t.jobs = &jobs;
    t.command = [this](const JobSpec& job, int) {
      const std::string& s = scripts[job.seq - 1];
      return JobCommand{{"sh", "-c", s}, s};
    };
    return t;
  }
};

PoolOptions fast(int slots) {
  PoolOptions o;
  o.slots = slots;
  o.grace = 0.3;
  o.retry_delay = 0.01;
  return o;
}

// Marks `mine`, then waits (up to `tries` × 50 ms) for `theirs`: succeeds only when the other
// job runs at the same time.
std::string rendezvous(const TempDir& dir, const std::string& mine, const std::string& theirs,
                       int tries = 200) {
  return "touch " + dir / mine + "; i=0; while [ ! -e " + dir / theirs +
         " ]; do i=$((i+1)); [ $i -gt " + std::to_string(tries) + " ] && exit 9; sleep 0.05; done";
}

TEST(RunPoolsTest, ListsRunAtTheSameTime) {
  TempDir dir;
  ScriptList a({rendezvous(dir, "a", "b")});
  ScriptList b({rendezvous(dir, "b", "a")});
  std::vector<PoolTask> tasks{a.task(fast(1)), b.task(fast(1))};
  run_pools(tasks);
  ASSERT_EQ(tasks[0].results.size(), 1u);
  ASSERT_EQ(tasks[1].results.size(), 1u);
  EXPECT_EQ(tasks[0].results[0].outcome, Outcome::kOk) << tasks[0].results[0].message;
  EXPECT_EQ(tasks[1].results[0].outcome, Outcome::kOk) << tasks[1].results[0].message;
}

TEST(RunPoolsTest, SharedBudgetDividesTheCores) {
  // Two lists, one core between them: the rendezvous cannot happen, so exactly one side
  // gives up (exit 9) and the other then finds the marker.
  TempDir dir;
  CoreBudget budget(1);
  ScriptList a({rendezvous(dir, "a", "b", 20)});
  ScriptList b({rendezvous(dir, "b", "a", 20)});
  PoolOptions oa = fast(1), ob = fast(1);
  oa.budget = &budget;
  ob.budget = &budget;
  std::vector<PoolTask> tasks{a.task(oa), b.task(ob)};
  run_pools(tasks);
  const int ok = (tasks[0].results[0].outcome == Outcome::kOk ? 1 : 0) +
                 (tasks[1].results[0].outcome == Outcome::kOk ? 1 : 0);
  EXPECT_EQ(ok, 1);
}

TEST(RunPoolsTest, HaltInOneListLeavesTheOtherRunning) {
  TempDir dir;
  PoolOptions halting = fast(1);
  halting.halt = parse_halt("now,fail=1");
  ScriptList failing({"exit 4", "touch " + dir / "never"});
  ScriptList steady({"sleep 0.3; touch " + dir / "one", "touch " + dir / "two"});
  std::vector<PoolTask> tasks{failing.task(halting), steady.task(fast(1))};
  run_pools(tasks);
  EXPECT_TRUE(tasks[0].halted);
  EXPECT_FALSE(tasks[1].halted);
  EXPECT_EQ(tasks[0].results[0].outcome, Outcome::kExit);
  EXPECT_EQ(tasks[0].results[1].outcome, Outcome::kNotStarted);
  EXPECT_FALSE(std::filesystem::exists(dir / "never"));
  for (const JobResult& r : tasks[1].results) EXPECT_EQ(r.outcome, Outcome::kOk) << r.message;
  EXPECT_TRUE(std::filesystem::exists(dir / "one"));
  EXPECT_TRUE(std::filesystem::exists(dir / "two"));
}

TEST(RunPoolsTest, TimeoutsAreEachListsOwn) {
  PoolOptions strict = fast(1);
  strict.timeout = 0.2;
  ScriptList slow_a({"sleep 5"});
  ScriptList slow_b({"sleep 0.5"});
  std::vector<PoolTask> tasks{slow_a.task(strict), slow_b.task(fast(1))};
  run_pools(tasks);
  EXPECT_EQ(tasks[0].results[0].outcome, Outcome::kTimeout);
  EXPECT_EQ(tasks[1].results[0].outcome, Outcome::kOk);
}

}  // namespace
}  // namespace tandem::jobs
