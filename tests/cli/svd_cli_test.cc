// SPDX-License-Identifier: Apache-2.0
// End-to-end: the tandem binary on real .npy/.npz files, outputs checked with numpy.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_test_util.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;
using testing::python_with_numpy;
using testing::run_command;
using testing::ScratchDir;
using testing::tandem_bin;
using testing::test_source_dir;

class SvdCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    py_ = python_with_numpy();
    if (py_.empty()) GTEST_SKIP() << "no Python with numpy (set TANDEM_PYTHON)";
    auto made = run_command(py_ + " " + script("svd_make_inputs.py") + " " + dir_.str());
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }
  std::string script(const std::string& name) const { return test_source_dir() + "/cli/" + name; }
  testing::RunResult tandem(const std::string& args) const {
    return run_command(tandem_bin() + " svd --quiet " + args);
  }
  testing::RunResult verify(const std::string& out, const std::string& mode) const {
    return run_command(py_ + " " + script("svd_verify_outputs.py") + " " + dir_ / "good" + " " +
                       out + " " + mode);
  }
  std::string py_;
  ScratchDir dir_;
};

TEST_F(SvdCliTest, FullMatricesMatchNumpy) {
  auto r = tandem(dir_ / "good" + " -o " + dir_ / "out -j 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto v = verify(dir_ / "out", "full");
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("checked 7"), std::string::npos) << v.output;
}

TEST_F(SvdCliTest, EconomyMatchesNumpy) {
  auto r = tandem(dir_ / "good" + " -o " + dir_ / "out --economy");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto v = verify(dir_ / "out", "economy");
  EXPECT_EQ(v.exit_code, 0) << v.output;
}

TEST_F(SvdCliTest, ValuesOnlyMatchesNumpy) {
  auto r = tandem(dir_ / "good" + " -o " + dir_ / "out --values-only");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto v = verify(dir_ / "out", "values");
  EXPECT_EQ(v.exit_code, 0) << v.output;
}

