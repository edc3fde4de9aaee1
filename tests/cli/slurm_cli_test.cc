// SPDX-License-Identifier: Apache-2.0
// End-to-end tests of `tandem map --executor slurm`, `tandem status` and `tandem cancel` against
// fake sbatch/sacct/squeue/scancel scripts (tests/cli/fake_slurm) put first on PATH: the fake
// sbatch runs every array task at once in the background, numbering jobs from 4242.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "../jobs/process_test_util.h"
#include "cli_test_util.h"
#include "test_command.h"

namespace tandem::testing {
namespace {

namespace fs = std::filesystem;

// A scratch directory with the fake SLURM commands in bin/; tandem runs in work/.
struct Cluster {
  TempDir dir;
  std::string bin = dir / "bin";
  std::string work = dir / "work";

  Cluster() {
    fs::create_directories(bin);
    fs::create_directories(work);
    for (const char* name : {"sbatch", "sacct", "scancel", "squeue", "scontrol"}) {
      fs::copy_file(test_source_dir() + "/cli/fake_slurm/" + name, bin + "/" + name);
      fs::permissions(bin + "/" + name, fs::perms::owner_all);
    }
  }
  std::string path(const std::string& name) const { return work + "/" + name; }
  std::string sbatch_calls() const { return read_text(bin + "/sbatch.calls"); }
  std::string scancel_calls() const { return read_text(bin + "/scancel.calls"); }
};

using Tandem = Background;

// Starts `tandem ARGS...` in the cluster's work directory; `path` is PATH for it (default: the
// fakes first).
Tandem start(const Cluster& c, const std::vector<std::string>& args, std::string path = "") {
  static int n = 0;
  if (path.empty()) path = c.bin + ":" + env_or_empty("PATH");
  std::vector<std::string> argv = {tandem_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return start_background(argv, c.dir / ("tandem" + std::to_string(n++)),
                          {{"PATH", path}, {"TANDEM_SLURM_POLL", "0.1"}, {"TMPDIR", c.dir.str()}},
                          c.work);
}

int run(const Cluster& c, const std::vector<std::string>& args, Tandem* done = nullptr) {
  Tandem t = start(c, args);
  int code = t.wait();
  if (done != nullptr) *done = t;
  return code;
}

// `tandem status RUNDIR` until it stops saying 3 (running), bounded; its last exit code.
int status_when_done(const Cluster& c, const std::string& run_dir, Tandem* last) {
  int code = 3;
  for (int i = 0; i < 600 && code == 3; ++i) {
    code = run(c, {"status", run_dir}, last);
    if (code == 3) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return code;
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_text(path)); }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(SlurmCliTest, AllSubjectsSucceedLikeALocalRun) {
  Cluster c;
  Tandem t;
  int code = run(c,
                 {"map",
                  "--executor",
                  "slurm",
                  "--run-dir",
                  "rd",
                  "-j",
                  "2",
                  "--threads-per-job",
                  "2",
                  "--mem-per-job",
                  "1G",
                  "--timeout",
                  "10m",
                  "--slurm-arg=--partition=short",
                  "--joblog",
                  "jobs.log",
                  "--report",
                  "r.json",
                  "--output",
                  "out/{}.txt",
                  "--args",
                  "a",
                  "b",
                  "c",
                  "--shell",
                  "--",
                  "mkdir -p out && echo $OMP_NUM_THREADS > out/{}.txt"},
                 &t);
  ASSERT_EQ(code, 0) << t.err();
  for (const char* s : {"a", "b", "c"})
    EXPECT_EQ(read_text(c.path(std::string("out/") + s + ".txt")), "2\n");
  std::string sbatch = c.sbatch_calls();
  for (const char* arg : {"--parsable", "--array=1-3%2", "--cpus-per-task=2", "--mem=1024M",
                          "--time=", "--partition=short", "/rd/array.sh"}) {
    EXPECT_TRUE(contains(sbatch, arg)) << arg << " not in " << sbatch;
  }
  EXPECT_TRUE(contains(t.err(), "map: 3 subjects: 3 ok, 0 failed")) << t.err();
  auto log = read_lines(c.path("jobs.log"));
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].rfind("Seq\tHost\t", 0), 0u);
  for (std::size_t i = 1; i < log.size(); ++i) {
    EXPECT_EQ(log[i].rfind(std::to_string(i) + "\t", 0), 0u) << log[i];
    EXPECT_FALSE(contains(log[i], "\t:\t")) << "Host should be the node: " << log[i];
  }
  auto report = read_json(c.path("r.json"));
  ASSERT_EQ(report["subjects"].size(), 3u);
  for (const auto& s : report["subjects"]) EXPECT_EQ(s["outcome"], "ok");
  EXPECT_EQ(read_text(c.path("rd/job_id")), "4242\n");
  EXPECT_TRUE(fs::exists(c.path("rd/status/3.json")));
}

TEST(SlurmCliTest, FailedSubjectExitsOneWithReasonAndLog) {
  Cluster c;
  Tandem t;
  int code = run(c,
                 {"map", "--executor", "slurm", "--run-dir", "rd", "--args", "good", "bad",
                  "--shell", "--", "echo oops-{} >&2; [ {} = good ]"},
                 &t);
  EXPECT_EQ(code, 1);
  std::string err = t.err();
  EXPECT_TRUE(contains(err, "bad: exit 1, log: " + c.path("rd/logs/2.err"))) << err;
  EXPECT_TRUE(contains(err, "| oops-bad")) << err;
  EXPECT_TRUE(contains(err, "1 ok, 1 failed")) << err;
}

TEST(SlurmCliTest, TaskSlurmKilledWithoutStatusFailsNamingTheState) {
  Cluster c;
  Tandem t;
  // Subject b's job tells the fake sacct that SLURM killed task 2, then kills its tandem task
  // before that can write a status file.
  std::string job = "if [ {} = b ]; then echo '4242_2|OUT_OF_MEMORY|0:125' >> " + c.bin +
                    "/sacct.txt; kill -KILL $PPID; fi";
  int code = run(c,
                 {"map", "--executor", "slurm", "--run-dir", "rd", "--joblog", "jobs.log",
                  "--report", "r.json", "--args", "a", "b", "--shell", "--", job},
                 &t);
  EXPECT_EQ(code, 1) << t.err();
  EXPECT_TRUE(contains(t.err(), "OUT_OF_MEMORY")) << t.err();
  auto report = read_json(c.path("r.json"));
  EXPECT_EQ(report["subjects"][0]["outcome"], "ok");
  EXPECT_EQ(report["subjects"][1]["outcome"], "oom");
  EXPECT_FALSE(fs::exists(c.path("rd/status/2.json")));
  // The killed task is in the joblog as a failure, so --resume reruns it.
  auto log = read_lines(c.path("jobs.log"));
  ASSERT_EQ(log.size(), 3u);
  EXPECT_TRUE(contains(log[2], "\t-1\t0\t")) << log[2];
}

TEST(SlurmCliTest, NoWaitThenStatusReportsRunningThenDone) {
  Cluster c;
  Tandem t;
  std::string go = c.path("go");
  int code = run(
      c,
      {"map", "--executor", "slurm", "--no-wait", "--run-dir", "rd", "--joblog", "jobs.log",
       "--args", "a", "b", "--shell", "--", "while [ ! -e " + go + " ]; do sleep 0.05; done # {}"},
      &t);
  ASSERT_EQ(code, 0) << t.err();
  EXPECT_EQ(t.out(), c.path("rd") + "\t4242\n");
  EXPECT_EQ(run(c, {"status", "rd"}, &t), 3) << t.out() << t.err();
  EXPECT_TRUE(contains(t.out(), "2 tasks: 0 ok, 0 failed")) << t.out();
  EXPECT_FALSE(fs::exists(c.path("jobs.log")));
  write_text(go, "");
  EXPECT_EQ(status_when_done(c, "rd", &t), 0) << t.out() << t.err();
  EXPECT_TRUE(contains(t.out(), "2 ok, 0 failed")) << t.out();
  // Once complete, status appended the joblog, once.
  EXPECT_EQ(read_lines(c.path("jobs.log")).size(), 3u);
  EXPECT_EQ(run(c, {"status", "rd"}), 0);
  EXPECT_EQ(read_lines(c.path("jobs.log")).size(), 3u);
}

TEST(SlurmCliTest, CancelRunsScancelAndStatusReportsCancelled) {
  Cluster c;
  std::string marker = unique_marker("slurmcancel");
  KillMarkedOnExit cleanup(marker);
  Tandem t;
  int code =
      run(c,
          {"map", "--executor", "slurm", "--no-wait", "--grace", "0.5", "--run-dir", "rd", "--args",
           "a", "b", "--shell", "--", "touch " + c.path("started-{}") + "; sleep 60 # " + marker},
          &t);
  ASSERT_EQ(code, 0) << t.err();
  ASSERT_TRUE(wait_for_file(c.path("started-a")));
  ASSERT_TRUE(wait_for_file(c.path("started-b")));
  EXPECT_EQ(run(c, {"status", "rd"}), 3);
  EXPECT_EQ(run(c, {"cancel", "rd"}, &t), 0) << t.err();
  EXPECT_TRUE(contains(t.out(), "cancelled SLURM job 4242")) << t.out();
  EXPECT_EQ(c.scancel_calls(), "4242\n");
  EXPECT_EQ(status_when_done(c, "rd", &t), 1) << t.out();
  EXPECT_TRUE(contains(t.out(), "0 ok, 2 failed")) << t.out();
  EXPECT_TRUE(contains(t.out(), "cancelled")) << t.out();
  // SLURM signals the job's own processes too; the task still reports a cancellation.
  EXPECT_FALSE(contains(t.out(), "killed by signal")) << t.out();
  EXPECT_TRUE(wait_for_file(c.path("rd/status/2.json")));
}

TEST(SlurmCliTest, WithoutAccountingStatusAsksSqueue) {
  Cluster c;
  write_text(c.bin + "/sacct.off", "");
  write_text(c.bin + "/squeue.txt", "4242_1|RUNNING\n4242_3|PENDING\n");
  std::string go = c.path("go");
  Tandem t;
  ASSERT_EQ(run(c,
                {"map", "--executor", "slurm", "--no-wait", "--run-dir", "rd", "--args", "a", "b",
                 "c", "--shell", "--", "while [ ! -e " + go + " ]; do sleep 0.05; done # {}"},
                &t),
            0)
      << t.err();
  // squeue lists 1 running and 3 pending; task 2 is gone from it without a status file.
  EXPECT_EQ(run(c, {"status", "rd"}, &t), 3) << t.out();
  EXPECT_TRUE(contains(t.out(), "3 tasks: 0 ok, 1 failed, 1 running, 1 pending")) << t.out();
  EXPECT_TRUE(contains(t.out(), "SLURM no longer lists the task")) << t.out();
  // A status file, written late, still decides.
  write_text(go, "");
  for (const char* i : {"1", "2", "3"}) {
    ASSERT_TRUE(wait_for_file(c.path("rd/status/") + i + ".json"));
  }
  EXPECT_EQ(status_when_done(c, "rd", &t), 0) << t.out();
  EXPECT_TRUE(contains(t.out(), "3 ok, 0 failed")) << t.out();
  // A task killed before it reported, in a job squeue has forgotten: failed, not pending forever.
  fs::remove(c.bin + "/squeue.txt");
  ASSERT_EQ(run(c,
                {"map", "--executor", "slurm", "--no-wait", "--run-dir", "rd2", "--args", "a",
                 "--shell", "--", "kill -KILL $PPID # {}"},
                &t),
            0)
      << t.err();
  EXPECT_EQ(status_when_done(c, "rd2", &t), 1) << t.out();
  EXPECT_TRUE(contains(t.out(), "1 tasks: 0 ok, 1 failed")) << t.out();
}

TEST(SlurmCliTest, StatusCountsACorruptStatusFileOfAnEndedTaskAsFailed) {
  Cluster c;
  Tandem t;
  ASSERT_EQ(
      run(c, {"map", "--executor", "slurm", "--run-dir", "rd", "--args", "a", "b", "--", "true"},
          &t),
      0)
      << t.err();
  write_text(c.path("rd/status/1.json"), "garbage\n");
  write_text(c.bin + "/sacct.txt", "4242_1|COMPLETED|0:0\n4242_2|COMPLETED|0:0\n");
  EXPECT_EQ(run(c, {"status", "rd"}, &t), 1) << t.out() << t.err();
  EXPECT_TRUE(contains(t.out(), "2 tasks: 1 ok, 1 failed, 0 running, 0 pending")) << t.out();
  EXPECT_TRUE(contains(t.out(), "FAILED a: unreadable status file " + c.path("rd/status/1.json") +
                                    ": not valid JSON"))
      << t.out();
}

TEST(SlurmCliTest, TasksCancelledBeforeTheyStartEndTheRun) {
  Cluster c;
  Tandem t;
  // The job kills its own task before it reports, as scancel ends a pending one; sacct then
  // shows the tasks that never started as one range.
  write_text(c.bin + "/sacct.txt", "4242_[2-3%1]|CANCELLED by 0|0:0\n");
  ASSERT_EQ(run(c,
                {"map", "--executor", "slurm", "--no-wait", "--run-dir", "rd", "--args", "a", "b",
                 "c", "--shell", "--", "[ {} = a ] || kill -KILL $PPID"},
                &t),
            0)
      << t.err();
  EXPECT_EQ(status_when_done(c, "rd", &t), 1) << t.out();
  EXPECT_TRUE(contains(t.out(), "1 ok, 2 failed, 0 running, 0 pending")) << t.out();
  EXPECT_TRUE(contains(t.out(), "SLURM ended the task: CANCELLED")) << t.out();
}

TEST(SlurmCliTest, ResumeResubmitsOnlyFailedSubjects) {
  Cluster c;
  write_text(c.path("fail-b"), "");
  std::vector<std::string> args = {"map",      "--executor", "slurm", "--joblog",
                                   "jobs.log", "--args",     "a",     "b",
                                   "c",        "--shell",    "--",    "[ ! -e fail-{} ]"};
  std::vector<std::string> first = args;
  first.insert(first.begin() + 3, {"--run-dir", "rd1"});
  Tandem t;
  EXPECT_EQ(run(c, first, &t), 1) << t.err();
  fs::remove(c.path("fail-b"));
  std::vector<std::string> second = args;
  second.insert(second.begin() + 3, {"--run-dir", "rd2", "--resume"});
  EXPECT_EQ(run(c, second, &t), 0) << t.err();
  auto calls = read_lines(c.bin + "/sbatch.calls");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_TRUE(contains(calls[1], "--array=1-1 ")) << calls[1];
  auto tasks = read_json(c.path("rd2/tasks.json"))["tasks"];
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0]["subject"], "b");
  EXPECT_TRUE(contains(t.err(), "1 ok, 0 failed, 2 skipped")) << t.err();
  // A third resume has nothing to submit.
  std::vector<std::string> third = args;
  third.insert(third.begin() + 3, {"--run-dir", "rd3", "--resume"});
  EXPECT_EQ(run(c, third, &t), 0) << t.err();
  EXPECT_EQ(read_lines(c.bin + "/sbatch.calls").size(), 2u);
}

