// SPDX-License-Identifier: Apache-2.0
// End-to-end: `tandem map --shard` and `tandem svd --shard`, the tasks of a job array, each doing
// a disjoint part of the work and all of them together all of it, each output written once.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_test_util.h"

namespace tandem {
namespace {

namespace fs = std::filesystem;
using testing::python_with_numpy;
using testing::run_command;
using testing::RunResult;
using testing::ScratchDir;
using testing::tandem_bin;

const char* const kSevenSubjects = " --args s1 s2 s3 s4 s5 s6 s7 -- ";

// Clears the array variables that a test run inside a SLURM job would otherwise inherit.
const char* const kNoSlurm =
    "env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_MIN -u SLURM_ARRAY_TASK_MAX "
    "-u SLURM_ARRAY_TASK_COUNT ";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t line_count(const std::string& path) {
  std::string text = read_text(path);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

RunResult map(const std::string& args) { return run_command(tandem_bin() + " map " + args); }

TEST(ShardCliTest, MapDryRunListsOnlyTheShardsSubjects) {
  RunResult r = map("--shard 2/3 --dry-run" + std::string(kSevenSubjects) + "echo {}");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "echo s2\necho s5\n");
}

TEST(ShardCliTest, MapSlurmShardFromArrayStartingAtZeroOrOne) {
  for (const char* env : {"SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=3",
                          "SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=3"}) {
    RunResult r = run_command(std::string(kNoSlurm) + env + " " + tandem_bin() +
                              " map --shard slurm --dry-run" + kSevenSubjects + "echo {}");
    EXPECT_EQ(r.exit_code, 0) << env << "\n" << r.output;
    EXPECT_EQ(r.output, "echo s2\necho s5\n") << env;
  }
}

TEST(ShardCliTest, MapShardsTogetherWriteEveryOutputExactlyOnce) {
  ScratchDir dir;
  fs::create_directories(dir / "out");
  const std::vector<int> expected_counts = {3, 2, 2};
  for (int k = 1; k <= 3; ++k) {
    RunResult r = map("--shard " + std::to_string(k) + "/3 --joblog '" + dir / "jobs-{shard}.log" +
                      "'" + kSevenSubjects + "sh -c 'echo {} >> " + dir / "out/{}.txt'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::string summary =
        "map: shard " + std::to_string(k) + "/3: " + std::to_string(expected_counts[k - 1]) +
        " of 7 subjects: " + std::to_string(expected_counts[k - 1]) + " ok, 0 failed";
    EXPECT_NE(r.output.find(summary), std::string::npos) << summary << "\n" << r.output;
    // One joblog per shard: its header and one line per job of that shard.
    std::string log = dir / ("jobs-" + std::to_string(k) + "-of-3.log");
    EXPECT_EQ(line_count(log), 1u + expected_counts[k - 1]) << read_text(log);
  }
  for (int i = 1; i <= 7; ++i) {
    std::string s = "s" + std::to_string(i);
    EXPECT_EQ(read_text(dir / ("out/" + s + ".txt")), s + "\n") << s;
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "out"), fs::directory_iterator()), 7);
}

TEST(ShardCliTest, MapResumeOfAShardRerunsOnlyItsFailedSubject) {
  ScratchDir dir;
  // s5 fails until `fixed` exists; every run of a subject is appended to `runs`.
  std::string args = "--shard 2/3 --joblog '" + dir / "jobs-{shard}.log" + "' --report '" +
                     dir / "r-{shard}.json" + "'" + kSevenSubjects + "sh -c 'echo {} >> " +
                     dir / "runs" + "; [ {} != s5 ] || [ -e " + dir / "fixed" + " ]'";
  RunResult first = map(args);
  EXPECT_EQ(first.exit_code, 1) << first.output;
  EXPECT_NE(first.output.find("map: shard 2/3: 2 of 7 subjects: 1 ok, 1 failed"), std::string::npos)
      << first.output;
  auto report = nlohmann::json::parse(read_text(dir / "r-2-of-3.json"));
  EXPECT_EQ(report["subjects"].size(), 2u);
  EXPECT_EQ(report["summary"]["shard"]["all_subjects"], 7);
  std::ofstream(dir / "fixed") << "";
  RunResult second = map("--resume " + args);
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("map: shard 2/3: 2 of 7 subjects: 1 ok, 0 failed, 1 skipped"),
            std::string::npos)
      << second.output;
  // s2 and s5 of the first run may append in either order: compare the lines as a multiset.
  std::vector<std::string> runs;
  std::istringstream lines(read_text(dir / "runs"));
  for (std::string l; std::getline(lines, l);) runs.push_back(l);
  std::sort(runs.begin(), runs.end());
  EXPECT_EQ(runs, (std::vector<std::string>{"s2", "s5", "s5"}));
}

