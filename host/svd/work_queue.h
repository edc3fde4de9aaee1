// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace tandem {

/// Bytes that may be in flight at once. acquire() blocks while the budget is spent, except that
/// one item always fits when nothing is in flight (so a single huge matrix still runs).
class ByteBudget {
 public:
  explicit ByteBudget(int64_t cap) : cap_(cap) {}
  void acquire(int64_t bytes) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return fits(bytes); });
    used_ += bytes;
  }
  /// acquire() that gives up after `wait`: false (and nothing taken) when it still would block.
  template <typename Duration>
  bool try_acquire_for(int64_t bytes, Duration wait) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, wait, [&] { return fits(bytes); })) return false;
    used_ += bytes;
    return true;
  }
  void release(int64_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      used_ -= bytes;
    }
    cv_.notify_all();
  }

 private:
  bool fits(int64_t bytes) const { return used_ == 0 || used_ + bytes <= cap_; }

  int64_t cap_;
  int64_t used_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
};

/// A closable multi-consumer FIFO.
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

  /// Waits for the next item; nullopt once the queue is closed and drained.
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.wait(lock, [&] { return closed_ || !items_.empty(); });
    --waiting_;
    if (items_.empty()) return std::nullopt;
    std::optional<T> out(std::move(items_.front()));
    items_.pop_front();
    return out;
  }

  /// Consumers blocked in pop(): idle, with nothing queued for them.
  int waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }

 private:
  std::deque<T> items_;
  bool closed_ = false;
  int waiting_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace tandem