// `map --executor slurm HEAD... ARGS...`: one run's own options, then the arguments its runs share.
std::vector<std::string> slurm_map(std::vector<std::string> head,
                                   const std::vector<std::string>& args) {
  head.insert(head.begin(), {"map", "--executor", "slurm"});
  head.insert(head.end(), args.begin(), args.end());
  return head;
}

TEST(SlurmCliTest, ResumeAfterNoWaitFirstAppendsTheEndedRunsJoblog) {
  Cluster c;
  write_text(c.path("fail-b"), "");
  std::vector<std::string> args = {"--joblog", "jobs.log", "--args",          "a", "b", "c",
                                   "--shell",  "--",       "[ ! -e fail-{} ]"};
  auto map = [&args](std::vector<std::string> head) { return slurm_map(head, args); };
  Tandem t;
  ASSERT_EQ(run(c, map({"--no-wait", "--run-dir", "rd1"}), &t), 0) << t.err();
  for (const char* i : {"1", "2", "3"}) {
    ASSERT_TRUE(wait_for_file(c.path("rd1/status/") + i + ".json"));
  }
  // Nobody ran `tandem status rd1`: the joblog does not exist yet.
  EXPECT_FALSE(fs::exists(c.path("jobs.log")));
  fs::remove(c.path("fail-b"));
  EXPECT_EQ(run(c, map({"--run-dir", "rd2", "--resume"}), &t), 0) << t.err();
  EXPECT_TRUE(contains(t.err(), "appended the ended SLURM run " + c.path("rd1"))) << t.err();
  EXPECT_TRUE(contains(t.err(), "1 ok, 0 failed, 2 skipped")) << t.err();
  auto calls = read_lines(c.bin + "/sbatch.calls");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_TRUE(contains(calls[1], "--array=1-1 ")) << calls[1];
  // rd1's three lines, then rd2's one, in the order they ran.
  auto log = read_lines(c.path("jobs.log"));
  ASSERT_EQ(log.size(), 5u);
  for (std::size_t i = 1; i < 4; ++i) EXPECT_EQ(log[i].rfind(std::to_string(i) + "\t", 0), 0u);
  EXPECT_EQ(log[4].rfind("2\t", 0), 0u) << log[4];
  EXPECT_EQ(run(c, {"status", "rd1"}, &t), 1) << t.out();
  EXPECT_EQ(read_lines(c.path("jobs.log")).size(), 5u);
}

