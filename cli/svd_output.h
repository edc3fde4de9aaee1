// SPDX-License-Identifier: Apache-2.0
#pragma once
// How `tandem svd` and `tandem run` show SVD progress, failures and report records.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/progress.h"
#include "core/report.h"
#include "svd/scheduler.h"

namespace tandem::cli {

/// "file: matrix i" (or the file alone for a whole-source failure).
std::string item_name(const SvdItemRecord& r);

/// One report record for a matrix (or a whole failed source).
nlohmann::json item_json(const SvdItemRecord& r);

/// Prints progress and failures, and streams the report (may be null). Thread-safe.
class CliObserver : public SvdObserver {
 public:
  CliObserver(ProgressLine& progress, ReportWriter* report, std::string prefix = "");
  void on_start(int64_t total) override { total_ = total; }
  void on_item(const SvdItemRecord& r) override;
  void on_skipped(const SvdSource& s, int64_t count) override;
  void on_output(const SvdSource& s, const std::string& path, bool complete) override;
  int outputs() const { return outputs_; }
  /// After an interrupted run: one report record for each source whose output was not written.
  void report_unwritten(const std::vector<SvdSource>& sources);
  /// One line per source for the failures on_item did not print because they repeated the
  /// source's previous reason ("stack.npy: 153 more matrices failed the same way").
  void print_repeats();
  /// True when the report could not be written after all (the run must not exit 0).
  bool report_failed() const { return report_failed_; }

 private:
  void report(nlohmann::json item);  // under mu_
  ProgressLine& progress_;
  ReportWriter* report_;
  std::string prefix_;
  std::mutex mu_;
  int64_t total_ = 0, finished_ = 0;
  int outputs_ = 0;
  std::set<std::string> written_;  // labels of the sources whose output was written
  struct Repeats {
    std::string reason;  // the last failure printed for the source
    int64_t more = 0;    // failures since then with the same reason, not printed
  };
  std::map<std::string, Repeats> repeats_;
  bool report_failed_ = false;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace tandem::cli
