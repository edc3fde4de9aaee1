// SPDX-License-Identifier: Apache-2.0
// `tandem status RUNDIR`: where a `tandem map --executor slurm` run stands, and its exit code.
#include <cstdio>
#include <memory>
#include <string>

#include "command.h"
#include "jobs/slurm.h"
#include "map_output.h"

namespace tandem::cli {

namespace {

// Tasks still pending or running.
constexpr int kExitRunning = 3;

int run_status(const std::string& dir) {
  jobs::SlurmRun run = jobs::load_slurm_run(dir);
  jobs::SlurmRunStatus s = jobs::slurm_run_status(run);
  std::printf("run dir %s, SLURM job %s: %zu tasks: %zu ok, %zu failed, %zu running, %zu pending\n",
              run.dir.c_str(), run.job_id.empty() ? "(not submitted)" : run.job_id.c_str(), s.total,
              s.ok, s.failed, s.running, s.waiting);
  for (const auto& r : s.failures) {
    std::string log = r.stderr_path.empty() ? "" : ", log: " + r.stderr_path;
    std::printf("  FAILED %s: %s%s\n", r.name.c_str(), describe_job(r).c_str(), log.c_str());
  }
  if (s.states_from.empty() && s.waiting + s.running > 0) {
    std::printf("  (neither sacct nor squeue answered: unfinished tasks are counted as pending)\n");
  }
  if (s.joblog_appended) std::printf("  joblog appended: %s\n", run.joblog.c_str());
  if (s.running + s.waiting > 0) return kExitRunning;
  return s.failed > 0 ? kExitItemFailed : kExitOk;
}

std::function<int()> setup_status(CLI::App& sub) {
  auto dir = std::make_shared<std::string>();
  sub.add_option("RUNDIR", *dir, "Run directory of tandem map --executor slurm")->required();
  sub.footer(
      "Counts the tasks by state (status files, and sacct, or squeue where accounting is off), "
      "lists each failure with its reason and log, and appends the run's --joblog once every "
      "task has ended.\n"
      "Exit codes: 0 all tasks finished ok, 1 finished with failures, 2 usage error, 3 tasks "
      "still pending or running.");
  return [dir] { return run_status(*dir); };
}

}  // namespace

TANDEM_REGISTER_COMMAND(80, "status", "Where a tandem map --executor slurm run stands",
                        setup_status);

}  // namespace tandem::cli