TEST(SlurmCliTest, ResumeWhileTheEarlierRunStillRunsIsRefused) {
  Cluster c;
  std::string go = c.path("go");
  std::vector<std::string> args = {
      "--joblog", "jobs.log", "--args", "a",
      "b",        "--shell",  "--",     "while [ ! -e " + go + " ]; do sleep 0.05; done # {}"};
  auto map = [&args](std::vector<std::string> head) { return slurm_map(head, args); };
  Tandem t;
  ASSERT_EQ(run(c, map({"--no-wait", "--run-dir", "rd1"}), &t), 0) << t.err();
  EXPECT_EQ(run(c, map({"--run-dir", "rd2", "--resume"}), &t), 2);
  EXPECT_TRUE(contains(t.err(), "tandem: error: --resume: the SLURM run " + c.path("rd1") +
                                    " (job 4242) that appends to " + c.path("jobs.log") +
                                    " is still running, 0 running, 2 pending: wait, `tandem "
                                    "status " +
                                    c.path("rd1") + "`, or `tandem cancel " + c.path("rd1") + "`"))
      << t.err();
  EXPECT_EQ(read_lines(c.bin + "/sbatch.calls").size(), 1u);
  EXPECT_FALSE(fs::exists(c.path("rd2")));
  write_text(go, "");
  for (const char* i : {"1", "2"}) ASSERT_TRUE(wait_for_file(c.path("rd1/status/") + i + ".json"));
  EXPECT_EQ(run(c, map({"--run-dir", "rd2", "--resume"}), &t), 0) << t.err();
  EXPECT_TRUE(contains(t.err(), "0 ok, 0 failed, 2 skipped")) << t.err();
  EXPECT_EQ(read_lines(c.bin + "/sbatch.calls").size(), 1u);
}

