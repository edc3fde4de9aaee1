// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jobs/map_plan.h"

namespace tandem::jobs {

/// A map run's subjects by category, counted alike by the console summary and the report.
struct MapCounts {
  /// Subjects whose job succeeded.
  std::size_t ok = 0;
  /// Subjects whose job ran (or was started) and failed, interrupted ones included.
  std::size_t failed = 0;
  /// Subjects not run because they were already done.
  std::size_t skipped = 0;
  /// Subjects never started: the run was interrupted or halted first.
  std::size_t not_started = 0;
};

/// Counts `result`'s subjects by category.
MapCounts count_subjects(const MapResult& result);

/// The --report document of a map run: `{"command": "map", "summary": {...}, "subjects": [...]}`.
/// The summary counts the subjects as the console does (subjects, ok, failed, skipped,
/// not_started) and by outcome name (outcomes). One record per subject: subject, seq, command,
/// attempts, start (ISO 8601 UTC), duration_s, outcome, exit_code, signal, peak_rss_bytes, message,
/// stdout/stderr log paths and outputs (path, exists). `exit_code` is the process's own exit code
/// (0, 1 or 130). A run of one shard has `summary.shard` = {index, count, all_subjects} and records
/// its subjects only.
nlohmann::json map_report(const MapResult& result, int exit_code);

/// A --report file claimed before the run: a path that cannot be written is then a usage error
/// before any job starts, not a lost report after hours of work. From construction it holds a
/// temporary file `.<name>.tmp-<pid>-report` beside the path; write() fills it and renames it
/// into place, so a report with its final name is always whole. Removes the temporary when
/// destroyed unwritten. Not copyable.
class MapReportFile {
 public:
  /// Claims `path`; throws UsageError "cannot write the report: PATH: reason" (no such
  /// directory, PATH is a directory, permission denied).
  explicit MapReportFile(std::string path);
  ~MapReportFile();
  MapReportFile(const MapReportFile&) = delete;
  MapReportFile& operator=(const MapReportFile&) = delete;

  /// Writes map_report(result, exit_code) to the path; throws Error "cannot write the report:
  /// PATH: reason" (disk full, the directory removed meanwhile).
  void write(const MapResult& result, int exit_code);

 private:
  [[noreturn]] void fail(int err);
  std::string path_;
  std::string temp_;
  int fd_ = -1;
};

/// The last `lines` lines of a text file (empty when unreadable), for failure summaries.
std::vector<std::string> tail_lines(const std::string& path, std::size_t lines);

/// The exit code a map run should end with: 130 interrupted, 1 any failure, else 0.
int map_exit_code(const MapResult& result);

}  // namespace tandem::jobs
