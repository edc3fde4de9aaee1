// SPDX-License-Identifier: Apache-2.0
// plan_map under --shard: which subjects a shard plans, runs, resumes and reports.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/shard.h"
#include "jobs/joblog.h"
#include "jobs/map_plan.h"
#include "jobs/report.h"
#include "process_test_util.h"

namespace tandem::jobs {
namespace {

using testing::TempDir;

MapOptions seven_subjects(std::optional<Shard> shard) {
  MapOptions o;
  o.subject_args = {"s1", "s2", "s3", "s4", "s5", "s6", "s7"};
  o.command = {"echo", "{}"};
  o.jobs = 2;
  o.shard = shard;
  return o;
}

std::vector<std::string> names(const MapPlan& plan) {
  std::vector<std::string> out;
  for (const auto& job : plan.jobs) out.push_back(job.name);
  return out;
}

TEST(MapShardTest, PlansOnlyTheShardsSubjectsKeepingTheirNumbers) {
  MapPlan plan = plan_map(seven_subjects(Shard{2, 3}));
  EXPECT_EQ(names(plan), (std::vector<std::string>{"s2", "s5"}));
  ASSERT_EQ(plan.jobs.size(), 2u);
  // {#} and the joblog's Seq stay the subject's number in the whole list.
  EXPECT_EQ(plan.jobs[0].seq, 2u);
  EXPECT_EQ(plan.jobs[1].seq, 5u);
  EXPECT_EQ(dry_run_commands(plan), (std::vector<std::string>{"echo s2", "echo s5"}));
  EXPECT_EQ(plan.subjects.rows.size(), 7u);
}

TEST(MapShardTest, ShardsTogetherPlanEverySubjectOnce) {
  std::map<std::string, int> planned;
  for (int k = 1; k <= 3; ++k) {
    for (const auto& name : names(plan_map(seven_subjects(Shard{k, 3})))) ++planned[name];
  }
  ASSERT_EQ(planned.size(), 7u);
  for (const auto& [name, times] : planned) EXPECT_EQ(times, 1) << name;
  EXPECT_EQ(names(plan_map(seven_subjects(std::nullopt))).size(), 7u);
}

// "a/b" and "a_b" share the directory name a_b; the second subject gets a_b-2 whichever shard
// runs it, so two shards never write into one results directory.
TEST(MapShardTest, ResultsDirectoriesAreTheSameInEveryShard) {
  MapOptions o = seven_subjects(Shard{2, 2});
  o.subject_args = {"a/b", "a_b"};
  o.results_dir = "res";
  MapPlan second = plan_map(o);
  ASSERT_EQ(second.jobs.size(), 1u);
  EXPECT_EQ(second.jobs[0].stdout_path, "res/a_b-2/stdout");
  o.shard = Shard{1, 2};
  EXPECT_EQ(plan_map(o).jobs.at(0).stdout_path, "res/a_b/stdout");
}

TEST(MapShardTest, JoblogNameTakesTheShardAndResumeReadsThatFile) {
  TempDir dir;
  {
    JobLog log(dir / "jobs-2-of-3.log");
    log.append({2, 1, 1, 0, 0, "echo s2"});
  }
  MapOptions o = seven_subjects(Shard{2, 3});
  o.joblog = dir / "jobs-{shard}.log";
  o.resume = true;
  MapPlan plan = plan_map(o);
  EXPECT_EQ(plan.joblog, dir / "jobs-2-of-3.log");
  EXPECT_EQ(names(plan), std::vector<std::string>{"s5"});
  ASSERT_EQ(plan.skipped.size(), 1u);
  EXPECT_EQ(plan.skipped[0].message, "succeeded in " + dir / "jobs-2-of-3.log");
  o.shard = std::nullopt;
  EXPECT_EQ(plan_map(o).joblog, dir / "jobs-1-of-1.log");
}

TEST(MapShardTest, ResultAndReportHoldOnlyTheShardsSubjects) {
  MapPlan plan = plan_map(seven_subjects(Shard{3, 3}));
  MapResult result = run_map(plan, nullptr);
  ASSERT_EQ(result.results.size(), 2u);
  EXPECT_EQ(result.results[0].name, "s3");
  EXPECT_EQ(result.results[1].name, "s6");
  EXPECT_EQ(result.total_subjects, 7u);
  auto report = map_report(result, map_exit_code(result));
  EXPECT_EQ(report["subjects"].size(), 2u);
  EXPECT_EQ(report["summary"]["subjects"], 2);
  EXPECT_EQ(report["summary"]["shard"]["index"], 3);
  EXPECT_EQ(report["summary"]["shard"]["count"], 3);
  EXPECT_EQ(report["summary"]["shard"]["all_subjects"], 7);
  MapPlan whole = plan_map(seven_subjects(std::nullopt));
  EXPECT_FALSE(map_report(run_map(whole, nullptr), 0)["summary"].contains("shard"));
}

}  // namespace
}  // namespace tandem::jobs
