// SPDX-License-Identifier: Apache-2.0
#include "core/core_budget.h"

#include <algorithm>

#include "core/error.h"

namespace tandem {

CoreBudget::CoreBudget(int cores) : capacity_(cores) {
  TANDEM_EXPECTS(cores >= 1, "a core budget needs at least one core");
}

int CoreBudget::clamp(int cores) const { return std::max(1, std::min(cores, capacity_)); }

// Grants queued requests from the front while they fit; stops at the first that does not, so
// a large request is never overtaken by later small ones.
void CoreBudget::grant_locked() {
  for (Request& r : queue_) {
    if (r.granted) continue;
    if (in_use_ + r.cores > capacity_) break;
    r.granted = true;
    in_use_ += r.cores;
    peak_ = std::max(peak_, in_use_);
  }
  cv_.notify_all();
}

CoreBudget::Ticket CoreBudget::request(int cores) {
  std::lock_guard<std::mutex> lock(mu_);
  Ticket t = next_++;
  queue_.push_back({t, clamp(cores), false});
  grant_locked();
  return t;
}

bool CoreBudget::ready(Ticket ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->ticket != ticket) continue;
    if (!it->granted) return false;
    queue_.erase(it);
    return true;
  }
  return false;
}

void CoreBudget::cancel(Ticket ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->ticket != ticket) continue;
    if (it->granted) in_use_ -= it->cores;
    queue_.erase(it);
    break;
  }
  grant_locked();
}

int CoreBudget::acquire(int cores) {
  std::unique_lock<std::mutex> lock(mu_);
  const Ticket t = next_++;
  const int n = clamp(cores);
  queue_.push_back({t, n, false});
  grant_locked();
  cv_.wait(lock, [&] {
    for (const Request& r : queue_) {
      if (r.ticket == t) return r.granted;
    }
    return false;
  });
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->ticket == t) {
      queue_.erase(it);
      break;
    }
  }
  return n;
}

void CoreBudget::release(int cores) {
  std::lock_guard<std::mutex> lock(mu_);
  in_use_ -= cores;
  TANDEM_EXPECTS(in_use_ >= 0, "released more cores than were held");
  grant_locked();
}

int CoreBudget::in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}

int CoreBudget::peak() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}

}  // namespace tandem
