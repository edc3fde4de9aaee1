// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <map>
#include <string>

#include "jobs/map_plan.h"
#include "jobs/pool.h"

namespace tandem::run {

/// The reason a `tandem` child gave for failing: the text after "tandem: error: " on the last
/// such line of `err` (its stderr), or "" when it printed none.
std::string last_tandem_error(const std::string& err);

/// Passes a [smooth] half's events on to another observer, with each failed job's message led
/// by the child's own error line ("data/sub-02_bold.nii.gz: not a NIfTI file (exit 1)" instead
/// of "exit 1"), taken from its captured stderr or, when the plan names log files, from its
/// stderr file. Called from the pool's thread only.
class ChildErrorObserver : public jobs::PoolObserver {
 public:
  /// `inner` receives every event (may be null); not owned.
  explicit ChildErrorObserver(jobs::PoolObserver* inner) : inner_(inner) {}

  void job_started(const jobs::JobResult& job, int slot) override;
  void job_retrying(const jobs::JobResult& job, double delay) override;
  void job_output(const jobs::JobResult& job, const std::string& out,
                  const std::string& err) override;
  void job_finished(const jobs::JobResult& job) override;
  void progress(const jobs::PoolProgress& progress) override;
  void stopping(const std::string& reason) override;

  /// Gives the jobs of `result` (the half's run, after it ended) the messages their observer
  /// saw, so that the summary and the report say the same.
  void amend(jobs::MapResult& result) const;

 private:
  jobs::PoolObserver* inner_;
  std::map<std::size_t, std::string> child_error_;  // by job seq, from captured stderr
  std::map<std::size_t, std::string> message_;      // by job seq, the amended messages
};

}  // namespace tandem::run