TEST(SlurmCliTest, MissingSbatchIsAUsageError) {
  Cluster c;
  Tandem t =
      start(c, {"map", "--executor", "slurm", "--run-dir", "rd", "--args", "a", "--", "true"},
            c.dir / "empty-path");
  EXPECT_EQ(t.wait(), 2);
  EXPECT_TRUE(contains(t.err(), "--executor slurm: sbatch not found on PATH; is SLURM installed"))
      << t.err();
  EXPECT_FALSE(fs::exists(c.path("rd")));
}

TEST(SlurmCliTest, FailingSbatchIsAnErrorWithItsMessage) {
  Cluster c;
  ::setenv("FAKE_SBATCH_FAIL", "invalid partition specified: nope", 1);
  Tandem t;
  int code = run(c,
                 {"map", "--executor", "slurm", "--run-dir", "rd", "--slurm-arg=--partition=nope",
                  "--args", "a", "--", "true"},
                 &t);
  ::unsetenv("FAKE_SBATCH_FAIL");
  EXPECT_EQ(code, 1);
  EXPECT_TRUE(contains(t.err(), "sbatch failed (exit 1): sbatch: error: invalid partition"))
      << t.err();
  EXPECT_FALSE(fs::exists(c.path("rd")));
}

TEST(SlurmCliTest, MoreSubjectsThanMaxArraySizeAreRefusedBeforeSubmitting) {
  Cluster c;
  write_text(c.bin + "/max_array_size", "3\n");
  Tandem t;
  EXPECT_EQ(
      run(c,
          {"map", "--executor", "slurm", "--run-dir", "rd", "--args", "a", "b", "c", "--", "true"},
          &t),
      2);
  EXPECT_TRUE(contains(t.err(),
                       "3 subjects to submit, but one job array holds at most 2 tasks here: "
                       "MaxArraySize is 3 (scontrol show config); submit them in parts with "
                       "--shard K/2"))
      << t.err();
  EXPECT_TRUE(c.sbatch_calls().empty());
  EXPECT_FALSE(fs::exists(c.path("rd")));
  // Each shard fits.
  EXPECT_EQ(run(c,
                {"map", "--executor", "slurm", "--run-dir", "rd1", "--shard", "1/2", "--args", "a",
                 "b", "c", "--", "true"},
                &t),
            0)
      << t.err();
  EXPECT_TRUE(contains(c.sbatch_calls(), "--array=1-2 ")) << c.sbatch_calls();
  // Without scontrol, SLURM's default (1001) holds.
  fs::remove(c.bin + "/scontrol");
  std::string subjects;
  for (int i = 0; i < 1001; ++i) subjects += "s" + std::to_string(i) + "\n";
  write_text(c.path("subjects.txt"), subjects);
  EXPECT_EQ(run(c,
                {"map", "--executor", "slurm", "--run-dir", "rd2", "--subjects", "subjects.txt",
                 "--", "true"},
                &t),
            2);
  EXPECT_TRUE(contains(t.err(), "MaxArraySize is 1001 (SLURM's default")) << t.err();
}

