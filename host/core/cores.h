// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace tandem {

/// Cores this process may really use: the CPU affinity mask, further capped by a cgroup CPU quota
/// (cgroup v2 cpu.max or v1 cfs_quota_us / cfs_period_us), rounded up; at least 1.
int available_cores();

/// The cgroup quota alone in cores (e.g. 1.5), or 0 when there is no quota.
double cgroup_cpu_quota();

}  // namespace tandem