TEST_F(SvdCliTest, BadInputsAreNamedAndTheRestFinish) {
  auto r = tandem(dir_ / "bad" + " -o " + dir_ / "out --report " + dir_ / "r.json");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  for (const char* expect :
       {"magic.npy", "truncated.npy", "vector.npy", "complex.npy", "empty.npy",
        "nanstack.npy: matrix 1", "NaN or Inf", "mixed.npz:cplx", "unsupported dtype"}) {
    EXPECT_NE(r.output.find(expect), std::string::npos) << expect << "\n" << r.output;
  }
  EXPECT_TRUE(fs::exists(dir_ / "out/fine.npz"));
  EXPECT_FALSE(fs::exists(dir_ / "out/nanstack.npz"));
  EXPECT_TRUE(fs::exists(dir_ / "out/nanstack.incomplete.npz"));
  EXPECT_TRUE(fs::exists(dir_ / "out/mixed/good.npz"));
  EXPECT_FALSE(fs::exists(dir_ / "out/mixed/cplx.npz"));
  for (const auto& e : fs::directory_iterator(dir_ / "out")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
  std::ifstream in(dir_ / "r.json");
  nlohmann::json report = nlohmann::json::parse(in);
  int failed = 0;
  for (const auto& item : report["items"]) failed += item.value("status", "") == "failed";
  EXPECT_EQ(failed, 7);
  EXPECT_EQ(report["summary"]["failed"], 7);
}

TEST_F(SvdCliTest, ResumeSkipsFinishedOutputs) {
  ASSERT_EQ(tandem(dir_ / "good" + " -o " + dir_ / "out").exit_code, 0);
  fs::remove(dir_ / "out/square.npz");
  auto r = run_command(tandem_bin() + " svd " + dir_ / "good" + " -o " + dir_ / "out --resume");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 done"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir_ / "out/square.npz"));
}

TEST_F(SvdCliTest, CheckPutsLapackRatiosInTheReport) {
  auto r = tandem(dir_ / "good/square.npy -o " + dir_ / "out --check --report " + dir_ / "r.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(dir_ / "r.json");
  nlohmann::json report = nlohmann::json::parse(in);
  ASSERT_EQ(report["items"].size(), 2u);  // the matrix, then where its output is
  EXPECT_LT(report["items"][0]["check"]["residual_ratio"].get<double>(), 35.0);
  EXPECT_LT(report["items"][0]["check"]["residual"].get<double>(), 1e-13);
  EXPECT_EQ(report["items"][1]["output"], dir_ / "out/square.npz");
  EXPECT_EQ(report["items"][1]["complete"], true);
}

TEST_F(SvdCliTest, OneReasonForManyMatricesOfAStackIsSaidOnce) {
  auto made = run_command(py_ + " -c \"import numpy as np\n" + "s = np.random.rand(6, 4, 3)\n" +
                          "s[1:5, 0, 0] = np.nan\n" + "np.save('" + dir_ / "nan.npy" + "', s)\"");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto r = tandem(dir_ / "nan.npy -o " + dir_ / "o -j 1 --report " + dir_ / "r.json");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("nan.npy: matrix 1: "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("nan.npy: matrix 2: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("nan.npy: 3 more matrices failed the same way"), std::string::npos)
      << r.output;
  std::ifstream in(dir_ / "r.json");
  nlohmann::json report = nlohmann::json::parse(in);
  int failed = 0;
  for (const auto& item : report["items"]) failed += item.value("status", "") == "failed";
  EXPECT_EQ(failed, 4);  // the report keeps every one
}

TEST_F(SvdCliTest, ReportSaysWhereEachOutputIsAndWhatWasNotWritten) {
  // A stack with a NaN matrix is written as .incomplete.npz; an empty stack gets numpy's empty
  // outputs; a name that is not UTF-8 is written surrogate-escaped, as Python reads it back.
  auto made = run_command(py_ + " -c \"import numpy as np, os\n" + "s = np.random.rand(3, 4, 3)\n" +
                          "s[1, 2, 1] = np.nan\n" + "np.save('" + dir_ / "stack.npy" + "', s)\n" +
                          "np.save('" + dir_ / "empty.npy" + "', np.zeros((0, 3, 3)))\n" +
                          "np.save(open(os.fsencode('" + dir_ / "" +
                          "') + b'caf\\xe9.npy', 'wb'), np.eye(2))\"");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const std::string latin1 = dir_ / "caf\xe9.npy";
  auto r = tandem(dir_ / "stack.npy " + dir_ / "empty.npy '" + latin1 + "' -o " + dir_ / "o" +
                  " --report " + dir_ / "r.json");
  EXPECT_EQ(r.exit_code, 1) << r.output;  // the NaN matrix failed
  auto check = run_command(
      py_ + " -c \"import json, os\n" + "d = json.load(open('" + dir_ / "r.json" + "'))\n" +
      "out = {os.path.basename(i['input']): i for i in d['items'] if 'output' in i}\n" +
      "assert out['stack.npy']['complete'] is False, out\n" +
      "assert out['stack.npy']['output'].endswith('stack.incomplete.npz'), out\n" +
      "assert out['empty.npy']['complete'] is True, out\n" +
      "assert os.path.exists(out['caf\\udce9.npy']['output']), out\n" + "print('ok')\"");
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST_F(SvdCliTest, InterruptKeepsFinishedOutputsAndResumeCompletes) {
  fs::create_directories(dir_ / "many");
  auto made = run_command(py_ + " -c \"import numpy as np\n" + "for i in range(60): np.save('" +
                          dir_ / "many" + "/m%02d.npy' % i, np.random.rand(400, 400))\"");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  std::string cmd = tandem_bin() + " svd -q -j 1 " + dir_ / "many" + " -o " + dir_ / "out";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >/dev/null 2>&1").c_str(), nullptr);
    ::_exit(127);
  }
  // Interrupt as soon as the first output is in place.
  bool seen = false;
  for (int i = 0; i < 3000 && !seen; ++i) {
    seen = fs::exists(dir_ / "out/m00.npz");
    if (!seen) ::usleep(10000);
  }
  ASSERT_TRUE(seen);
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 130) << "the run finished before the signal arrived";
  int complete = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "out")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
    complete += e.path().extension() == ".npz";
  }
  EXPECT_GE(complete, 1);
  EXPECT_LT(complete, 60);
  auto r = run_command(cmd + " --resume");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(std::to_string(complete) + " skipped"), std::string::npos) << r.output;
  for (int i = 0; i < 60; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "out/m%02d.npz", i);
    EXPECT_TRUE(fs::exists(dir_ / name)) << name;
  }
}

