// SPDX-License-Identifier: Apache-2.0
// The SLURM executor's pieces that need no SLURM: the run directory's files, sbatch's command
// line, sacct parsing, one array task run through the pool, and the merged joblog.
#include "jobs/slurm.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "jobs/joblog.h"
#include "jobs/slurm_resume.h"
#include "process_test_util.h"

namespace tandem::jobs {
namespace {

using testing::read_text;
using testing::TempDir;
using testing::write_text;

MapPlan plan_for(std::vector<std::string> subjects, std::vector<std::string> command) {
  MapOptions o;
  o.subject_args = std::move(subjects);
  o.command = std::move(command);
  o.timeout = 60;
  o.retries = 1;
  o.retry_delay = 2;
  o.grace = 0.3;
  o.threads_per_job = 3;
  return plan_map(o);
}

TEST(SlurmTest, RunDirRoundTripsThroughTheTaskFile) {
  TempDir dir;
  MapPlan plan = plan_for({"a", "b c"}, {"echo", "{}", "{#}", "{%}"});
  SlurmRun run = make_slurm_run(plan, dir / "rd", "/opt/tandem", 3);
  write_run_dir(run);
  SlurmRun back = load_slurm_run(dir / "rd");
  ASSERT_EQ(back.tasks.size(), 2u);
  EXPECT_EQ(back.tasks[1].index, 2);
  EXPECT_EQ(back.tasks[1].name, "b c");
  EXPECT_EQ(back.tasks[1].argv, (std::vector<std::string>{"echo", "b c", "2", "1"}));
  EXPECT_EQ(back.tasks[1].stderr_path, run.dir + "/logs/2.err");
  EXPECT_EQ(back.tandem, "/opt/tandem");
  EXPECT_EQ(back.pool.timeout, 60);
  EXPECT_EQ(back.pool.retries, 1);
  EXPECT_EQ(back.threads_per_job, 3);
  EXPECT_EQ(back.pool.env, plan.pool.env);
  EXPECT_TRUE(back.job_id.empty());
  write_job_id(run, "77");
  EXPECT_EQ(load_slurm_run(run.dir).job_id, "77");
  EXPECT_NE(read_text(run.dir + "/array.sh").find("slurm-task " + run.dir), std::string::npos);
}

TEST(SlurmTest, ExistingNonEmptyRunDirIsRefused) {
  TempDir dir;
  write_text(dir / "x", "");
  SlurmRun run = make_slurm_run(plan_for({"a"}, {"true"}), dir.str(), "/t", 1);
  EXPECT_THROW(write_run_dir(run), UsageError);
  // No run directory there: the caller's mistake; a damaged task file: an input error.
  EXPECT_THROW(load_slurm_run(dir / "nothing"), UsageError);
  write_text(dir / "tasks.json", "{\"tandem_slurm_run\": 1}");
  EXPECT_THROW(load_slurm_run(dir.str()), InputError);
}

TEST(SlurmTest, SbatchArgvCarriesLimitsAndExtraArgsBeforeTheScript) {
  SlurmRun run = make_slurm_run(plan_for({"a", "b", "c"}, {"true"}), "/r", "/t", 3);
  auto argv = sbatch_argv(run, {2, 1536ull << 20, {"--partition=short", "--qos=x"}});
  std::vector<std::string> want = {"sbatch",
                                   "--parsable",
                                   "--array=1-3%2",
                                   "--job-name=tandem-map",
                                   "--output=/r/slurm/%A_%a.out",
                                   "--cpus-per-task=3",
                                   "--mem=1536M",
                                   "--time=" + slurm_time_limit(run.pool),
                                   "--partition=short",
                                   "--qos=x",
                                   "/r/array.sh"};
  EXPECT_EQ(argv, want);
  // (60 + 0.3) * 2 attempts + 2 s retry delay + 300 s margin = 422.6 s -> 8 minutes.
  EXPECT_EQ(slurm_time_limit(run.pool), "8");
  PoolOptions none;
  EXPECT_EQ(slurm_time_limit(none), "");
}

TEST(SlurmTest, ParsesSacctArrayTasksOnly) {
  std::string text =
      "42_1|COMPLETED|0:0\n"
      "42_1.batch|COMPLETED|0:0\n"
      "42_2|OUT_OF_MEMORY|0:125\n"
      "42_3|CANCELLED by 1000|0:15\n"
      "420_5|RUNNING|0:0\n"
      "42_10|RUNNING|0:0";
  auto states = parse_sacct(text, "42");
  EXPECT_EQ(states,
            (std::map<int, std::string>{
                {1, "COMPLETED"}, {2, "OUT_OF_MEMORY"}, {3, "CANCELLED"}, {10, "RUNNING"}}));
  EXPECT_TRUE(is_final_slurm_state("NODE_FAIL"));
  EXPECT_FALSE(is_final_slurm_state("PENDING"));
}

TEST(SlurmTest, ParsesRangesOfTasksThatNeverStarted) {
  // sacct and squeue print the tasks scancel ended before they started as one record.
  EXPECT_EQ(parse_sacct("42_1|COMPLETED|0:0\n42_[2-4%1]|CANCELLED by 0|0:0\n", "42"),
            (std::map<int, std::string>{
                {1, "COMPLETED"}, {2, "CANCELLED"}, {3, "CANCELLED"}, {4, "CANCELLED"}}));
  EXPECT_EQ(parse_sacct("42_[1,3-4]|PENDING\n42_[6-10:2]|CANCELLED\n", "42"),
            (std::map<int, std::string>{{1, "PENDING"},
                                        {3, "PENDING"},
                                        {4, "PENDING"},
                                        {6, "CANCELLED"},
                                        {8, "CANCELLED"},
                                        {10, "CANCELLED"}}));
  // A task's own line wins over a range that still holds it.
  EXPECT_EQ(parse_sacct("42_[1-2]|PENDING\n42_2|RUNNING\n", "42"),
            (std::map<int, std::string>{{1, "PENDING"}, {2, "RUNNING"}}));
  for (const char* bad : {"42_[]|PENDING", "42_[3-1]|PENDING", "42_[1-x]|PENDING",
                          "42_[-1]|PENDING", "42_[1-2:0]|PENDING", "42_[1-99999999]|PENDING"}) {
    EXPECT_TRUE(parse_sacct(bad, "42").empty()) << bad;
  }
}

TEST(SlurmTest, SlurmEndedTaskFailsNamingTheState) {
  SlurmRun run = make_slurm_run(plan_for({"a"}, {"true"}), "/r", "/t", 1);
  run.job_id = "42";
  JobResult r = slurm_ended_result(run, run.tasks[0], "OUT_OF_MEMORY");
  EXPECT_EQ(r.outcome, Outcome::kOom);
  EXPECT_NE(r.message.find("OUT_OF_MEMORY"), std::string::npos);
  EXPECT_NE(r.message.find("/r/slurm/42_1.out"), std::string::npos);
  EXPECT_EQ(slurm_ended_result(run, run.tasks[0], "TIMEOUT").outcome, Outcome::kTimeout);
  EXPECT_EQ(slurm_ended_result(run, run.tasks[0], "NODE_FAIL").outcome, Outcome::kSignal);
  // squeue no longer lists it: no state to name, but it failed and says where to look.
  JobResult gone = slurm_ended_result(run, run.tasks[0], "");
  EXPECT_TRUE(is_failure(gone.outcome));
  EXPECT_NE(gone.message.find("no longer lists"), std::string::npos) << gone.message;
  EXPECT_NE(gone.message.find("/r/slurm/42_1.out"), std::string::npos);
}

TEST(SlurmTest, SlurmsMemoryKillIsAnOomFailureThatNamesTheRequest) {
  TempDir dir;
  SlurmRun run = make_slurm_run(plan_for({"a", "b"}, {"true"}), dir / "rd", "/t", 1);
  run.job_id = "3";
  write_run_dir(run);
  // SLURM 22.05, JobAcctGatherParams=OverMemoryKill, `--mem=100M`: sacct says "3_2|FAILED|0:9"
  // ("3_2.batch|CANCELLED by 0|0:9"), squeue FAILED, and the task's --output file holds:
  write_text(run.dir + "/slurm/3_2.out",
             "slurmstepd-vm: error: StepId=5.batch exceeded memory limit (442544128 > "
             "104857600), being killed\n"
             "slurmstepd-vm: error: Exceeded job memory limit\n"
             "slurmstepd-vm: error: *** JOB 5 ON vm CANCELLED AT 2026-11-27T15:29:57 ***\n");
  for (const char* state : {"FAILED", "CANCELLED", ""}) {
    JobResult r = slurm_ended_result(run, run.tasks[1], state);
    EXPECT_EQ(r.outcome, Outcome::kOom) << state;
    EXPECT_NE(r.message.find("StepId=5.batch exceeded memory limit (442544128 > 104857600)"),
              std::string::npos)
        << r.message;
    EXPECT_EQ(r.message.find("slurmstepd-vm"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("--mem-per-job"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("--slurm-arg=--mem="), std::string::npos) << r.message;
    EXPECT_NE(r.message.find(run.dir + "/slurm/3_2.out"), std::string::npos) << r.message;
  }
  EXPECT_NE(slurm_ended_result(run, run.tasks[1], "FAILED").message.find("(FAILED: StepId="),
            std::string::npos);
  // Task 1's output says nothing of memory: FAILED stays a plain failure.
  write_text(run.dir + "/slurm/3_1.out",
             "bad input\nslurmstepd-vm: error: *** JOB 4 ON vm "
             "CANCELLED AT 2026-11-27T15:29:57 ***\n");
  EXPECT_EQ(slurm_ended_result(run, run.tasks[0], "FAILED").outcome, Outcome::kExit);
  EXPECT_EQ(slurm_ended_result(run, run.tasks[0], "CANCELLED").outcome, Outcome::kInterrupted);
  // task/cgroup's kill: OUT_OF_MEMORY and its own line.
  write_text(run.dir + "/slurm/3_1.out",
             "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=4.batch. Some of your "
             "processes may have been killed by the cgroup out-of-memory handler.\n");
  JobResult cgroup = slurm_ended_result(run, run.tasks[0], "OUT_OF_MEMORY");
  EXPECT_EQ(cgroup.outcome, Outcome::kOom);
  EXPECT_NE(cgroup.message.find("OUT_OF_MEMORY: Detected 1 oom-kill event(s)"), std::string::npos)
      << cgroup.message;
}

TEST(SlurmTest, TaskRunsItsJobAndWritesStatusAndJoblog) {
  TempDir dir;
  MapPlan plan = plan_for({"ok", "bad"}, {"sh", "-c", "echo $OMP_NUM_THREADS; [ {} = ok ]"});
  plan.pool.retries = 0;
  SlurmRun run = make_slurm_run(plan, dir / "rd", "/t", 3);
  write_run_dir(run);
  EXPECT_TRUE(run_slurm_task(run.dir, 1));
  EXPECT_FALSE(run_slurm_task(run.dir, 2));
  EXPECT_THROW(run_slurm_task(run.dir, 3), UsageError);
  EXPECT_EQ(read_text(run.dir + "/logs/1.out"), "3\n");
  auto ok = read_task_status(run, 1);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->result.outcome, Outcome::kOk);
  EXPECT_FALSE(ok->hostname.empty());
  auto bad = read_task_status(run, 2);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->result.outcome, Outcome::kExit);
  EXPECT_EQ(bad->result.exit_code, 1);
  EXPECT_EQ(bad->result.stderr_path, run.dir + "/logs/2.err");

  // No sacct needed: both status files are there, so the run is complete.
  run.joblog = dir / "jobs.log";
  SlurmMonitor monitor(run, 0);
  EXPECT_EQ(monitor.poll().size(), 2u);
  EXPECT_TRUE(monitor.finished());
  EXPECT_EQ(monitor.failed(), 1u);
  EXPECT_TRUE(append_slurm_joblog(run, monitor));
  EXPECT_FALSE(append_slurm_joblog(run, monitor));
  auto entries = read_joblog_entries(run.joblog);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].host, ok->hostname);
  EXPECT_EQ(entries[1].exit_value, 1);
  EXPECT_EQ(read_joblog(run.joblog).failed.count(bad->result.command), 1u);
}

