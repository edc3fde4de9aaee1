// SPDX-License-Identifier: Apache-2.0
// MapReportFile: a --report path is claimed before the run and written whole after it.
#include "jobs/report.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "process_test_util.h"

namespace tandem::jobs {
namespace {

using testing::TempDir;

MapResult one_ok_subject() {
  MapResult result;
  JobResult r;
  r.name = "a";
  r.seq = 1;
  r.outcome = Outcome::kOk;
  result.results.push_back(r);
  return result;
}

// The message of the UsageError claiming `path` throws.
std::string claim_error(const std::string& path) {
  try {
    MapReportFile report(path);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no usage error";
}

std::size_t entries(const std::string& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(MapReportFileTest, PathThatCannotBeWrittenIsUsageErrorNamingTheReport) {
  TempDir dir;
  EXPECT_EQ(claim_error(dir / "no/such/r.json"),
            "cannot write the report: " + dir / "no/such/r.json" + ": No such file or directory");
  EXPECT_EQ(claim_error(dir.str()), "cannot write the report: " + dir.str() + ": is a directory");
}

TEST(MapReportFileTest, WritesTheWholeReportAndLeavesNoTemporary) {
  TempDir dir;
  {
    MapReportFile report(dir / "r.json");
    EXPECT_FALSE(std::filesystem::exists(dir / "r.json"));
    report.write(one_ok_subject(), 0);
  }
  auto json = nlohmann::json::parse(testing::read_text(dir / "r.json"));
  EXPECT_EQ(json["subjects"][0]["subject"], "a");
  EXPECT_EQ(entries(dir.str()), 1u);
  { MapReportFile unwritten(dir / "other.json"); }
  EXPECT_EQ(entries(dir.str()), 1u);
}

TEST(MapReportFileTest, FailureAtTheEndNamesTheReport) {
  TempDir dir;
  std::filesystem::create_directory(dir / "out");
  MapReportFile report(dir / "out/r.json");
  std::filesystem::remove_all(dir / "out");
  try {
    report.write(one_ok_subject(), 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot write the report: " + dir / "out/r.json" + ": No such file or directory");
  }
}

TEST(MapReportTest, SummaryCountsNotStartedApartFromFailedAsTheConsoleDoes) {
  MapResult result;
  result.interrupted = true;
  for (Outcome o : {Outcome::kOk, Outcome::kSkipped, Outcome::kInterrupted, Outcome::kExit,
                    Outcome::kNotStarted, Outcome::kNotStarted}) {
    JobResult r;
    r.outcome = o;
    result.results.push_back(r);
  }
  const auto summary = map_report(result, 130)["summary"];
  EXPECT_EQ(summary["subjects"], 6);
  EXPECT_EQ(summary["ok"], 1);
  EXPECT_EQ(summary["failed"], 2);
  EXPECT_EQ(summary["skipped"], 1);
  EXPECT_EQ(summary["not_started"], 2);
  EXPECT_EQ(summary["outcomes"]["not_started"], 2);
  const MapCounts c = count_subjects(result);
  EXPECT_EQ(c.failed + c.not_started + c.ok + c.skipped, 6u);
}

}  // namespace
}  // namespace tandem::jobs
