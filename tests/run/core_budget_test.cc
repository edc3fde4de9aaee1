// SPDX-License-Identifier: Apache-2.0
#include "core/core_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace tandem {
namespace {

TEST(CoreBudgetTest, GrantsInArrivalOrderSoABigRequestIsNotStarved) {
  CoreBudget b(4);
  EXPECT_EQ(b.acquire(1), 1);
  EXPECT_EQ(b.acquire(1), 1);
  auto big = b.request(3);  // needs 3 of the 2 left: waits
  auto small = b.request(1);
  EXPECT_FALSE(b.ready(big));
  EXPECT_FALSE(b.ready(small));  // would fit, but must not overtake the big one
  b.release(1);
  EXPECT_TRUE(b.ready(big));
  EXPECT_FALSE(b.ready(small));
  b.release(1);
  EXPECT_TRUE(b.ready(small));
  EXPECT_EQ(b.in_use(), 4);
}

TEST(CoreBudgetTest, OversizedRequestIsClampedToTheBudget) {
  CoreBudget b(2);
  EXPECT_EQ(b.acquire(8), 2);
  EXPECT_EQ(b.in_use(), 2);
  b.release(2);
  EXPECT_EQ(b.in_use(), 0);
}

TEST(CoreBudgetTest, CancelGivesBackAGrantedRequest) {
  CoreBudget b(2);
  auto t = b.request(2);
  b.cancel(t);
  EXPECT_EQ(b.in_use(), 0);
  auto u = b.request(1);
  EXPECT_TRUE(b.ready(u));
}

TEST(CoreBudgetTest, ManyThreadsNeverExceedTheBudget) {
  CoreBudget b(3);
  std::atomic<int> held{0}, worst{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        int n = b.acquire(1 + (t + i) % 2);
        int now = held += n;
        int prev = worst.load();
        while (now > prev && !worst.compare_exchange_weak(prev, now)) {
        }
        held -= n;
        b.release(n);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(worst.load(), 3);
  EXPECT_LE(b.peak(), 3);
  EXPECT_EQ(b.in_use(), 0);
}

}  // namespace
}  // namespace tandem
