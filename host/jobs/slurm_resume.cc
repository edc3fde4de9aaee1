// SPDX-License-Identifier: Apache-2.0
#include "jobs/slurm_resume.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/filesystem.hpp>
#include <cerrno>
#include <fstream>
#include <set>

#include "core/error.h"
#include "jobs/slurm.h"

namespace tandem::jobs {

namespace fs = boost::filesystem;

namespace {

// Why a run blocks --resume: its tasks' counts and the ways to end the wait.
std::string still_running(const SlurmRun& run, const SlurmRunStatus& s) {
  std::string counts = std::to_string(s.running) + " running, " + std::to_string(s.waiting) +
                       " pending" +
                       (s.states_from.empty() ? " (neither sacct nor squeue answered)" : "");
  return "--resume: the SLURM run " + run.dir + " (job " + run.job_id + ") that appends to " +
         run.joblog + " is still running, " + counts + ": wait, `tandem status " + run.dir +
         "`, or `tandem cancel " + run.dir + "`, then resume";
}

}  // namespace

std::string slurm_runs_path(const std::string& joblog) { return joblog + ".slurm-runs"; }

void record_slurm_run(const SlurmRun& run) {
  if (run.joblog.empty()) return;
  const std::string path = slurm_runs_path(run.joblog);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw_system_error("cannot write", path, errno);
  // One write on O_APPEND: lines of runs submitted at the same time never interleave.
  const std::string line = run.dir + "\n";
  const ssize_t n = ::write(fd, line.data(), line.size());
  const int err = n < 0 ? errno : EIO;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) throw_system_error("cannot write", path, err);
}

JoblogCatchUp catch_up_slurm_joblog(const std::string& joblog) {
  JoblogCatchUp out;
  const std::string list = slurm_runs_path(fs::absolute(joblog).string());
  std::ifstream in(list);
  if (!in) return out;
  std::set<std::string> seen;
  for (std::string dir; std::getline(in, dir);) {
    if (dir.empty() || !seen.insert(dir).second) continue;
    boost::system::error_code ec;
    if (!fs::exists(fs::path(dir) / "tasks.json", ec)) {
      out.missing.push_back(dir);
      continue;
    }
    if (fs::exists(fs::path(dir) / "joblog.appended", ec)) continue;
    SlurmRun run = load_slurm_run(dir);
    SlurmRunStatus s = slurm_run_status(run);
    if (s.running + s.waiting > 0) throw UsageError(still_running(run, s));
    if (s.joblog_appended) out.appended.push_back(run.dir);
  }
  in.close();
  ::unlink(list.c_str());
  return out;
}

}  // namespace tandem::jobs
