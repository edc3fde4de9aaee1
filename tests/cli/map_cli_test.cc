// SPDX-License-Identifier: Apache-2.0
// End-to-end tests of `tandem map` with real `sh` children: exit codes, the summary, the report,
// SIGINT to tandem, --resume after SIGKILL of tandem, declared outputs and usage errors.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "../jobs/process_test_util.h"
#include "cli_test_util.h"

namespace tandem::testing {
namespace {

std::string tandem() {
  const char* bin = std::getenv("TANDEM_BIN");
  return bin ? bin : "tandem";
}

using Tandem = Background;

// `tandem map ARGS...` in the background; kept logs of failed jobs land in the test's directory.
Tandem start(const TempDir& dir, const std::vector<std::string>& args) {
  static int n = 0;
  std::vector<std::string> argv = {tandem(), "map"};
  argv.insert(argv.end(), args.begin(), args.end());
  return start_background(argv, dir / ("tandem" + std::to_string(n++)), {{"TMPDIR", dir.str()}});
}

int run(const TempDir& dir, const std::vector<std::string>& args, Tandem* done = nullptr) {
  Tandem t = start(dir, args);
  int code = t.wait();
  if (done != nullptr) *done = t;
  return code;
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_text(path)); }

TEST(MapCliTest, SuccessWritesReportAndExitsZero) {
  TempDir dir;
  Tandem t;
  int code = run(
      dir,
      {"-j", "2", "--report", dir / "r.json", "--args", "a", "b", "c", "--", "echo", "hi", "{}"},
      &t);
  EXPECT_EQ(code, 0) << t.err();
  // Each job's output whole, in the order the jobs finish.
  auto out = read_lines(t.out_path);
  EXPECT_EQ(std::set<std::string>(out.begin(), out.end()),
            (std::set<std::string>{"hi a", "hi b", "hi c"}));
  EXPECT_EQ(out.size(), 3u);
  auto report = read_json(dir / "r.json");
  ASSERT_EQ(report["subjects"].size(), 3u);
  for (const auto& s : report["subjects"]) {
    EXPECT_EQ(s["outcome"], "ok");
    EXPECT_EQ(s["attempts"], 1);
    EXPECT_EQ(s["exit_code"], 0);
  }
  EXPECT_EQ(report["subjects"][1]["command"], "echo hi b");
  EXPECT_EQ(report["summary"]["exit_code"], 0);
}

TEST(MapCliTest, FailureExitsOneAndSummaryNamesSubjectReasonAndStderr) {
  TempDir dir;
  Tandem t;
  int code = run(
      dir, {"--args", "good", "bad", "--shell", "--", "echo", "oops-{} >&2;", "[ {} = good ]"}, &t);
  EXPECT_EQ(code, 1);
  std::string err = t.err();
  EXPECT_NE(err.find("bad: exit 1"), std::string::npos) << err;
  EXPECT_NE(err.find("| oops-bad"), std::string::npos) << err;
}

TEST(MapCliTest, QuietPrintsTheSummaryButNoPerJobLines) {
  TempDir dir;
  Tandem t;
  EXPECT_EQ(run(dir, {"-q", "--args", "a", "b", "--", "true"}, &t), 0) << t.err();
  auto err = read_lines(t.err_path);
  ASSERT_EQ(err.size(), 1u) << t.err();
  EXPECT_EQ(err[0].rfind("map: 2 subjects: 2 ok, 0 failed, 0 skipped, 0 not started", 0), 0u)
      << err[0];
  EXPECT_EQ(run(dir, {"--help"}, &t), 0);
  EXPECT_NE(t.out().find("Print only failures and the summary"), std::string::npos);
}

TEST(MapCliTest, ParentDirectoriesOfDeclaredOutputsAreCreated) {
  TempDir dir;
  Tandem t;
  // The job writes into out/sub/ without creating it, as AFNI's -prefix does.
  EXPECT_EQ(run(dir,
                {"--output", dir / "out/sub/{}.txt", "--args", "a", "b", "--shell", "--",
                 "echo {} > " + dir / "out/sub/{}.txt"},
                &t),
            0)
      << t.err();
  EXPECT_EQ(read_text(dir / "out/sub/b.txt"), "b\n");
  // A parent that cannot be created (a file is in the way) fails that job, naming it and why.
  write_text(dir / "blocker", "");
  EXPECT_EQ(run(dir,
                {"--report", dir / "r.json", "--output", dir / "blocker/{}.txt", "--args", "a",
                 "--", "true"},
                &t),
            1);
  EXPECT_NE(t.err().find("a: cannot create the directory " + dir / "blocker" + " for the output " +
                         dir / "blocker/a.txt"),
            std::string::npos)
      << t.err();
  EXPECT_EQ(read_json(dir / "r.json")["subjects"][0]["outcome"], "exit");
}

TEST(MapCliTest, CommandNotFoundIsReported) {
  TempDir dir;
  Tandem t;
  int code =
      run(dir, {"--report", dir / "r.json", "--args", "a", "--", "tandem-no-such-cmd-q"}, &t);
  EXPECT_EQ(code, 1);
  EXPECT_EQ(read_json(dir / "r.json")["subjects"][0]["outcome"], "not_found");
  EXPECT_NE(t.err().find("not_found"), std::string::npos);
}

TEST(MapCliTest, PlaceholderErrorsAreUsageErrorsBeforeAnythingRuns) {
  TempDir dir;
  std::string ran = dir / "ran";
  EXPECT_EQ(run(dir, {"--args", "a", "--", "touch", ran, "{nope}"}), 2);
  write_text(dir / "participants.tsv", "participant_id\tage\nsub-01\t30\n");
  EXPECT_EQ(run(dir, {"--subjects", dir / "participants.tsv", "--", "touch", ran, "{session}"}), 2);
  EXPECT_EQ(run(dir, {"--args", "a", "--timeout", "soon", "--", "touch", ran}), 2);
  EXPECT_EQ(run(dir, {"--args", "a"}), 2);
  EXPECT_FALSE(std::filesystem::exists(ran));
  EXPECT_EQ(run(dir, {"--subjects", dir / "participants.tsv", "--", "touch",
                      dir.str() + "/{participant_id}-{age}"}),
            0);
  EXPECT_TRUE(std::filesystem::exists(dir / "sub-01-30"));
}

TEST(MapCliTest, DryRunPrintsCommandsAndRunsNothing) {
  TempDir dir;
  Tandem t;
  EXPECT_EQ(
      run(dir, {"--dry-run", "--args", "/d/s1.nii.gz", "--", "touch", dir.str() + "/{/.}"}, &t), 0);
  EXPECT_EQ(t.out(), "touch " + dir.str() + "/s1.nii\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "s1.nii"));
}

TEST(MapCliTest, TheJobCommandsOwnFlagsAreNeverTandems) {
  // After `--` everything is the job's: -q, -j and --output here belong to echo, not to tandem
  // (which would otherwise go quiet, change -j and declare an output the job never writes).
  TempDir dir;
  Tandem t;
  EXPECT_EQ(
      run(dir, {"--args", "a", "b", "--", "echo", "-q", "-j", "9", "--output", "x", "{}"}, &t), 0)
      << t.err();
  EXPECT_NE(t.out().find("-q -j 9 --output x a\n"), std::string::npos) << t.out();
  EXPECT_NE(t.err().find("2 ok, 0 failed"), std::string::npos) << t.err();
}

TEST(MapCliTest, ResultsDirKeepsEachSubjectsOutput) {
  TempDir dir;
  Tandem t;
  EXPECT_EQ(run(dir,
                {"--results", dir / "res", "--args", "s1", "s2", "--shell", "--",
                 "echo out {}; echo err {} >&2"},
                &t),
            0);
  EXPECT_EQ(t.out(), "");
  EXPECT_EQ(read_text(dir / "res/s2/stdout"), "out s2\n");
  EXPECT_EQ(read_text(dir / "res/s2/stderr"), "err s2\n");
}

TEST(MapCliTest, TimeoutLeavesNoProcessOfTheJob) {
  TempDir dir;
  write_grandchild_scripts(dir);
  std::string marker = unique_marker("clitimeout");
  KillMarkedOnExit cleanup(marker);
  Tandem t;
  int code = run(dir,
                 {"--timeout", "1", "--grace", "0.3", "--report", dir / "r.json", "--args", marker,
                  "--", "sh", dir / "leader.sh", dir.str(), "{}", "wait"},
                 &t);
  EXPECT_EQ(code, 1) << t.err();
  EXPECT_EQ(read_json(dir / "r.json")["subjects"][0]["outcome"], "timeout");
  EXPECT_TRUE(processes_with_marker(marker).empty());
  EXPECT_FALSE(pid_exists(read_pid(dir / "grand")));
}

// Subjects 1 and 2 run a TERM-ignoring grandchild forever; once both are up, tandem gets `sig`.
void expect_signal_ends_every_job(int sig) {
  TempDir dir;
  write_grandchild_scripts(dir);
  std::string marker = unique_marker("clisignal");
  KillMarkedOnExit cleanup(marker);
  write_text(dir / "job.sh",
             "mkdir -p \"$1/$2\" && cp \"$1/grand.sh\" \"$1/$2/\"\n"
             "sh \"$1/leader.sh\" \"$1/$2\" \"$3\" wait\n");
  Tandem t = start(
      dir, {"-j", "2", "--grace", "0.3", "--joblog", dir / "log", "--report", dir / "r.json",
            "--args", "1", "2", "3", "4", "--", "sh", dir / "job.sh", dir.str(), "{}", marker});
  ASSERT_TRUE(wait_for_file(dir / "1/grand"));
  ASSERT_TRUE(wait_for_file(dir / "2/grand"));
  ::kill(t.pid, sig);
  EXPECT_EQ(t.wait(), 130) << t.err();
  EXPECT_TRUE(processes_with_marker(marker).empty());
  auto report = read_json(dir / "r.json");
  EXPECT_EQ(report["summary"]["interrupted"], true);
  EXPECT_EQ(report["subjects"][0]["outcome"], "interrupted");
  EXPECT_EQ(report["subjects"][1]["outcome"], "interrupted");
  EXPECT_EQ(report["subjects"][2]["outcome"], "not_started");
  EXPECT_EQ(report["subjects"][3]["outcome"], "not_started");
  // One joblog line per started attempt, none for jobs that never started.
  auto lines = read_lines(dir / "log");
  ASSERT_EQ(lines.size(), 3u);
  std::set<std::string> seqs = {lines[1].substr(0, lines[1].find('\t')),
                                lines[2].substr(0, lines[2].find('\t'))};
  EXPECT_EQ(seqs, (std::set<std::string>{"1", "2"}));
}

TEST(MapCliTest, SigintEndsEveryJobAndWritesConsistentLogAndReport) {
  expect_signal_ends_every_job(SIGINT);
}

TEST(MapCliTest, SigtermEndsEveryJobAndWritesConsistentLogAndReport) {
  expect_signal_ends_every_job(SIGTERM);
}

TEST(MapCliTest, SighupEndsEveryJobAndWritesConsistentLogAndReport) {
  expect_signal_ends_every_job(SIGHUP);
}

// First run: a and b succeed, c fails, d and e hang; tandem is SIGKILLed. The resumed run must
// not rerun a or b and must run c, d and e.
TEST(MapCliTest, ResumeAfterKill9RerunsFailedAndUnfinishedOnly) {
  TempDir dir;
  std::string marker = unique_marker("resume");
  KillMarkedOnExit cleanup(marker);
  write_text(dir / "job.sh",
             "echo \"$2\" >> \"$1/runs\"\n"
             "[ \"$2\" = c ] && [ ! -e \"$1/fixed\" ] && exit 1\n"
             "if [ \"$2\" = d ] || [ \"$2\" = e ]; then\n"
             "  while [ ! -e \"$1/fixed\" ]; do sleep 0.1; done\n"
             "fi\n"
             "exit 0\n");
  std::vector<std::string> args = {
      "-j", "2", "--joblog", dir / "log", "--resume",     "--args",  "a",  "b",   "c",
      "d",  "e", "--",       "sh",        dir / "job.sh", dir.str(), "{}", marker};
  Tandem first = start(dir, args);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (read_lines(dir / "log").size() < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(read_lines(dir / "log").size(), 4u);  // header + a, b, c
  ::kill(first.pid, SIGKILL);
  first.wait();
  // A SIGKILLed tandem cannot end its jobs (as with GNU parallel); the test ends them.
  for (int pid : processes_with_marker(marker)) ::kill(pid, SIGKILL);
  write_text(dir / "fixed", "");
  std::filesystem::remove(dir / "runs");
  Tandem second;
  EXPECT_EQ(run(dir, args, &second), 0) << second.err();
  auto reran = read_lines(dir / "runs");
  EXPECT_EQ(std::set<std::string>(reran.begin(), reran.end()),
            (std::set<std::string>{"c", "d", "e"}));
  EXPECT_EQ(reran.size(), 3u);
}

TEST(MapCliTest, DeclaredOutputsDecideDoneAndFailuresLeaveNone) {
  TempDir dir;
  // Subject x succeeds; y writes a partial output and fails; z exits 0 without output.
  write_text(dir / "job.sh",
             "case \"$2\" in x) echo ok > \"$1/$2.out\";; y) echo partial > \"$1/$2.out\"; exit 1;;"
             " z) exit 0;; esac\n");
  std::vector<std::string> args = {
      "--report", dir / "r.json", "--output", dir.str() + "/{}.out", "--args",  "x", "y",
      "z",        "--",           "sh",       dir / "job.sh",        dir.str(), "{}"};
  EXPECT_EQ(run(dir, args), 1);
  auto report = read_json(dir / "r.json");
  EXPECT_EQ(report["subjects"][0]["outcome"], "ok");
  EXPECT_EQ(report["subjects"][1]["outcome"], "exit");
  EXPECT_EQ(report["subjects"][2]["outcome"], "missing_output");
  EXPECT_TRUE(std::filesystem::exists(dir / "x.out"));
  EXPECT_FALSE(std::filesystem::exists(dir / "y.out"));
  // Second run: x is skipped as done (its job would now fail), y and z run again.
  write_text(dir / "x.out", "kept");
  EXPECT_EQ(run(dir, args), 1);
  report = read_json(dir / "r.json");
  EXPECT_EQ(report["subjects"][0]["outcome"], "skipped");
  EXPECT_EQ(read_text(dir / "x.out"), "kept");
  EXPECT_EQ(report["subjects"][1]["attempts"], 1);
}

// With more memory per job than the machine has, the gate lets only one job run at a time (it
// never stalls an idle run): no two jobs may hold the lock directory together.
TEST(MapCliTest, MemPerJobGatesConcurrency) {
  TempDir dir;
  write_text(dir / "job.sh", "mkdir \"$1/lock\" || exit 1; sleep 0.2; rmdir \"$1/lock\"\n");
  Tandem t;
  EXPECT_EQ(run(dir,
                {"-j", "4", "--mem-per-job", "1000T", "--args", "a", "b", "c", "--", "sh",
                 dir / "job.sh", dir.str()},
                &t),
            0)
      << t.err();
  EXPECT_NE(t.err().find("tandem: warning: --mem-per-job 1000T is more than the"),
            std::string::npos)
      << t.err();
  EXPECT_NE(t.err().find("the jobs will run one at a time"), std::string::npos) << t.err();
  // The same run without the gate does overlap (so the check above can fail).
  EXPECT_EQ(run(dir, {"-j", "4", "--args", "a", "b", "c", "--", "sh", dir / "job.sh", dir.str()}),
            1);
}

TEST(MapCliTest, RetriesAreCountedInTheReport) {
  TempDir dir;
  std::string counter = dir / "n";
  write_text(dir / "job.sh",
             "n=$(cat \"$1\" 2>/dev/null || echo 0); echo $((n+1)) > \"$1\";"
             " [ $n -ge 1 ]\n");
  EXPECT_EQ(run(dir, {"--retries", "2", "--retry-delay", "0.01", "--report", dir / "r.json",
                      "--args", "a", "--", "sh", dir / "job.sh", counter}),
            0);
  EXPECT_EQ(read_json(dir / "r.json")["subjects"][0]["attempts"], 2);
}

TEST(MapCliTest, ReportPathIsCheckedBeforeAnyJobRuns) {
  TempDir dir;
  std::string ran = dir / "ran";
  Tandem t;
  EXPECT_EQ(run(dir, {"--report", dir / "no/such/r.json", "--args", "a", "--", "touch", ran}, &t),
            2);
  EXPECT_NE(t.err().find("tandem: error: cannot write the report: " + dir / "no/such/r.json" +
                         ": No such file or directory"),
            std::string::npos)
      << t.err();
  EXPECT_EQ(run(dir, {"--report", dir.str(), "--args", "a", "--", "touch", ran}, &t), 2);
  EXPECT_NE(t.err().find("is a directory"), std::string::npos) << t.err();
  EXPECT_FALSE(std::filesystem::exists(ran));
}

// The job removes the report's directory, so the report can be claimed but not written.
TEST(MapCliTest, ReportThatCannotBeWrittenAtTheEndKeepsTheSummary) {
  TempDir dir;
  std::filesystem::create_directory(dir / "out");
  Tandem t;
  EXPECT_EQ(run(dir, {"--report", dir / "out/r.json", "--args", dir / "out", "--", "rm", "-r"}, &t),
            1);
  EXPECT_NE(t.err().find("map: 1 subject: 1 ok"), std::string::npos) << t.err();
  EXPECT_NE(t.err().find("tandem: error: cannot write the report: " + dir / "out/r.json"),
            std::string::npos)
      << t.err();
}

TEST(MapCliTest, UnusableSubjectsFilesAreUsageErrorsWithTheReason) {
  TempDir dir;
  std::string ran = dir / "ran";
  write_text(dir / "ragged.tsv", "participant_id\tage\tgroup\nsub-01\t23\n");
  write_text(dir / "empty.txt", "");
  write_text(dir / "header.tsv", "participant_id\tage\n");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {dir.str(), "is a directory"},
      {dir / "typo.txt", "No such file or directory"},
      {dir / "ragged.tsv", "line 2: has 2 fields, the header has 3"},
      {dir / "empty.txt", "has no subjects"},
      {dir / "header.tsv", "has no subjects, only the header row"}};
  for (const auto& [file, reason] : cases) {
    Tandem t;
    EXPECT_EQ(run(dir, {"--subjects", file, "--", "touch", ran}, &t), 2) << file;
    EXPECT_NE(t.err().find("tandem: error: --subjects: " + file + ": "), std::string::npos)
        << t.err();
    EXPECT_NE(t.err().find(reason), std::string::npos) << t.err();
  }
  EXPECT_FALSE(std::filesystem::exists(ran));
}

TEST(MapCliTest, DuplicateSubjectsAreRefusedBeforeAnythingRuns) {
  TempDir dir;
  std::string ran = dir / "ran";
  write_text(dir / "dup.txt", "sub-01\nsub-02\nsub-01\n");
  Tandem t;
  EXPECT_EQ(run(dir, {"--subjects", dir / "dup.txt", "--", "touch", ran}, &t), 2);
  EXPECT_NE(t.err().find("lines 1 and 3 both name sub-01"), std::string::npos) << t.err();
  EXPECT_NE(t.err().find("remove the duplicate"), std::string::npos) << t.err();
  EXPECT_EQ(run(dir, {"--args", "a", "b", "a", "--", "touch", ran}, &t), 2);
  EXPECT_NE(t.err().find("--args: subjects 1 and 3 both name a"), std::string::npos) << t.err();
  EXPECT_FALSE(std::filesystem::exists(ran));
}

// Jobs that ignore SIGINT and SIGTERM: the first Ctrl-C says how long tandem will wait and that
// a second one kills them; the second does, long before --grace 60s is over.
TEST(MapCliTest, SecondInterruptKillsTheJobsAtOnce) {
  TempDir dir;
  std::string marker = unique_marker("cliagain");
  KillMarkedOnExit cleanup(marker);
  Tandem t =
      start(dir, {"-j", "2", "--grace", "60", "--args", "1", "2", "--", "sh", "-c",
                  "trap '' INT TERM; touch " + dir.str() + "/up-$0; sleep 60 # " + marker, "{}"});
  ASSERT_TRUE(wait_for_file(dir / "up-1"));
  ASSERT_TRUE(wait_for_file(dir / "up-2"));
  auto begin = std::chrono::steady_clock::now();
  ::kill(t.pid, SIGINT);
  auto deadline = begin + std::chrono::seconds(30);
  while (t.err().find("Ctrl-C again") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(t.err().find("waiting up to 60s for 2 running jobs to end (Ctrl-C again to kill "
                         "them now)"),
            std::string::npos)
      << t.err();
  ::kill(t.pid, SIGINT);
  EXPECT_EQ(t.wait(), 130) << t.err();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count(), 30);
  EXPECT_TRUE(processes_with_marker(marker).empty());
}

TEST(MapCliTest, HelpSaysWhatZeroAndAMissingPlaceholderMean) {
  TempDir dir;
  Tandem t;
  EXPECT_EQ(run(dir, {"--help"}, &t), 0);
  std::string help = t.out();
  for (const char* phrase : {"0 or none given: the usable cores", "0 or none given: no limit",
                             "the subject is appended as the last argument",
                             "1-of-1 without --shard", "a second Ctrl-C kills"}) {
    EXPECT_NE(help.find(phrase), std::string::npos) << phrase << "\n" << help;
  }
  EXPECT_EQ(run(dir, {"-j", "-1", "--args", "a", "--", "true"}, &t), 2);
  EXPECT_NE(t.err().find("or 0 for the default"), std::string::npos) << t.err();
}

}  // namespace
}  // namespace tandem::testing