TEST(SvdCliUsageTest, UsageErrorsExitTwo) {
  EXPECT_EQ(run_command(tandem_bin() + " svd some.npy").exit_code, 2);  // no -o
  EXPECT_EQ(run_command(tandem_bin() + " svd --random 2x3x3 --device tpu").exit_code, 2);
  EXPECT_EQ(run_command(tandem_bin() + " svd --random 2x3").exit_code, 2);
  EXPECT_EQ(run_command(tandem_bin() + " svd").exit_code, 2);
  auto both = run_command(tandem_bin() + " svd some.npy --random 2x3x3 -o out");
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.output.find("not both"), std::string::npos) << both.output;
  auto gpus = run_command(tandem_bin() + " svd --random 2x3x3 --gpus 0,x");
  EXPECT_EQ(gpus.exit_code, 2);
  EXPECT_NE(gpus.output.find("--gpus"), std::string::npos) << gpus.output;
  // The same card twice, or a number past any int: refused before any device is looked for.
  for (const char* list : {"0,0", "1,2,1", "99999999999"}) {
    auto r = run_command(tandem_bin() + " svd --random 2x3x3 --gpus " + list);
    EXPECT_EQ(r.exit_code, 2) << list << ": " << r.output;
    EXPECT_NE(r.output.find("--gpus"), std::string::npos) << r.output;
  }
  // Options that need U and Vh are refused with --values-only rather than silently ignored.
  for (const char* option : {"--check", "--canonical-signs"}) {
    auto r = run_command(tandem_bin() + " svd --random 2x3x3 --values-only " + option);
    EXPECT_EQ(r.exit_code, 2) << option;
    EXPECT_NE(r.output.find(option), std::string::npos) << r.output;
  }
}

TEST(SvdCliUsageTest, ParseErrorsAreOneLineWithTheFixInIt) {
  for (const char* value : {"0", "abc", "-3"}) {
    auto r = run_command(tandem_bin() + " svd --random 2x3x3 -j " + value);
    EXPECT_EQ(r.exit_code, 2) << value;
    EXPECT_NE(
        r.output.find("tandem: error: --threads: must be a whole number of at least 1 (got '" +
                      std::string(value) + "')"),
        std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("1797693"), std::string::npos) << r.output;  // no 300-digit range
  }
  auto typo = run_command(tandem_bin() + " svd x.npy -o y --econmy");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.output.find("tandem: error: "), std::string::npos) << typo.output;
  EXPECT_NE(typo.output.find("did you mean --economy?"), std::string::npos) << typo.output;
  EXPECT_NE(typo.output.find("tandem svd --help"), std::string::npos) << typo.output;
  EXPECT_EQ(run_command(tandem_bin() + " svd --help").exit_code, 0);
  auto unknown = run_command(tandem_bin() + " frob");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("unknown command 'frob'; the commands are svd, map"),
            std::string::npos)
      << unknown.output;
}

TEST(SvdCliUsageTest, GpuWithoutDeviceSaysWhy) {
  auto info = run_command(tandem_bin() + " info");
  if (info.output.find("gpus: none") == std::string::npos) GTEST_SKIP() << "a GPU is present";
  auto r = run_command(tandem_bin() + " svd --random 2x3x3 --device gpu");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--device gpu:"), std::string::npos) << r.output;
}

TEST(SvdCliUsageTest, RandomDemoRunsWithoutOutputDirectory) {
  auto r = run_command(tandem_bin() + " svd --random 3x20x20:float32:seed=1 --check");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 done, 0 failed"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tandem
