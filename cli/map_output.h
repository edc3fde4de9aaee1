// SPDX-License-Identifier: Apache-2.0
#pragma once
// How `tandem map` and `tandem run` show subject jobs: the status line, each job's output when it
// ends, failures as they happen, and the summary. Header-only so that both commands' files
// use it without a build change; it is output glue, no logic.

#include <cstdio>
#include <string>

#include "core/progress.h"
#include "core/shard.h"
#include "jobs/map_plan.h"
#include "jobs/pool.h"
#include "jobs/report.h"

namespace tandem::cli {

/// "exit 3", "timeout: ran past --timeout 30s", "not_found: ...": a job's outcome for people.
inline std::string describe_job(const jobs::JobResult& r) {
  std::string name = jobs::outcome_name(r.outcome);
  if (r.message.empty()) return name;
  // "exit 3" says it all; other outcomes keep their report name in front of the detail.
  return r.outcome == jobs::Outcome::kExit ? r.message : name + ": " + r.message;
}

/// Prints pool events on `line`: a status line (done, failed, running, ETA) on a terminal, one
/// line per finished job otherwise, every failure with its reason and log. A job's captured
/// output is written whole when it ends (stdout to stdout), never interleaved with another's.
/// Called from the pool's thread only.
class MapPrinter : public jobs::PoolObserver {
 public:
  /// `total` jobs to expect, for "[n/total]" (0 when unknown: "[n]"); the status goes to slot
  /// `slot` of `line`. `prefix` starts the status and every job's line (`tandem run` names its
  /// halves: "smooth [1/2] ok sub-01", "jobs retry ...").
  MapPrinter(ProgressLine& line, std::size_t total, std::size_t slot = 0, std::string prefix = "")
      : line_(line), total_(total), slot_(slot), prefix_(std::move(prefix)) {}

  void job_retrying(const jobs::JobResult& r, double delay) override {
    line_.event(prefix_ + "retry " + r.name + " in " + format_duration(delay) + " after attempt " +
                std::to_string(r.attempts) + ": " + describe_job(r));
  }

  // A failed job's stderr is left to the summary and its log file.
  void job_output(const jobs::JobResult& r, const std::string& out,
                  const std::string& err) override {
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    if (jobs::is_failure(r.outcome) || err.empty()) return;
    std::size_t start = 0;
    while (start < err.size()) {
      auto end = err.find('\n', start);
      line_.event(err.substr(start, end == std::string::npos ? std::string::npos : end - start));
      start = end == std::string::npos ? err.size() : end + 1;
    }
  }

  void job_finished(const jobs::JobResult& r) override {
    ++finished_;
    std::string count = prefix_ + "[" + std::to_string(finished_) +
                        (total_ > 0 ? "/" + std::to_string(total_) : std::string()) + "] ";
    if (jobs::is_failure(r.outcome)) {
      std::string log = r.stderr_path.empty() ? "" : ", log: " + r.stderr_path;
      line_.failure(count + "FAILED " + r.name + ": " + describe_job(r) + log);
    } else if (!line_.is_tty()) {
      line_.event(count + "ok " + r.name + " " + format_duration(r.duration));
    }
  }

  void progress(const jobs::PoolProgress& p) override {
    std::string text = "[" + std::to_string(p.done) + "/" + std::to_string(p.total) + "] " +
                       std::to_string(p.failed) + " failed, " + std::to_string(p.running) +
                       " running";
    if (p.done > 0 && p.done < p.total) {
      double eta = p.elapsed / static_cast<double>(p.done) * static_cast<double>(p.total - p.done);
      text += ", ETA " + format_duration(eta);
    }
    line_.status(prefix_ + text, slot_);
  }

  void stopping(const std::string& reason) override {
    line_.failure("tandem: stopping: " + reason);
  }

 private:
  ProgressLine& line_;
  std::size_t total_;
  std::size_t slot_;
  std::string prefix_;
  std::size_t finished_ = 0;
};

/// The end-of-run summary of one map run, headed `name` ("map", "jobs", "smooth"): counts (of
/// one shard's subjects, "shard K/N: X of Y subjects", when sharded) and wall time, then every
/// failed subject with its outcome, log path and last stderr lines. With `quiet` a run without
/// failures prints nothing.
inline void print_map_summary(ProgressLine& line, const std::string& name,
                              const jobs::MapResult& result, bool quiet) {
  const auto [ok, failed, skipped, not_started] = jobs::count_subjects(result);
  line.finish();
  std::string subjects =
      counted(static_cast<long long>(result.results.size()), "subject", "subjects");
  if (result.shard) {
    subjects = "shard " + shard_label(*result.shard) + ": " +
               std::to_string(result.results.size()) + " of " +
               counted(static_cast<long long>(result.total_subjects), "subject", "subjects");
  }
  std::string head = name + ": " + subjects + ": " + std::to_string(ok) + " ok, " +
                     std::to_string(failed) + " failed, " + std::to_string(skipped) + " skipped, " +
                     std::to_string(not_started) + " not started, wall " +
                     format_duration(result.wall_seconds);
  if (failed == 0 && not_started == 0) {
    if (!quiet) std::fprintf(stderr, "%s\n", head.c_str());
    return;
  }
  line.failure(head);
  for (const auto& r : result.results) {
    if (!jobs::is_failure(r.outcome) || r.outcome == jobs::Outcome::kNotStarted) continue;
    std::string log = r.stderr_path.empty() ? "" : ", log: " + r.stderr_path;
    line.failure("  " + r.name + ": " + describe_job(r) + log);
    const std::string error_prefix = "tandem: error: ";
    for (const auto& l : jobs::tail_lines(r.stderr_path, 3)) {
      // tandem run's [smooth] jobs already carry their child's error line in the message.
      const bool repeated = l.rfind(error_prefix, 0) == 0 &&
                            r.message.find(l.substr(error_prefix.size())) != std::string::npos;
      if (!repeated) line.failure("    | " + l);
    }
  }
  if (!result.kept_log_dir.empty()) {
    line.failure("  logs of the failed jobs are kept in " + result.kept_log_dir);
  }
}

}  // namespace tandem::cli
