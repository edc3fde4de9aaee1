// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

namespace tandem {

/// The one budget of cores that every kind of work in a run draws on: a CPU SVD worker holds
/// one core while it decomposes a matrix, a subject job holds its threads_per_job. Requests are
/// granted strictly in arrival order, so a job asking for four cores is not starved by SVD
/// workers that keep asking for one. A request larger than the budget is clamped to it (a job
/// wanting 8 threads on 4 cores runs alone). Thread-safe.
class CoreBudget {
 public:
  /// `cores` ≥ 1.
  explicit CoreBudget(int cores);

  /// A place in the queue for `cores` cores; see ready().
  using Ticket = uint64_t;
  /// Queues a request without blocking.
  Ticket request(int cores);
  /// True once `ticket` holds its cores (it is then no longer queued). Non-blocking.
  bool ready(Ticket ticket);
  /// Withdraws a request; if it was granted meanwhile, its cores are given back.
  void cancel(Ticket ticket);
  /// Blocks until `cores` cores are held; returns how many were taken (after clamping).
  int acquire(int cores);
  /// Gives back cores taken by acquire() or a ready() ticket.
  void release(int cores);

  int capacity() const { return capacity_; }
  /// Cores held right now.
  int in_use() const;
  /// The most cores ever held at once (never above capacity()).
  int peak() const;
  /// Clamps a request to the capacity, as request() and acquire() do.
  int clamp(int cores) const;

 private:
  struct Request {
    Ticket ticket;
    int cores;
    bool granted;
  };
  void grant_locked();

  const int capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request> queue_;
  Ticket next_ = 1;
  int in_use_ = 0;
  int peak_ = 0;
};

}  // namespace tandem
