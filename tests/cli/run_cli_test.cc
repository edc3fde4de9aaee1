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
  EXPECT_EQ(j["items"].size(), 3u);
  EXPECT_EQ(j["summary"]["svd"]["done"], 3);
  EXPECT_EQ(j["summary"]["jobs"]["jobs"]["subjects"].size(), 2u);
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
  // Without a device each job is `tandem smooth --device gpu`'s usage error.
  auto gpu = plan("gpu");
  EXPECT_EQ(gpu.exit_code, 1) << gpu.output;
  EXPECT_FALSE(fs::exists(d / "a_gpu.nii"));
  std::ifstream err(d / "logs_gpu/a/stderr");
  std::string text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("tandem: error: --device gpu: "), std::string::npos) << text;
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