TEST(ShardCliTest, BadShardValuesAreUsageErrorsNamingTheReason) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"0/3", "K must be from 1 to N (3)"},
      {"4/3", "K must be from 1 to N (3)"},
      {"a/b", "K and N in K/N must be whole numbers"},
      {"3", "'3' is not K/N"},
      {"1/0", "N must be at least 1"},
      {"''", "'' is not K/N"},
      {"slurm", "slurm: SLURM_ARRAY_TASK_ID is not set"},
  };
  const std::vector<std::string> commands = {
      "map --args a --shard %s -- touch " + dir / "ran",
      "svd " + dir / "in.npy" + " -o " + dir / "out --shard %s",
  };
  for (const auto& command : commands) {
    for (const auto& [value, reason] : cases) {
      std::string line = command;
      line.replace(line.find("%s"), 2, value);
      RunResult r = run_command(std::string(kNoSlurm) + tandem_bin() + " " + line);
      EXPECT_EQ(r.exit_code, 2) << line << "\n" << r.output;
      EXPECT_NE(r.output.find("tandem: error: --shard: "), std::string::npos) << line << r.output;
      EXPECT_NE(r.output.find(reason), std::string::npos) << line << "\n" << r.output;
    }
  }
  EXPECT_FALSE(fs::exists(dir / "ran"));
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(ShardCliTest, SvdRandomWithShardIsAUsageError) {
  RunResult r = run_command(tandem_bin() + " svd --random 4x3x3 --shard 1/2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--shard: --random matrices are one stream"), std::string::npos)
      << r.output;
}

// Five .npy inputs in two shards: shard 1 writes m0, m2, m4, shard 2 m1, m3; neither touches the
// other's outputs or their temporaries, and every output loads in numpy with numpy's S.
TEST(ShardCliTest, SvdShardsWriteEachOutputOnce) {
  std::string py = python_with_numpy();
  if (py.empty()) GTEST_SKIP() << "no Python with numpy (set TANDEM_PYTHON)";
  ScratchDir dir;
  RunResult made = run_command(py + " -c \"import numpy as np, os\nos.makedirs('" + dir / "in" +
                               "')\nfor i in range(5): np.save('" + dir / "in" +
                               "/m%d.npy' % i, np.random.rand(6 + i, 4))\"");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  fs::create_directories(dir / "out");
  // A temporary of shard 2's output, as another machine would be writing it right now.
  const std::string other_tmp = dir / "out/.m1.npz.tmp-999999999-0";
  std::ofstream(other_tmp) << "in progress elsewhere";

  std::string svd = tandem_bin() + " svd " + dir / "in" + " -o " + dir / "out";
  RunResult first = run_command(svd + " --shard 1/2 --report '" + dir / "r-{shard}.json'");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("svd: shard 1/2: 3 of 5 input files: 3 matrices: 3 done"),
            std::string::npos)
      << first.output;
  EXPECT_NE(first.output.find("(3 files written)"), std::string::npos) << first.output;
  for (const char* name : {"m0", "m2", "m4"}) {
    EXPECT_TRUE(fs::exists(dir / ("out/" + std::string(name) + ".npz"))) << name;
  }
  for (const char* name : {"m1", "m3"}) {
    EXPECT_FALSE(fs::exists(dir / ("out/" + std::string(name) + ".npz"))) << name;
  }
  EXPECT_TRUE(fs::exists(other_tmp));
  auto report = nlohmann::json::parse(read_text(dir / "r-1-of-2.json"));
  EXPECT_EQ(report["items"].size(), 6u);  // per shard input: its matrix and its output
  EXPECT_EQ(report["shard"]["index"], 1);
  auto written = fs::last_write_time(dir / "out/m0.npz");

  RunResult second = run_command(svd + " --shard 2/2");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("svd: shard 2/2: 2 of 5 input files: 2 matrices: 2 done"),
            std::string::npos)
      << second.output;
  EXPECT_NE(second.output.find("(2 files written)"), std::string::npos) << second.output;
  EXPECT_EQ(fs::last_write_time(dir / "out/m0.npz"), written);
  EXPECT_FALSE(fs::exists(other_tmp));  // shard 2's own stale temporary is cleaned

  RunResult check = run_command(
      py + " -c \"import numpy as np\nfor i in range(5):\n    a = np.load('" + dir / "in" +
      "/m%d.npy' % i)\n    o = np.load('" + dir / "out" +
      "/m%d.npz' % i)\n    assert np.allclose(o['S'], np.linalg.svd(a, compute_uv=False)), i\n"
      "    assert np.allclose((o['U'][:, :4] * o['S']) @ o['Vh'], a), i\nprint('checked', i + "
      "1)\"");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("checked 5"), std::string::npos) << check.output;
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "out"), fs::directory_iterator()), 5);
}

}  // namespace
}  // namespace tandem
