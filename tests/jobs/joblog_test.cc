// SPDX-License-Identifier: Apache-2.0
#include "jobs/joblog.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "process_test_util.h"

namespace tandem::jobs {
namespace {

using testing::TempDir;

TEST(JobLogTest, WritesGnuParallelFormat) {
  TempDir dir;
  {
    JobLog log(dir / "log");
    log.append({1, 1795773786.309, 0.0004, 0, 9, "sh -c \"kill -9 \\$\\$\" 1"});
    log.append({2, 1795773786.457, 1.592, -1, 15, "sleep 5 1"});
  }
  {
    JobLog again(dir / "log");  // reopening appends, no second header
    again.append({3, 1795773786.5, 12.25, 127, 0, "nosuchcmd 1"});
  }
  EXPECT_EQ(testing::read_text(dir / "log"),
            "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"
            "1\t:\t1795773786.309\t     0.000\t0\t0\t0\t9\tsh -c \"kill -9 \\$\\$\" 1\n"
            "2\t:\t1795773786.457\t     1.592\t0\t0\t-1\t15\tsleep 5 1\n"
            "3\t:\t1795773786.500\t    12.250\t0\t0\t127\t0\tnosuchcmd 1\n");
}

TEST(JobLogTest, NewlinesInCommandsRoundTrip) {
  TempDir dir;
  {
    JobLog log(dir / "log");
    log.append({1, 1.0, 1.0, 0, 0, "echo a\necho b"});
  }
  auto history = read_joblog(dir / "log");
  EXPECT_EQ(history.succeeded.count("echo a\necho b"), 1u);
}

TEST(JobLogTest, HistorySeparatesSucceededAndFailed) {
  TempDir dir;
  testing::write_text(dir / "log",
                      "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"
                      "1\t:\t1.000\t     0.100\t0\t0\t0\t0\tok one\n"
                      "2\t:\t1.000\t     0.100\t0\t0\t1\t0\tbad two\n"
                      "3\t:\t1.000\t     0.100\t0\t0\t0\t15\tkilled three\n"
                      "4\t:\t1.000\t     0.100\t0\t0\t1\t0\tretried four\n"
                      "4\t:\t1.000\t     0.100\t0\t0\t0\t0\tretried four\n"
                      "5\t:\t1.0");  // a torn last line is ignored
  auto h = read_joblog(dir / "log");
  EXPECT_EQ(h.succeeded, (std::set<std::string>{"ok one", "retried four"}));
  EXPECT_EQ(h.failed, (std::set<std::string>{"bad two", "killed three"}));
}

TEST(JobLogTest, MissingFileIsEmptyHistoryAndOtherFilesAreRejected) {
  TempDir dir;
  EXPECT_TRUE(read_joblog(dir / "none").succeeded.empty());
  testing::write_text(dir / "other", "not a joblog\n");
  EXPECT_THROW(read_joblog(dir / "other"), InputError);
  EXPECT_THROW(JobLog(dir / "no/such/dir/log"), Error);
}

}  // namespace
}  // namespace tandem::jobs