TEST(SlurmCliTest, SubjectThatIsNotUtf8IsAUsageErrorBeforeSubmitting) {
  Cluster c;
  write_text(c.path("subjects.txt"), "caf\xe9\nok\n");  // a Latin-1 name
  Tandem t;
  EXPECT_EQ(run(c,
                {"map", "--executor", "slurm", "--run-dir", "rd", "--subjects", "subjects.txt",
                 "--", "true"},
                &t),
            2);
  EXPECT_TRUE(contains(t.err(), "is not UTF-8 text")) << t.err();
  EXPECT_TRUE(c.sbatch_calls().empty());
  EXPECT_FALSE(fs::exists(c.path("rd")));  // nothing to clear before the next try
}

TEST(SlurmCliTest, BadCombinationsAreUsageErrors) {
  Cluster c;
  EXPECT_EQ(run(c, {"map", "--no-wait", "--args", "a", "--", "true"}), 2);
  EXPECT_EQ(run(c, {"map", "--run-dir", "x", "--args", "a", "--", "true"}), 2);
  EXPECT_EQ(run(c, {"map", "--executor", "pbs", "--args", "a", "--", "true"}), 2);
  EXPECT_EQ(
      run(c, {"map", "--executor", "slurm", "--halt", "now,fail=1", "--args", "a", "--", "true"}),
      2);
  EXPECT_EQ(run(c, {"map", "--executor", "slurm", "--no-wait", "--report", "r.json", "--args", "a",
                    "--", "true"}),
            2);
  fs::create_directories(c.path("used"));
  write_text(c.path("used/file"), "");
  Tandem t;
  EXPECT_EQ(
      run(c, {"map", "--executor", "slurm", "--run-dir", "used", "--args", "a", "--", "true"}, &t),
      2);
  EXPECT_TRUE(contains(t.err(), "exists and is not empty")) << t.err();
  // A wrong RUNDIR is a usage error, as status --help says.
  EXPECT_EQ(run(c, {"status", c.path("nowhere")}, &t), 2);
  EXPECT_TRUE(contains(t.err(), "not a tandem SLURM run directory")) << t.err();
  EXPECT_EQ(run(c, {"cancel", c.path("nowhere")}, &t), 2);
  EXPECT_TRUE(c.sbatch_calls().empty());
}

