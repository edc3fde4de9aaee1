// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/cores.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/report.h"

namespace tandem {
namespace {

TEST(CoresTest, NeverMoreThanTheAffinityMaskAllows) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_GE(available_cores(), 1);
  EXPECT_LE(available_cores(), CPU_COUNT(&set));
}

TEST(CoresTest, FollowsANarrowedAffinityMask) {
  cpu_set_t saved, one;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &saved)) {
      CPU_SET(c, &one);
      break;
    }
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  EXPECT_EQ(available_cores(), 1);
  sched_setaffinity(0, sizeof(saved), &saved);
}

// Sets (or with nullptr unsets) an environment variable for one scope.
class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~EnvVar() { old_.empty() ? ::unsetenv(name_) : ::setenv(name_, old_.c_str(), 1); }

 private:
  const char* name_;
  std::string old_;
};

TEST(CoresTest, InsideASlurmJobKeepsToItsCpusPerTask) {
  EnvVar job("SLURM_JOB_ID", "4242");
  EnvVar cpus("SLURM_CPUS_PER_TASK", "1");
  EXPECT_EQ(slurm_cpus_per_task(), 1);
  EXPECT_EQ(available_cores(), 1);
}

TEST(CoresTest, IgnoresSlurmCpusOutsideAJobAndMalformedValues) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  {
    EnvVar job("SLURM_JOB_ID", nullptr);
    EnvVar cpus("SLURM_CPUS_PER_TASK", "1");
    EXPECT_EQ(slurm_cpus_per_task(), 0);
  }
  for (const char* bad : {"", "0", "-3", "2x", "lots"}) {
    EnvVar job("SLURM_JOB_ID", "4242");
    EnvVar cpus("SLURM_CPUS_PER_TASK", bad);
    EXPECT_EQ(slurm_cpus_per_task(), 0) << "'" << bad << "'";
    EXPECT_LE(available_cores(), CPU_COUNT(&set));
    EXPECT_GE(available_cores(), 1);
  }
}

TEST(ProgressTest, FormatsDurationsLikeAClock) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(42.4), "0:42");
  EXPECT_EQ(format_duration(3723), "1:02:03");
}

// Everything a ProgressLine wrote to a temporary file.
template <typename Fn>
std::string captured(int terminal, Fn fn) {
  std::FILE* f = std::tmpfile();
  {
    ProgressLine line(f, true, terminal);
    fn(line);
  }
  std::rewind(f);
  std::string out;
  for (int c; (c = std::fgetc(f)) != EOF;) out.push_back(static_cast<char>(c));
  std::fclose(f);
  return out;
}

TEST(ProgressTest, TwoStatusSlotsAreRedrawnUnderAnEvent) {
  std::string out = captured(1, [](ProgressLine& line) {
    line.status("svd [1/4]", 0);
    line.status("jobs [0/8]", 1);
    line.event("wrote a.npz");
  });
  // The event clears both status lines (up one, clear below), then both are drawn again.
  const std::string redraw = "\r\x1b[1A\x1b[Jwrote a.npz\nsvd [1/4]\x1b[K\njobs [0/8]\x1b[K";
  EXPECT_NE(out.find(redraw), std::string::npos) << out;
  // finish() leaves no status behind.
  EXPECT_EQ(out.substr(out.size() - 8), "\r\x1b[1A\x1b[J");
}

TEST(ProgressTest, WithoutATerminalOnlyEventsArePrinted) {
  std::string out = captured(0, [](ProgressLine& line) {
    line.status("svd [1/4]");
    line.event("wrote a.npz");
  });
  EXPECT_EQ(out, "wrote a.npz\n");
}

TEST(CountedTest, OneTakesTheSingular) {
  EXPECT_EQ(counted(1, "matrix", "matrices"), "1 matrix");
  EXPECT_EQ(counted(0, "matrix", "matrices"), "0 matrices");
  EXPECT_EQ(counted(20, "subject", "subjects"), "20 subjects");
}

TEST(ReportWriterTest, StreamsItemsIntoOneValidDocument) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tandem-report-XXXXXX").string();
  std::string dir = ::mkdtemp(tmpl.data());
  std::string path = dir + "/r.json";
  {
    ReportWriter w(path, {{"command", "svd"}});
    EXPECT_FALSE(std::filesystem::exists(path));
    for (int i = 0; i < 3; ++i) w.add_item({{"index", i}});
    w.finish({{"done", 3}});
  }
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["command"], "svd");
  ASSERT_EQ(j["items"].size(), 3u);
  EXPECT_EQ(j["items"][2]["index"], 2);
  EXPECT_EQ(j["summary"]["done"], 3);
  std::filesystem::remove_all(dir);
}

TEST(ReportWriterTest, EmptyRunStillGivesValidJson) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tandem-report-XXXXXX").string();
  std::string dir = ::mkdtemp(tmpl.data());
  {
    ReportWriter w(dir + "/r.json", {{"command", "map"}});
    w.finish({{"done", 0}});
  }
  std::ifstream in(dir + "/r.json");
  nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_TRUE(j["items"].empty());
  std::filesystem::remove_all(dir);
}

TEST(ReportWriterTest, UnwritablePathIsAUsageErrorBeforeAnyWork) {
  try {
    ReportWriter w("/nonexistent-dir/r.json", {{"command", "svd"}});
    FAIL() << "the report's folder does not exist";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create the report: /nonexistent-dir/r.json"),
              std::string::npos)
        << e.what();
  }
}

TEST(DumpJsonTest, BytesThatAreNotUtf8BecomeSurrogateEscapes) {
  // "café" in Latin-1, as an old scanner export names its files; valid UTF-8 stays as it is.
  const nlohmann::json j = {{"input", std::string("caf\xe9.npy")}, {"other", "naïve"}};
  const std::string text = dump_json(j);
  EXPECT_NE(text.find("\"caf\\udce9.npy\""), std::string::npos) << text;
  EXPECT_NE(text.find("naïve"), std::string::npos) << text;
  // Python's json.load reads "\udce9" back, and open() takes the name as it is (its file names
  // are surrogate-escaped); the CLI test reads one back that way.
  // Truncated and overlong sequences are escaped byte by byte too.
  EXPECT_EQ(dump_json(std::string("a\xc3")), "\"a\\udcc3\"");
  EXPECT_EQ(dump_json(std::string("\xc0\xaf"
                                  "b")),
            "\"\\udcc0\\udcafb\"");
}

}  // namespace
}  // namespace tandem
