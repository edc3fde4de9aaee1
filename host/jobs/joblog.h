// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <set>
#include <string>
#include <vector>

namespace tandem::jobs {

/// One finished attempt, as GNU parallel's --joblog records it.
struct JobLogEntry {
  /// Job number from 1 (GNU parallel's Seq).
  std::size_t seq = 0;
  /// Start time, seconds since the Unix epoch.
  double start_time = 0;
  /// Wall time of the attempt in seconds.
  double runtime = 0;
  /// Exit status; -1 when the job was killed for a timeout (as GNU parallel writes it).
  int exit_value = 0;
  /// Signal that ended the job, 0 if none.
  int signal = 0;
  /// The command line (newlines are written as NUL, as GNU parallel does).
  std::string command;
  /// The Host column: ":" (GNU parallel's name for this machine) or the node a SLURM task ran on.
  std::string host = ":";
};

/// Appends to a joblog in GNU parallel's exact format: header `Seq Host Starttime JobRuntime
/// Send Receive Exitval Signal Command` (tab-separated) when the file is new or empty, then one
/// line per attempt, each written by a single write(2) on an O_APPEND descriptor so every line
/// that was reported finished is on disk even if tandem is killed with SIGKILL. Move-only.
class JobLog {
 public:
  /// Opens (creates) `path` for appending; throws Error naming the path.
  explicit JobLog(const std::string& path);
  ~JobLog();
  JobLog(const JobLog&) = delete;
  JobLog& operator=(const JobLog&) = delete;

  /// Appends one line; throws Error when the write fails.
  void append(const JobLogEntry& entry);

 private:
  std::string path_;
  int fd_ = -1;
};

/// One line of the joblog format (with its trailing newline).
std::string format_joblog_line(const JobLogEntry& entry);

/// What an earlier run's joblog says: the commands that succeeded (Exitval 0, Signal 0) and those
/// whose last recorded attempt failed. A job is matched by its command line, not its number, so a
/// reordered or extended subject list still resumes correctly.
struct JobLogHistory {
  /// Commands with a successful attempt.
  std::set<std::string> succeeded;
  /// Commands recorded only with failed attempts.
  std::set<std::string> failed;
};

/// The entries of a joblog file in order (a missing file, its header and malformed lines give
/// none); the Host column is kept.
std::vector<JobLogEntry> read_joblog_entries(const std::string& path);

/// Reads a joblog; a missing file is an empty history. Malformed lines (a torn last line) are
/// ignored. Throws InputError when the file exists but is not a joblog.
JobLogHistory read_joblog(const std::string& path);

}  // namespace tandem::jobs
