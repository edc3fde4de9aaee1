// SPDX-License-Identifier: Apache-2.0
#include "core/cores.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace tandem {

namespace {

int affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

// The cgroup this process belongs to, from /proc/self/cgroup ("0::/path" in v2).
std::string own_cgroup_v2_path() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "";
}

double quota_v2() {
  // Walk from our own cgroup up to the root: the tightest cpu.max on the way applies.
  std::string rel = own_cgroup_v2_path();
  double best = 0;
  while (true) {
    std::ifstream in("/sys/fs/cgroup" + rel + "/cpu.max");
    std::string max;
    long period = 0;
    if (in >> max >> period && max != "max" && period > 0) {
      double q = std::stod(max) / static_cast<double>(period);
      if (q > 0 && (best == 0 || q < best)) best = q;
    }
    if (rel.empty() || rel == "/") break;
    auto slash = rel.find_last_of('/');
    rel = slash == 0 || slash == std::string::npos ? "" : rel.substr(0, slash);
  }
  return best;
}

double quota_v1() {
  std::ifstream q("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
  std::ifstream p("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  long quota = 0, period = 0;
  if (q >> quota && p >> period && quota > 0 && period > 0) {
    return static_cast<double>(quota) / static_cast<double>(period);
  }
  return 0;
}

}  // namespace

int slurm_cpus_per_task() {
  // Only inside a job: a login shell may carry a stale value from an earlier salloc.
  const char* job = std::getenv("SLURM_JOB_ID");
  const char* cpus = std::getenv("SLURM_CPUS_PER_TASK");
  if (job == nullptr || cpus == nullptr) return 0;
  char* end = nullptr;
  const long n = std::strtol(cpus, &end, 10);
  return end != cpus && *end == '\0' && n > 0 && n < (1 << 20) ? static_cast<int>(n) : 0;
}

double cgroup_cpu_quota() {
  double q = quota_v2();
  return q > 0 ? q : quota_v1();
}

int available_cores() {
  int cores = affinity_cores();
  double quota = cgroup_cpu_quota();
  if (quota > 0) cores = std::min(cores, static_cast<int>(std::ceil(quota)));
  // SLURM without CPU binding (TaskPlugin=task/none) leaves the whole node in the mask: the
  // allocation's --cpus-per-task is then the only word on what this task may use.
  if (const int slurm = slurm_cpus_per_task(); slurm > 0) cores = std::min(cores, slurm);
  return std::max(1, cores);
}

}  // namespace tandem
