// SPDX-License-Identifier: Apache-2.0
// `tandem cancel RUNDIR`: scancel a `tandem map --executor slurm` run.
#include <cstdio>
#include <memory>
#include <string>

#include "command.h"
#include "jobs/slurm.h"

namespace tandem::cli {

namespace {

int run_cancel(const std::string& dir) {
  jobs::SlurmRun run = jobs::load_slurm_run(dir);
  std::string why = jobs::cancel_slurm_run(run);
  if (!why.empty()) {
    std::fprintf(stderr, "tandem: error: cancel: %s\n", why.c_str());
    return kExitItemFailed;
  }
  std::printf("cancelled SLURM job %s (scancel %s); `tandem status %s` shows what finished\n",
              run.job_id.c_str(), run.job_id.c_str(), run.dir.c_str());
  return kExitOk;
}

std::function<int()> setup_cancel(CLI::App& sub) {
  auto dir = std::make_shared<std::string>();
  sub.add_option("RUNDIR", *dir, "Run directory of tandem map --executor slurm")->required();
  sub.footer("Exit codes: 0 scancel succeeded, 1 it failed, 2 usage error.");
  return [dir] { return run_cancel(*dir); };
}

}  // namespace

TANDEM_REGISTER_COMMAND(81, "cancel", "Cancel a tandem map --executor slurm run (scancel)",
                        setup_cancel);

}  // namespace tandem::cli