TEST(SlurmCliTest, InterruptWhileWaitingCancelsTheJob) {
  Cluster c;
  std::string marker = unique_marker("slurmint");
  KillMarkedOnExit cleanup(marker);
  Tandem t = start(c, {"map", "--executor", "slurm", "--grace", "0.5", "--run-dir", "rd",
                       "--report", "r.json", "--joblog", "jobs.log", "--args", "a", "b", "--shell",
                       "--", "touch " + c.path("started-{}") + "; sleep 60 # " + marker});
  ASSERT_TRUE(wait_for_file(c.path("started-a")));
  ASSERT_TRUE(wait_for_file(c.path("started-b")));
  ::kill(t.pid, SIGINT);
  EXPECT_EQ(t.wait(), 130) << t.err();
  EXPECT_EQ(c.scancel_calls(), "4242\n");
  EXPECT_TRUE(contains(t.err(), "tandem status " + c.path("rd"))) << t.err();
  EXPECT_EQ(read_json(c.path("r.json"))["summary"]["interrupted"], true);
  // tandem waited for the cancelled tasks to end: the joblog has their attempts.
  EXPECT_TRUE(fs::exists(c.path("rd/status/1.json")));
  EXPECT_TRUE(fs::exists(c.path("rd/status/2.json")));
  EXPECT_EQ(read_lines(c.path("jobs.log")).size(), 3u);
  EXPECT_EQ(status_when_done(c, "rd", &t), 1) << t.out();
  EXPECT_TRUE(contains(t.out(), "0 ok, 2 failed")) << t.out();
  EXPECT_FALSE(contains(t.out(), "killed by signal")) << t.out();
}

}  // namespace
}  // namespace tandem::testing