// A stand-in sacct first on PATH that prints `lines`, for one scope.
class FakeSacct {
 public:
  FakeSacct(const TempDir& dir, const std::string& lines) {
    write_text(dir / "sacct", "#!/bin/sh\nprintf '" + lines + "'\n");
    std::filesystem::permissions(dir / "sacct", std::filesystem::perms::owner_all);
    if (const char* p = std::getenv("PATH")) old_ = p;
    ::setenv("PATH", (dir.str() + ":" + old_).c_str(), 1);
  }
  ~FakeSacct() { ::setenv("PATH", old_.c_str(), 1); }

 private:
  std::string old_;
};

TEST(SlurmTest, ACancelledTaskThatSlurmTimedOutIsATimeoutNamingTheLimit) {
  TempDir dir;
  SlurmRun run = make_slurm_run(plan_for({"a", "b"}, {"true"}), dir / "rd", "/t", 2);
  run.job_id = "4242";
  write_run_dir(run);
  // Both tasks say a signal ended them; SLURM says task 1 ran out of time, task 2 was cancelled.
  for (int index : {1, 2}) {
    JobResult r;
    r.outcome = Outcome::kInterrupted;
    r.message = "cancelled: the task got signal 15 (scancel, or SLURM's time limit)";
    write_task_status(run, index, {r, "node1"});
  }
  FakeSacct sacct(dir, "4242_1|TIMEOUT|0:0\\n4242_2|CANCELLED by 0|0:15");
  SlurmMonitor monitor(run, 0);
  monitor.poll();
  ASSERT_TRUE(monitor.finished());
  const auto& timed_out = *monitor.results()[0];
  EXPECT_EQ(timed_out.outcome, Outcome::kTimeout);
  EXPECT_NE(timed_out.message.find("--time"), std::string::npos) << timed_out.message;
  EXPECT_EQ(monitor.results()[1]->outcome, Outcome::kInterrupted);
}

