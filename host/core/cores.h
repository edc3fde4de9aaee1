// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace tandem {

/// Cores this process may really use: the CPU affinity mask, further capped by a cgroup CPU quota
/// (cgroup v2 cpu.max or v1 cfs_quota_us / cfs_period_us), rounded up, and inside a SLURM job by
/// its SLURM_CPUS_PER_TASK; at least 1.
int available_cores();

/// SLURM_CPUS_PER_TASK when running inside a SLURM job (SLURM_JOB_ID set), else 0.
int slurm_cpus_per_task();

/// The cgroup quota alone in cores (e.g. 1.5), or 0 when there is no quota.
double cgroup_cpu_quota();

}  // namespace tandem
