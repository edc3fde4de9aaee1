// SPDX-License-Identifier: Apache-2.0
#include "svd/buffer_pool.h"

#include <gtest/gtest.h>

namespace tandem {
namespace {

TEST(BufferPool, ReusesABlockOfTheSameSize) {
  BufferPool pool(1 << 20);
  unsigned char* first = nullptr;
  {
    Buffer b(&pool);
    b.resize(4096);
    first = b.data();
  }
  EXPECT_EQ(pool.idle_bytes(), 4096u);
  Buffer again(&pool);
  again.resize(4096);
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(pool.idle_bytes(), 0u);
  Buffer other(&pool);
  other.resize(100);  // no idle block of this size: a new one
  EXPECT_NE(other.data(), nullptr);
  EXPECT_NE(other.data(), first);
}

TEST(BufferPool, NeverHoldsMoreThanItsCap) {
  BufferPool pool(10000);
  {
    Buffer a(&pool), b(&pool), c(&pool);
    a.resize(4000);
    b.resize(4000);
    c.resize(4000);
  }
  EXPECT_LE(pool.idle_bytes(), 10000u);
  EXPECT_EQ(pool.idle_bytes(), 8000u);
  {
    Buffer big(&pool);
    big.resize(20000);  // larger than the cap: freed, never kept
  }
  EXPECT_EQ(pool.idle_bytes(), 8000u);
  {
    Buffer d(&pool);
    d.resize(6000);  // a new size evicts an old one to fit
  }
  EXPECT_LE(pool.idle_bytes(), 10000u);
  EXPECT_EQ(pool.idle_bytes(), 10000u);  // 4000 + 6000
}

TEST(BufferPool, ResizingToTheSameSizeKeepsTheData) {
  BufferPool pool(1 << 20);
  Buffer b(&pool);
  b.resize(16);
  b.data()[3] = 42;
  b.resize(16);
  EXPECT_EQ(b.data()[3], 42);
  b.release();
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(pool.idle_bytes(), 16u);
}

TEST(BufferPool, WorksWithoutAPool) {
  Buffer b;
  b.resize(64);
  ASSERT_NE(b.data(), nullptr);
  b.data()[63] = 1;
  b.release();
  EXPECT_EQ(b.data(), nullptr);
}

}  // namespace
}  // namespace tandem