TEST(SlurmTest, ASlurmMemoryKillIsFoundByTheMonitorThroughSacct) {
  TempDir dir;
  SlurmRun run = make_slurm_run(plan_for({"a"}, {"true"}), dir / "rd", "/t", 1);
  run.job_id = "3";
  write_run_dir(run);
  write_text(run.dir + "/slurm/3_1.out",
             "slurmstepd-vm: error: StepId=5.batch exceeded memory limit (442544128 > "
             "104857600), being killed\n");
  FakeSacct sacct(dir, "3_1|FAILED|0:9\\n3_1.batch|CANCELLED by 0|0:9");
  SlurmMonitor monitor(run, 0);
  monitor.poll();
  ASSERT_TRUE(monitor.finished());
  EXPECT_EQ(monitor.results()[0]->outcome, Outcome::kOom);
}

TEST(SlurmTest, ACancelledStatusWaitsWhileSlurmStillHasTheTaskRunning) {
  TempDir dir;
  SlurmRun run = make_slurm_run(plan_for({"a"}, {"true"}), dir / "rd", "/t", 1);
  run.job_id = "4242";
  write_run_dir(run);
  JobResult r;
  r.outcome = Outcome::kInterrupted;
  write_task_status(run, 1, {r, "node1"});
  {
    FakeSacct sacct(dir, "4242_1|COMPLETING|0:0");
    SlurmMonitor waiting(run, 30);
    EXPECT_TRUE(waiting.poll().empty());
    EXPECT_FALSE(waiting.finished());
    EXPECT_TRUE(waiting.all_ended());
  }
  {
    // Without a settle time (tandem status: one look) it is final at once, as it said.
    FakeSacct sacct(dir, "4242_1|COMPLETING|0:0");
    SlurmMonitor once(run, 0);
    EXPECT_EQ(once.poll().size(), 1u);
    EXPECT_EQ(once.results()[0]->outcome, Outcome::kInterrupted);
  }
}

