// SPDX-License-Identifier: Apache-2.0
#include "jobs/resources.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "jobs/units.h"

namespace tandem::jobs {

namespace {

// A young job has not reached its working set yet; this long after its start it counts as
// using what MemAvailable shows.
constexpr std::chrono::seconds kSettleTime{3};

std::string own_cgroup() {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "";
}

// Reads "<key> <value>" from a flat-keyed file such as /proc/vmstat or memory.events.
std::uint64_t keyed_value(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string name;
  std::uint64_t value = 0;
  while (in >> name >> value) {
    if (name == key) return value;
  }
  return 0;
}

// A "<key>: <n> kB" line of /proc/meminfo, in bytes; unlimited when it cannot be read.
std::uint64_t meminfo(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream fields(line.substr(key.size() + 1));
      std::uint64_t kb = 0;
      fields >> kb;
      return kb * 1024;
    }
  }
  return std::numeric_limits<std::uint64_t>::max();
}

// The tightest cgroup v2 memory limit above this process: with `headroom`, what is left under
// it (memory.max - memory.current), else the limit itself.
std::uint64_t cgroup_memory(bool headroom) {
  std::uint64_t best = std::numeric_limits<std::uint64_t>::max();
  std::string rel = own_cgroup();
  while (true) {
    std::string dir = "/sys/fs/cgroup" + rel;
    std::ifstream max_file(dir + "/memory.max");
    std::ifstream current_file(dir + "/memory.current");
    std::string max_text;
    std::uint64_t current = 0;
    if (max_file >> max_text && max_text != "max" && current_file >> current) {
      std::uint64_t limit = std::stoull(max_text);
      if (!headroom) current = 0;
      best = std::min(best, limit > current ? limit - current : 0);
    }
    if (rel.empty() || rel == "/") break;
    auto slash = rel.find_last_of('/');
    rel = slash == 0 || slash == std::string::npos ? "" : rel.substr(0, slash);
  }
  return best;
}

}  // namespace

std::uint64_t memory_available() { return std::min(meminfo("MemAvailable"), cgroup_memory(true)); }

std::uint64_t memory_total() { return std::min(meminfo("MemTotal"), cgroup_memory(false)); }

std::string mem_per_job_warning(std::uint64_t per_job, std::uint64_t total) {
  if (per_job == 0 || per_job <= total) return "";
  return "--mem-per-job " + format_bytes(per_job) + " is more than the " + format_bytes(total) +
         " of memory here (this machine's, or its cgroup limit); the jobs will run one at a time";
}

std::uint64_t oom_kill_count() {
  std::uint64_t count = keyed_value("/proc/vmstat", "oom_kill");
  std::string cgroup = own_cgroup();
  if (!cgroup.empty()) {
    count += keyed_value("/sys/fs/cgroup" + cgroup + "/memory.events", "oom_kill");
  }
  return count;
}

MemoryGate::MemoryGate(std::uint64_t per_job, std::function<std::uint64_t()> available)
    : per_job_(per_job), available_(std::move(available)) {}

bool MemoryGate::may_start(int running, Clock::time_point now) {
  if (per_job_ == 0 || running == 0) return true;
  while (!recent_.empty() && now - recent_.front() > kSettleTime) recent_.pop_front();
  std::uint64_t young = recent_.size();
  return available_() / per_job_ >= young + 1;
}

void MemoryGate::started(Clock::time_point now) {
  if (per_job_ > 0) recent_.push_back(now);
}

}  // namespace tandem::jobs
