// SPDX-License-Identifier: Apache-2.0
#include "jobs/units.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "jobs/resources.h"

namespace tandem::jobs {
namespace {

TEST(UnitsTest, ParsesDurations) {
  EXPECT_DOUBLE_EQ(parse_duration("90", "t"), 90);
  EXPECT_DOUBLE_EQ(parse_duration("90s", "t"), 90);
  EXPECT_DOUBLE_EQ(parse_duration("30m", "t"), 1800);
  EXPECT_DOUBLE_EQ(parse_duration("2h", "t"), 7200);
  EXPECT_DOUBLE_EQ(parse_duration("0.5", "t"), 0.5);
  for (const char* bad : {"", "abc", "5x", "-3", "m", "1.5.2h"}) {
    EXPECT_THROW(parse_duration(bad, "--timeout"), UsageError) << bad;
  }
}

TEST(UnitsTest, ParsesSizes) {
  EXPECT_EQ(parse_bytes("4G", "m"), 4ull << 30);
  EXPECT_EQ(parse_bytes("512M", "m"), 512ull << 20);
  EXPECT_EQ(parse_bytes("1kib", "m"), 1024u);
  EXPECT_EQ(parse_bytes("100", "m"), 100u);
  EXPECT_THROW(parse_bytes("4X", "m"), UsageError);
  EXPECT_THROW(parse_bytes("G", "m"), UsageError);
}

TEST(MemoryGateTest, CountsYoungJobsAgainstAvailableMemory) {
  std::uint64_t available = 10;
  MemoryGate gate(4, [&] { return available; });
  auto t0 = MemoryGate::Clock::now();
  EXPECT_TRUE(gate.may_start(0, t0));
  gate.started(t0);
  EXPECT_TRUE(gate.may_start(1, t0));  // 10 / 4 = 2 >= 1 young + 1
  gate.started(t0);
  EXPECT_FALSE(gate.may_start(2, t0));  // two young jobs may still grow to 8 of 10
  EXPECT_TRUE(gate.may_start(2, t0 + std::chrono::seconds(10)));  // they have settled
  available = 3;
  EXPECT_FALSE(gate.may_start(2, t0 + std::chrono::seconds(10)));
  EXPECT_TRUE(gate.may_start(0, t0 + std::chrono::seconds(10)));  // never stall an idle run
}

TEST(MemoryGateTest, ReadsThisMachinesMemory) {
  EXPECT_GT(memory_available(), 0u);
  EXPECT_GE(memory_total(), memory_available());
  oom_kill_count();  // readable without throwing, whatever the kernel exposes
}

TEST(UnitsTest, FormatsSizesAsParseBytesReadsThem) {
  EXPECT_EQ(format_bytes(512ull << 20), "512M");
  EXPECT_EQ(format_bytes(4ull << 30), "4G");
  EXPECT_EQ(format_bytes(1000ull << 40), "1000T");
  EXPECT_EQ(format_bytes((23ull << 30) + (400ull << 20)), "23.4G");
  EXPECT_EQ(format_bytes(100), "100B");
}

TEST(MemoryGateTest, WarnsWhenOneJobNeedsMoreThanThereIs) {
  EXPECT_EQ(mem_per_job_warning(0, 8ull << 30), "");
  EXPECT_EQ(mem_per_job_warning(8ull << 30, 8ull << 30), "");
  std::string w = mem_per_job_warning(500ull << 40, 23ull << 30);
  EXPECT_NE(w.find("--mem-per-job 500T is more than the 23G"), std::string::npos) << w;
  EXPECT_NE(w.find("one at a time"), std::string::npos) << w;
}

}  // namespace
}  // namespace tandem::jobs