TEST(SlurmTest, AnUnreadableStatusFileOfAnEndedTaskIsAFailureNamingTheFile) {
  TempDir dir;
  SlurmRun run = make_slurm_run(plan_for({"a", "b", "c"}, {"true"}), dir / "rd", "/t", 1);
  run.job_id = "4242";
  write_run_dir(run);
  write_text(status_path(run, 1), "garbage\n");
  write_text(status_path(run, 2), "{}\n");
  write_text(status_path(run, 3), "garbage\n");
  std::string why;
  EXPECT_FALSE(read_task_status(run, 1, &why));
  EXPECT_EQ(why.rfind(status_path(run, 1) + ": not valid JSON (", 0), 0u) << why;
  EXPECT_FALSE(read_task_status(run, 2, &why));
  EXPECT_EQ(why.rfind(status_path(run, 2) + ": not a task status (", 0), 0u) << why;
  std::filesystem::remove(status_path(run, 2));
  EXPECT_FALSE(read_task_status(run, 2, &why));
  EXPECT_TRUE(why.empty()) << why;
  write_text(status_path(run, 2), "");
  EXPECT_FALSE(read_task_status(run, 2, &why));
  EXPECT_EQ(why, status_path(run, 2) + ": is empty");

  // SLURM has ended 1 and 2 (3 it still runs: a rewritten file may yet come).
  FakeSacct sacct(dir, "4242_1|COMPLETED|0:0\n4242_2|FAILED|1:0\n4242_3|RUNNING|0:0");
  SlurmMonitor monitor(run, 30);
  EXPECT_EQ(monitor.poll().size(), 2u);
  EXPECT_EQ(monitor.failed(), 2u);
  EXPECT_FALSE(monitor.results()[2]);
  EXPECT_EQ(monitor.running(), 1u);
  const JobResult& first = *monitor.results()[0];
  EXPECT_EQ(first.outcome, Outcome::kExit);
  EXPECT_NE(first.message.find("unreadable status file " + status_path(run, 1) + ": not valid"),
            std::string::npos)
      << first.message;
  EXPECT_NE(first.message.find("SLURM says COMPLETED"), std::string::npos) << first.message;
}

