// SPDX-License-Identifier: Apache-2.0
#include "jobs/map_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "core/cores.h"
#include "core/error.h"
#include "jobs/joblog.h"
#include "jobs/report.h"
#include "process_test_util.h"

namespace tandem::jobs {
namespace {

using testing::TempDir;

MapOptions options_for(std::vector<std::string> subjects, std::vector<std::string> command) {
  MapOptions o;
  o.subject_args = std::move(subjects);
  o.command = std::move(command);
  o.jobs = 2;
  o.grace = 0.3;
  return o;
}

TEST(MapPlanTest, UsageErrorsComeBeforeAnythingRuns) {
  auto o = options_for({"a"}, {"echo", "{nope}"});
  EXPECT_THROW(plan_map(o), UsageError);
  o = options_for({}, {"echo"});
  EXPECT_THROW(plan_map(o), UsageError);  // no subjects given
  o = options_for({"a"}, {"echo"});
  o.subjects_file = "x.txt";
  EXPECT_THROW(plan_map(o), UsageError);  // two sources
  o = options_for({"a"}, {"echo"});
  o.resume = true;
  EXPECT_THROW(plan_map(o), UsageError);  // --resume without --joblog
  o = options_for({"a"}, {"echo"});
  o.outputs = {"{%}.out"};
  EXPECT_THROW(plan_map(o), UsageError);
  o = options_for({"a"}, {"echo"});
  o.threads_per_job = 0;
  EXPECT_THROW(plan_map(o), UsageError);
}

// The message of the UsageError plan_map throws for `o`.
std::string usage_error(const MapOptions& o) {
  try {
    plan_map(o);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no usage error";
}

TEST(MapPlanTest, UnusableSubjectsFilesAreUsageErrors) {
  TempDir dir;
  MapOptions o;
  o.command = {"echo"};
  o.subjects_file = dir.str();
  EXPECT_NE(usage_error(o).find("is a directory"), std::string::npos);
  o.subjects_file = dir / "missing.txt";
  EXPECT_NE(usage_error(o).find("No such file or directory"), std::string::npos);
  testing::write_text(dir / "ragged.tsv", "participant_id\tage\tgroup\nsub-01\t23\n");
  o.subjects_file = dir / "ragged.tsv";
  EXPECT_NE(usage_error(o).find("line 2: has 2 fields"), std::string::npos);
  testing::write_text(dir / "empty.txt", "");
  o.subjects_file = dir / "empty.txt";
  EXPECT_NE(usage_error(o).find("has no subjects"), std::string::npos);
}

TEST(MapPlanTest, DuplicateSubjectsAreRefusedNamingBothLines) {
  TempDir dir;
  testing::write_text(dir / "s.txt", "sub-01\nsub-02\n\nsub-01\n");
  MapOptions o;
  o.command = {"echo", "{}"};
  o.subjects_file = dir / "s.txt";
  std::string message = usage_error(o);
  EXPECT_NE(message.find("lines 1 and 4 both name sub-01"), std::string::npos) << message;
  EXPECT_NE(message.find("remove the duplicate"), std::string::npos) << message;
  o = options_for({"a", "b", "a"}, {"echo"});
  EXPECT_NE(usage_error(o).find("--args: subjects 1 and 3"), std::string::npos);
  // {#} and {%} do not make two runs of one subject different work.
  o = options_for({"a", "a"}, {"echo", "{}", "{#}"});
  EXPECT_NE(usage_error(o).find("subjects 1 and 2"), std::string::npos);
}

TEST(MapPlanTest, RowsOfOneSubjectThatTheCommandTellsApartAreNotDuplicates) {
  TempDir dir;
  testing::write_text(dir / "s.tsv", "participant_id\tsession\nsub-01\t1\nsub-01\t2\n");
  MapOptions o;
  o.subjects_file = dir / "s.tsv";
  o.command = {"echo", "{}", "{session}"};
  EXPECT_EQ(plan_map(o).jobs.size(), 2u);
  o.command = {"echo", "{}"};
  EXPECT_NE(usage_error(o).find("lines 2 and 3 both name sub-01"), std::string::npos);
}

TEST(MapPlanTest, NegativeJobsMessageSaysWhatZeroMeans) {
  auto o = options_for({"a"}, {"echo"});
  o.jobs = -1;
  EXPECT_NE(usage_error(o).find("or 0 for the default"), std::string::npos);
}

TEST(MapPlanTest, JoblogThatCannotBeOpenedIsUsageErrorBeforeAnythingRuns) {
  TempDir dir;
  auto o = options_for({"a"}, {"touch", dir / "ran"});
  o.joblog = dir / "no/such/dir/log";
  auto plan = plan_map(o);
  EXPECT_THROW(run_map(plan, nullptr), UsageError);
  EXPECT_FALSE(std::filesystem::exists(dir / "ran"));
}

TEST(MapPlanTest, TsvWithoutTheNamedColumnIsUsageError) {
  TempDir dir;
  testing::write_text(dir / "participants.tsv", "participant_id\tage\nsub-01\t3\n");
  MapOptions o;
  o.subjects_file = dir / "participants.tsv";
  o.command = {"echo", "{session_id}"};
  EXPECT_THROW(plan_map(o), UsageError);
  o.command = {"echo", "{participant_id}"};
  EXPECT_EQ(plan_map(o).jobs.size(), 1u);
}

TEST(MapPlanTest, ThreadsPerJobSetsThreadVariablesAndDividesTheCores) {
  auto o = options_for({"a"}, {"echo"});
  o.jobs = 0;
  o.threads_per_job = 2;
  auto plan = plan_map(o);
  EXPECT_EQ(plan.pool.slots, std::max(1, available_cores() / 2));
  for (const char* name : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                           "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"}) {
    auto it = std::find_if(plan.pool.env.begin(), plan.pool.env.end(),
                           [&](const auto& kv) { return kv.first == name; });
    ASSERT_NE(it, plan.pool.env.end()) << name;
    EXPECT_EQ(it->second, "2");
  }
  o.threads_per_job = 1;
  EXPECT_EQ(plan_map(o).pool.slots, available_cores());
}

TEST(MapPlanTest, SkipsSubjectsWhoseOutputsExist) {
  TempDir dir;
  testing::write_text(dir / "a.out", "done");
  auto o = options_for({"a", "b"}, {"touch", dir.str() + "/{}.out"});
  o.outputs = {dir.str() + "/{}.out"};
  auto plan = plan_map(o);
  ASSERT_EQ(plan.jobs.size(), 1u);
  EXPECT_EQ(plan.jobs[0].name, "b");
  ASSERT_EQ(plan.skipped.size(), 1u);
  EXPECT_EQ(plan.skipped[0].message, "outputs exist");
}

TEST(MapPlanTest, ResumeSkipsOnlyJobsThatSucceeded) {
  TempDir dir;
  {
    JobLog log(dir / "log");
    log.append({1, 1, 1, 0, 0, "echo a"});
    log.append({2, 1, 1, 1, 0, "echo b"});
  }
  auto o = options_for({"a", "b", "c"}, {"echo"});
  o.joblog = dir / "log";
  o.resume = true;
  auto plan = plan_map(o);
  ASSERT_EQ(plan.jobs.size(), 2u);
  EXPECT_EQ(plan.jobs[0].name, "b");
  EXPECT_EQ(plan.jobs[1].name, "c");
}

TEST(MapPlanTest, RunsAndReportsEverySubject) {
  TempDir dir;
  auto o = options_for({"a", "b", "c"}, {"sh", "-c", "echo out-$0; [ $0 != b ]", "{}"});
  o.results_dir = dir / "results";
  auto plan = plan_map(o);
  auto result = run_map(plan, nullptr);
  ASSERT_EQ(result.results.size(), 3u);
  EXPECT_EQ(result.results[1].outcome, Outcome::kExit);
  EXPECT_EQ(map_exit_code(result), 1);
  EXPECT_EQ(testing::read_text(dir / "results/c/stdout"), "out-c\n");
  auto report = map_report(result, 1);
  EXPECT_EQ(report["subjects"][1]["outcome"], "exit");
  EXPECT_EQ(report["subjects"][1]["exit_code"], 1);
  EXPECT_EQ(report["summary"]["failed"], 1);
  const auto& first = report["subjects"][0];
  EXPECT_EQ(first["attempts"], 1);
  EXPECT_GT(first["peak_rss_bytes"].get<long long>(), 0);
  EXPECT_GE(first["duration_s"].get<double>(), 0.0);
  std::string start = first["start"];
  EXPECT_EQ(start.size(), 24u) << start;  // 2026-11-27T10:01:43.123Z
  EXPECT_EQ(start.back(), 'Z');
  EXPECT_EQ(first["stdout"], dir / "results/a/stdout");
}

TEST(MapPlanTest, TemporaryLogsOfSuccessfulRunsAreRemoved) {
  auto o = options_for({"a"}, {"echo"});
  auto plan = plan_map(o);
  auto result = run_map(plan, nullptr);
  EXPECT_EQ(result.results[0].outcome, Outcome::kOk);
  EXPECT_TRUE(result.kept_log_dir.empty());
  o = options_for({"a"}, {"sh", "-c", "echo boom >&2; exit 2"});
  plan = plan_map(o);
  result = run_map(plan, nullptr);
  ASSERT_FALSE(result.kept_log_dir.empty());
  EXPECT_EQ(tail_lines(result.results[0].stderr_path, 3), std::vector<std::string>{"boom"});
  std::filesystem::remove_all(result.kept_log_dir);
}

}  // namespace
}  // namespace tandem::jobs
