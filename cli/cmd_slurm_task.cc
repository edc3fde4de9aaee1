// SPDX-License-Identifier: Apache-2.0
// `tandem slurm-task RUNDIR INDEX`, hidden: what each array task of `tandem map --executor slurm`
// runs (from RUNDIR/array.sh). Exit 0 when the subject's job succeeded, else 1.
#include <memory>
#include <string>

#include "command.h"
#include "core/interrupt.h"
#include "jobs/slurm.h"

namespace tandem::cli {

namespace {

struct TaskArgs {
  std::string dir;
  int index = 0;
};

std::function<int()> setup_slurm_task(CLI::App& sub) {
  auto a = std::make_shared<TaskArgs>();
  sub.group("");
  sub.add_option("RUNDIR", a->dir, "Run directory")->required();
  sub.add_option("INDEX", a->index, "Array task index (SLURM_ARRAY_TASK_ID)")->required();
  return [a] {
    // scancel and SLURM's time limit send SIGTERM: the pool ends the job and the status says so.
    install_interrupt_handlers();
    return jobs::run_slurm_task(a->dir, a->index) ? kExitOk : kExitItemFailed;
  };
}

}  // namespace

TANDEM_REGISTER_COMMAND(99, "slurm-task", "Internal: run one array task of a SLURM map run",
                        setup_slurm_task);

}  // namespace tandem::cli
