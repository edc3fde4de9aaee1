// SPDX-License-Identifier: Apache-2.0
// End-to-end: `tandem run PLAN.toml` with real plans, errors and signals.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_test_util.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;
using testing::run_command;
using testing::ScratchDir;
using testing::tandem_bin;

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// True when some process's command line holds `marker`.
bool process_with_marker_exists(const std::string& marker) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find(marker) != std::string::npos && e.path().filename() != std::to_string(getpid())) {
      return true;
    }
  }
  return false;
}

TEST(RunCliTest, BothHalvesRunAndOneReportHoldsThem) {
  ScratchDir d;
  write(d / "plan.toml", "[svd]\nrandom = \"3x20x20\"\noutput = \"" + d / "svd" +
                             "\"\ndevice = \"cpu\"\n\n[jobs]\nargs = [\"a\", \"b\"]\n"
                             "command = [\"sh\", \"-c\", \"echo {} > " +
                             d / "out_{}" +
                             "\"]\n"
                             "outputs = [\"" +
                             d / "out_{}" + "\"]\n");
  auto r = run_command(tandem_bin() + " run -q " + d / "plan.toml" + " --report " + d / "r.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(d / "svd/random.npz"));
  EXPECT_TRUE(fs::exists(d / "out_a"));
  std::ifstream in(d / "r.json");
  nlohmann::json j = nlohmann::json::parse(in);
  // One list: three matrices, the record of the file they went to, then the two subjects.
  ASSERT_EQ(j["items"].size(), 6u);
  EXPECT_EQ(j["items"][3]["output"], d / "svd/random.npz");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(j["items"][i]["half"], "svd");
  EXPECT_EQ(j["items"][4]["half"], "jobs");
  EXPECT_EQ(j["items"][5]["half"], "jobs");
  EXPECT_EQ(j["summary"]["svd"]["done"], 3);
  EXPECT_EQ(j["summary"]["jobs"]["jobs"]["ok"], 2);
}

TEST(RunCliTest, FailedSmoothSubjectSaysWhyOnItsLineInTheSummaryAndInTheReport) {
  ScratchDir d;
  write(d / "sub-02_bold.nii.gz", "garbage");
  write(d / "plan.toml", "[smooth]\nargs = [\"sub-02\"]\ninput = \"" + d / "{}_bold.nii.gz" +
                             "\"\noutput = \"" + d / "sm/{}_sm.nii.gz" + "\"\nfwhm = 6\n");
  auto r = run_command(tandem_bin() + " run " + d / "plan.toml" + " --report " + d / "r.json");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const std::string why = d / "sub-02_bold.nii.gz" + ": not a NIfTI file";
  EXPECT_NE(r.output.find("smooth [1/1] FAILED sub-02: " + why), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  sub-02: " + why), std::string::npos) << r.output;
  std::ifstream in(d / "r.json");
  nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_EQ(j["items"].size(), 1u);
  EXPECT_EQ(j["items"][0]["half"], "smooth");
  const std::string message = j["items"][0]["message"];
  EXPECT_EQ(message.rfind(why, 0), 0u) << message;
  EXPECT_NE(message.find("(exit 1)"), std::string::npos) << message;
}

TEST(RunCliTest, CoresAboveTheUsableOnesAreWarnedOfAndTheRunGoesOn) {
  ScratchDir d;
  write(d / "plan.toml", "[jobs]\nargs = [\"a\"]\ncommand = [\"true\"]\n");
  // Pinned to one CPU, so that 2 is more than this process may use on any machine.
  auto r = run_command("taskset -c 0 " + tandem_bin() + " run " + d / "plan.toml" + " --cores 2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tandem: warning: --cores 2 is more than the 1 usable core here; the "
                          "jobs and SVD workers will be oversubscribed"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("run: core budget 2"), std::string::npos) << r.output;
  auto within =
      run_command("taskset -c 0 " + tandem_bin() + " run " + d / "plan.toml" + " --cores 1");
  EXPECT_EQ(within.exit_code, 0) << within.output;
  EXPECT_EQ(within.output.find("warning"), std::string::npos) << within.output;
}

TEST(RunCliTest, ShardsOfAJobArrayTogetherRunEverySubjectOnce) {
  ScratchDir d;
  write(d / "plan.toml",
        "[jobs]\nargs = [\"a\", \"b\", \"c\"]\njoblog = \"" + d / "jobs-{shard}.log" +
            "\"\ncommand = [\"sh\", \"-c\", \"echo {} >> " + d / "out_{}" + "\"]\n");
  for (const char* k : {"1", "2"}) {
    auto r = run_command(tandem_bin() + " run -q " + d / "plan.toml" + " --shard " + k + "/2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(std::string("shard ") + k + "/2"), std::string::npos) << r.output;
  }
  for (const char* s : {"a", "b", "c"}) {
    std::ifstream in(d / (std::string("out_") + s));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, std::string(s) + "\n") << s;  // written exactly once
  }
  EXPECT_TRUE(fs::exists(d / "jobs-1-of-2.log"));
  EXPECT_TRUE(fs::exists(d / "jobs-2-of-2.log"));
  auto bad = run_command(tandem_bin() + " run -q " + d / "plan.toml" + " --shard 3/2");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--shard"), std::string::npos) << bad.output;
}

TEST(RunCliTest, ResumeSkipsFinishedWorkInBothHalves) {
  ScratchDir d;
  write(d / "plan.toml", "[svd]\nrandom = \"2x20x20\"\noutput = \"" + d / "svd" +
                             "\"\ndevice = \"cpu\"\n\n[jobs]\nargs = [\"a\", \"b\"]\n"
                             "command = [\"sh\", \"-c\", \"echo x >> " +
                             d / "runs" + "; echo {} > " + d / "out_{}" + "\"]\noutputs = [\"" +
                             d / "out_{}" + "\"]\n");
  ASSERT_EQ(run_command(tandem_bin() + " run -q " + d / "plan.toml").exit_code, 0);
  fs::remove(d / "out_b");
  auto r = run_command(tandem_bin() + " run " + d / "plan.toml" + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 skipped"), std::string::npos) << r.output;  // the SVD half
  std::ifstream runs(d / "runs");
  int lines = 0;
  for (std::string l; std::getline(runs, l);) ++lines;
  EXPECT_EQ(lines, 3);  // a, b, then b again
  EXPECT_TRUE(fs::exists(d / "out_b"));
}

TEST(RunCliTest, PlanErrorsExitTwoNamingLineAndKey) {
  ScratchDir d;
  write(d / "plan.toml", "[jobs]\nargs = [\"a\"]\ncommand = [\"true\"]\nretrys = 2\n");
  auto r = run_command(tandem_bin() + " run " + d / "plan.toml");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("plan.toml:4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'retrys'"), std::string::npos) << r.output;
  write(d / "bad.toml", "[jobs]\nargs = [\"a\"]\ncommand = [\"echo\", \"{nosuch}\"]\n");
  EXPECT_EQ(run_command(tandem_bin() + " run " + d / "bad.toml").exit_code, 2);
  EXPECT_EQ(run_command(tandem_bin() + " run " + d / "missing.toml").exit_code, 2);
  EXPECT_EQ(run_command(tandem_bin() + " run " + d / "plan.toml --set jobs.nokey=1").exit_code, 2);
}

TEST(RunCliTest, SmoothTablePassesItsDeviceToEachJob) {
  const std::string py = testing::python_with_numpy();
  if (py.empty() || run_command(py + " -c 'import nibabel'").exit_code != 0)
    GTEST_SKIP() << "no Python with numpy and nibabel (set TANDEM_PYTHON)";
  ScratchDir d;
  auto m = run_command(py + " " + testing::test_source_dir() + "/smooth/make_image.py " +
                       d / "a.nii" + " --shape 6,5,4,2");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  auto plan = [&](const std::string& device) {
    write(d / "plan.toml", "[smooth]\nargs = [\"a\"]\ninput = \"" + d / "{}.nii" +
                               "\"\noutput = \"" + d / ("{}_" + device + ".nii") +
                               "\"\nfwhm = 6\nresults = \"" + d / ("logs_" + device) +
                               "\"\ndevice = \"" + device + "\"\n");
    return run_command(tandem_bin() + " run -q " + d / "plan.toml");
  };
  auto cpu = plan("cpu");
  EXPECT_EQ(cpu.exit_code, 0) << cpu.output;
  EXPECT_TRUE(fs::exists(d / "a_cpu.nii"));
  if (run_command(tandem_bin() + " info").output.find("gpus: none") == std::string::npos)
    GTEST_SKIP() << "a CUDA device is present: device = \"gpu\" would succeed";
  // Without a device every job would fail alike: refused up front, as [svd] device = "gpu" is.
  auto gpu = plan("gpu");
  EXPECT_EQ(gpu.exit_code, 2) << gpu.output;
  EXPECT_FALSE(fs::exists(d / "a_gpu.nii"));
  EXPECT_FALSE(fs::exists(d / "logs_gpu")) << "nothing ran";
  EXPECT_NE(gpu.output.find("plan.toml:7: [smooth] device: \"gpu\", but "), std::string::npos)
      << gpu.output;
}

// make_image.py's Python, or "" when it has no numpy and nibabel.
std::string python_with_nibabel() {
  const std::string py = testing::python_with_numpy();
  if (py.empty() || run_command(py + " -c 'import nibabel'").exit_code != 0) return "";
  return py;
}

TEST(RunCliTest, SmoothRedoesItsSubjectsUnlessResumingAndEachLineNamesItsHalf) {
  const std::string py = python_with_nibabel();
  if (py.empty()) GTEST_SKIP() << "no Python with numpy and nibabel (set TANDEM_PYTHON)";
  ScratchDir d;
  auto m = run_command(py + " " + testing::test_source_dir() + "/smooth/make_image.py " +
                       d / "a.nii" + " --shape 6,5,4,2");
  ASSERT_EQ(m.exit_code, 0) << m.output;
  write(d / "plan.toml", "[smooth]\nargs = [\"a\"]\ninput = \"" + d / "{}.nii" + "\"\noutput = \"" +
                             d / "{}_sm.nii" +
                             "\"\nfwhm = 6\n\n[jobs]\nargs = [\"a\", \"b\"]\n"
                             "command = [\"true\"]\n");
  auto first = run_command(tandem_bin() + " run " + d / "plan.toml");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("smooth [1/1] ok a"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("jobs [1/2] ok "), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("jobs [2/2] ok "), std::string::npos) << first.output;
  const auto written = fs::last_write_time(d / "a_sm.nii");

  // New settings, no --resume: the subject is smoothed again, not kept from before.
  auto again = run_command(tandem_bin() + " run " + d / "plan.toml" + " --set smooth.fwhm=12");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("smooth [1/1] ok a"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("smooth: 1 subject: 1 ok"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("skipping"), std::string::npos) << again.output;
  EXPECT_NE(fs::last_write_time(d / "a_sm.nii"), written);

  // --resume keeps it, and says so before the summary.
  auto resumed = run_command(tandem_bin() + " run " + d / "plan.toml" + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("smooth: skipping 1 subject already done (outputs exist, "
                                "--resume); running 0"),
            std::string::npos)
      << resumed.output;
  EXPECT_NE(resumed.output.find("smooth: 1 subject: 0 ok, 0 failed, 1 skipped"), std::string::npos)
      << resumed.output;
}

TEST(RunCliTest, PlanValuesAreCheckedBeforeAnythingRuns) {
  ScratchDir d;
  const std::string jobs = "[jobs]\nargs = [\"a\"]\ncommand = [\"touch\", \"" + d / "ran" +
                           "\"]\n\n[smooth]\nargs = [\"a\"]\ninput = \"" + d / "{}.nii" +
                           "\"\noutput = \"" + d / "{}_sm.nii" + "\"\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"fwhm = -3\n", "plan.toml:9: [smooth] fwhm: '-3' is not a non-negative number of mm"},
      {"fwhm = \"abc\"\n", "plan.toml:9: [smooth] fwhm: 'abc' is not a non-negative number"},
      {"fwhm = 6\ndevice = \"tpu\"\n", "plan.toml:10: [smooth] device: 'tpu' is not one of"},
      {"fwhm = 6\nthreads_per_job = 0\n", "plan.toml:10: [smooth] threads_per_job: must be"},
  };
  for (const auto& [tail, expected] : cases) {
    write(d / "plan.toml", jobs + tail);
    auto r = run_command(tandem_bin() + " run " + d / "plan.toml");
    EXPECT_EQ(r.exit_code, 2) << tail << r.output;
    EXPECT_NE(r.output.find("tandem: error: " + d / expected), std::string::npos)
        << tail << r.output;
    EXPECT_EQ(r.output.find("--fwhm"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(d / "ran")) << tail;
  }
  write(d / "plan.toml", jobs + "fwhm = 6\n");
  auto set = run_command(tandem_bin() + " run " + d / "plan.toml" + " --set smooth.fwhm=-3");
  EXPECT_EQ(set.exit_code, 2) << set.output;
  EXPECT_NE(set.output.find("tandem: error: --set smooth.fwhm: '-3' is not"), std::string::npos)
      << set.output;
  write(d / "svd.toml", "[svd]\nrandom = \"2x3x3\"\nthreads = -4\n");
  auto threads = run_command(tandem_bin() + " run " + d / "svd.toml");
  EXPECT_EQ(threads.exit_code, 2) << threads.output;
  EXPECT_NE(threads.output.find("svd.toml:3: [svd] threads: must be at least 1"), std::string::npos)
      << threads.output;
  write(d / "both.toml", "[svd]\ninputs = [\"" + d / "*.npy" +
                             "\"]\nrandom = \"3x4x5\"\noutput = \"" + d / "r" + "\"\n");
  auto both = run_command(tandem_bin() + " run " + d / "both.toml");
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_NE(both.output.find("both.toml:3: [svd] random: give either inputs or random"),
            std::string::npos)
      << both.output;
  EXPECT_FALSE(fs::exists(d / "r"));
}

TEST(RunCliTest, SetTakesThePlansTomlSyntax) {
  ScratchDir d;
  write(d / "plan.toml", "[jobs]\nargs = [\"a\"]\ncommand = [\"echo\", \"plan\", \"{}\"]\n");
  const std::string out = d / "out_{}";
  auto r = run_command(tandem_bin() + " run -q " + d / "plan.toml" +
                       " --set 'jobs.command=[\"sh\", \"-c\", \"echo set, {} > " + out +
                       "\"]' --set 'jobs.args=[\"b\", \"c\"]' --set 'jobs.timeout=\"30s\"'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(d / "out_b");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "set, b\n");
  EXPECT_TRUE(fs::exists(d / "out_c"));
  // The bare forms people already type still work.
  auto bare = run_command(tandem_bin() + " run -q " + d / "plan.toml" +
                          " --set jobs.args=d,e --set jobs.timeout=30m --set jobs.jobs=2");
  EXPECT_EQ(bare.exit_code, 0) << bare.output;
  auto help = run_command(tandem_bin() + " run --help");
  EXPECT_NE(help.output.find("TOML"), std::string::npos) << help.output;
}

TEST(RunCliTest, InterruptEndsJobsAndLeavesNoHalfWrittenOutput) {
  ScratchDir d;
  const std::string marker = "tandem-run-marker-" + std::to_string(getpid());
  write(d / "plan.toml", "[svd]\nrandom = \"400x200x200\"\noutput = \"" + d / "svd" +
                             "\"\ndevice = \"cpu\"\n\n[jobs]\nargs = [\"a\", \"b\", \"c\"]\n"
                             "command = [\"sh\", \"-c\", \"touch " +
                             d / "started_{}" + "; sleep 30 # " + marker + "\"]\n");
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string cmd = "exec " + tandem_bin() + " run -q " + d / "plan.toml" + " >/dev/null 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  bool started = false;
  for (int i = 0; i < 1000 && !started; ++i) {
    started = fs::exists(d / "started_a");
    if (!started) ::usleep(10000);
  }
  ASSERT_TRUE(started);
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_FALSE(process_with_marker_exists(marker));
  // The random batch is one output: interrupted, it is discarded, never left half-written.
  if (fs::exists(d / "svd")) {
    for (const auto& e : fs::directory_iterator(d / "svd"))
      ADD_FAILURE() << "left behind: " << e.path();
  }
}

}  // namespace
}  // namespace tandem
