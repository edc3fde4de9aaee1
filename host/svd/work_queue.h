// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace tandem {

/// Bytes that may be in flight at once. acquire() blocks while the budget is spent, except that
/// one item always fits when nothing is in flight (so a single huge matrix still runs).
class ByteBudget {
 public:
  explicit ByteBudget(int64_t cap) : cap_(cap) {}
  void acquire(int64_t bytes) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return used_ == 0 || used_ + bytes <= cap_; });
    used_ += bytes;
  }
  void release(int64_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      used_ -= bytes;
    }
    cv_.notify_all();
  }

 private:
  int64_t cap_;
  int64_t used_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
};

/// A closable multi-consumer queue. pop_batch() takes the first item and then, without
/// waiting, the following items that `fits` accepts (same shape, within a byte limit).
template <typename T>
class WorkQueue {
 public:
  void push(T item) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      items_.push_back(std::move(item));
    }
    cv_.notify_one();
  }
  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  /// Empty result: the queue is closed and drained.
  std::vector<T> pop_batch(
      const std::function<bool(const T& first, const T& next, std::size_t n)>& fits) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !items_.empty(); });
    std::vector<T> out;
    if (items_.empty()) return out;
    out.push_back(std::move(items_.front()));
    items_.pop_front();
    while (!items_.empty() && fits(out.front(), items_.front(), out.size())) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return out;
  }

 private:
  std::deque<T> items_;
  bool closed_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace tandem
