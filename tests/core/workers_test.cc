// SPDX-License-Identifier: Apache-2.0
#include "core/workers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

namespace tandem {
namespace {

TEST(RunWorkersTest, EveryWorkerRunsOnce) {
  std::vector<std::atomic<int>> ran(5);
  run_workers(5, [&](int w) { ++ran[static_cast<std::size_t>(w)]; });
  for (const auto& r : ran) EXPECT_EQ(r.load(), 1);
}

TEST(RunWorkersTest, FewerThanOneMeansOne) {
  int calls = 0;
  run_workers(0, [&](int w) {
    EXPECT_EQ(w, 0);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

TEST(RunWorkersTest, FirstFailureByWorkerIsRethrownAfterAllFinish) {
  std::atomic<int> finished{0}, told{0};
  try {
    run_workers(
        4,
        [&](int w) {
          if (w == 1 || w == 3) throw std::runtime_error("worker " + std::to_string(w));
          ++finished;
        },
        [&] { ++told; });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "worker 1");
  }
  EXPECT_EQ(finished.load(), 2);
  EXPECT_EQ(told.load(), 2);
}

}  // namespace
}  // namespace tandem