TEST(SlurmTest, MaxArraySizeIsReadFromScontrolsConfig) {
  EXPECT_EQ(parse_max_array_size("Configuration data as of now\nMaxArraySize            = 5001\n"
                                 "MaxJobCount = 10000\n"),
            5001);
  EXPECT_EQ(parse_max_array_size("MaxArraySize=0"), 0);
  EXPECT_FALSE(parse_max_array_size("MaxJobCount = 10000\n"));
  EXPECT_FALSE(parse_max_array_size("XMaxArraySize = 7\n"));
  EXPECT_FALSE(parse_max_array_size("MaxArraySize = (null)\n"));
}

// The UsageError check_array_size throws, or "" when it throws none.
std::string array_size_error(std::size_t tasks, SlurmArrayLimit limit) {
  try {
    check_array_size(tasks, limit);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(SlurmTest, AnArrayLargerThanMaxArraySizeIsRefusedNamingTheLimitAndShard) {
  // Indices start at 1 and must stay below MaxArraySize.
  EXPECT_EQ(array_size_error(1000, {1001, true}), "");
  EXPECT_EQ(array_size_error(1001, {1001, true}),
            "--executor slurm: 1001 subjects to submit, but one job array holds at most 1000 "
            "tasks here: MaxArraySize is 1001 (scontrol show config); submit them in parts with "
            "--shard K/2 (K = 1..2, one tandem map each)");
  EXPECT_NE(array_size_error(10000, {1001, false})
                .find("MaxArraySize is 1001 (SLURM's default: scontrol show config did not "
                      "answer); submit them in parts with --shard K/10"),
            std::string::npos);
  EXPECT_EQ(array_size_error(1, {0, true}),
            "--executor slurm: this cluster runs no job arrays: MaxArraySize is 0 (scontrol show "
            "config)");
}

TEST(SlurmTest, ResumeCatchUpAppendsEndedRunsAndReportsGoneOnes) {
  TempDir dir;
  MapPlan plan = plan_for({"a"}, {"true"});
  plan.joblog = dir / "jobs.log";
  SlurmRun run = make_slurm_run(plan, dir / "rd", "/t", 1);
  write_run_dir(run);
  EXPECT_TRUE(run_slurm_task(run.dir, 1));
  record_slurm_run(run);
  write_text(slurm_runs_path(run.joblog),
             read_text(slurm_runs_path(run.joblog)) + dir / "gone" + "\n" + run.dir + "\n");
  JoblogCatchUp caught = catch_up_slurm_joblog(dir / "jobs.log");
  EXPECT_EQ(caught.appended, std::vector<std::string>{run.dir});
  EXPECT_EQ(caught.missing, std::vector<std::string>{dir / "gone"});
  EXPECT_EQ(read_joblog_entries(run.joblog).size(), 1u);
  // Every listed run is in the joblog or gone: the list goes, and a second look finds nothing.
  EXPECT_FALSE(std::filesystem::exists(slurm_runs_path(run.joblog)));
  EXPECT_TRUE(catch_up_slurm_joblog(dir / "jobs.log").appended.empty());
}

TEST(SlurmTest, PollIntervalComesFromTheEnvironment) {
  ::unsetenv("TANDEM_SLURM_POLL");
  EXPECT_EQ(slurm_poll_seconds(), 10);
  ::setenv("TANDEM_SLURM_POLL", "0.25", 1);
  EXPECT_EQ(slurm_poll_seconds(), 0.25);
  for (const char* bad : {"abc", "0", "-1", "2s"}) {
    ::setenv("TANDEM_SLURM_POLL", bad, 1);
    EXPECT_THROW(slurm_poll_seconds(), UsageError) << bad;
  }
  ::unsetenv("TANDEM_SLURM_POLL");
}

TEST(SlurmTest, JoblogHostColumnRoundTrips) {
  TempDir dir;
  {
    JobLog log(dir / "log");
    JobLogEntry e{3, 100.5, 2.25, 0, 0, "echo a"};
    e.host = "node07";
    log.append(e);
  }
  auto entries = read_joblog_entries(dir / "log");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].host, "node07");
  EXPECT_EQ(entries[0].seq, 3u);
  EXPECT_EQ(entries[0].command, "echo a");
  EXPECT_DOUBLE_EQ(entries[0].runtime, 2.25);
}

}  // namespace
}  // namespace tandem::jobs
