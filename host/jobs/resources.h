// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>

namespace tandem::jobs {

/// Bytes a new job may still use: /proc/meminfo MemAvailable, lowered to the headroom
/// (memory.max - memory.current) of the tightest cgroup v2 limit above this process.
std::uint64_t memory_available();

/// Bytes this process could ever have: /proc/meminfo MemTotal, lowered to the tightest cgroup v2
/// memory.max above it.
std::uint64_t memory_total();

/// The warning for a --mem-per-job of `per_job` bytes above `total` (memory_total()): the gate
/// then lets a job start only when none runs, so the jobs run one at a time. Empty when
/// `per_job` fits (or is 0).
std::string mem_per_job_warning(std::uint64_t per_job, std::uint64_t total);

/// OOM kills seen so far: /proc/vmstat oom_kill plus this cgroup's memory.events oom_kill. Only
/// its increase matters: a job killed by SIGKILL while it grew was killed by the OOM killer.
std::uint64_t oom_kill_count();

/// Decides whether one more job of `per_job` bytes may start now. Jobs started in the last few
/// seconds have not yet allocated what they will, so each of them still counts against the
/// available memory. A job may always start when none is running, so a run cannot stall.
class MemoryGate {
 public:
  using Clock = std::chrono::steady_clock;
  /// `per_job` 0 disables the gate; `available` is injectable for tests.
  explicit MemoryGate(std::uint64_t per_job,
                      std::function<std::uint64_t()> available = memory_available);

  /// True when a job may start now with `running` jobs already running.
  bool may_start(int running, Clock::time_point now);
  /// Records that a job started at `now`.
  void started(Clock::time_point now);
  /// False when the gate is disabled.
  bool enabled() const { return per_job_ > 0; }

 private:
  std::uint64_t per_job_;
  std::function<std::uint64_t()> available_;
  std::deque<Clock::time_point> recent_;
};

}  // namespace tandem::jobs
