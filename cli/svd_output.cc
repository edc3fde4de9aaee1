// SPDX-License-Identifier: Apache-2.0
#include "svd_output.h"

#include <cstdio>

namespace tandem::cli {

std::string item_name(const SvdItemRecord& r) {
  if (r.index < 0) return r.source->label;
  return r.source->label + ": matrix " + std::to_string(r.index);
}

nlohmann::json item_json(const SvdItemRecord& r) {
  nlohmann::json j = {{"input", r.source->label},
                      {"index", r.index < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.index)},
                      {"status", r.result.status == ItemStatus::kOk ? "ok" : "failed"}};
  if (r.index >= 0) {
    j["shape"] = {r.m, r.n};
    j["dtype"] = dtype_name(r.dtype);
    j["route"] = r.result.route;
  } else {
    j["matrices"] = r.count;
  }
  if (!r.result.message.empty()) j["message"] = r.result.message;
  if (r.result.has_check) {
    const CheckMetrics& c = r.result.check;
    j["check"] = {{"residual", c.residual},
                  {"u_orthogonality", c.u_orthogonality},
                  {"v_orthogonality", c.v_orthogonality},
                  {"residual_ratio", c.residual_ratio},
                  {"orthogonality_ratio", c.orthogonality_ratio}};
  }
  return j;
}

CliObserver::CliObserver(ProgressLine& progress, ReportWriter* report, std::string prefix)
    : progress_(progress),
      report_(report),
      prefix_(std::move(prefix)),
      t0_(std::chrono::steady_clock::now()) {}

void CliObserver::on_item(const SvdItemRecord& r) {
  std::lock_guard<std::mutex> lock(mu_);
  finished_ += r.count;
  if (r.result.status != ItemStatus::kOk) {
    // A stack whose file went bad fails every later matrix for one reason: say it once, and
    // how many more (the report keeps every record).
    Repeats& last = repeats_[r.source->label];
    if (r.index >= 0 && !last.reason.empty() && last.reason == r.result.message) {
      ++last.more;
    } else {
      progress_.failure("tandem: error: " + item_name(r) + ": " + r.result.message);
      last.reason = r.result.message;
    }
  }
  report(item_json(r));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  const double rate = secs > 0 ? static_cast<double>(finished_) / secs : 0;
  const double eta = rate > 0 ? static_cast<double>(total_ - finished_) / rate : 0;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s[%lld/%lld] %.3g matrices/s, ETA %s", prefix_.c_str(),
                static_cast<long long>(finished_), static_cast<long long>(total_), rate,
                format_duration(eta).c_str());
  progress_.status(buf);
}

void CliObserver::on_skipped(const SvdSource& s, int64_t count) {
  progress_.event(prefix_ + "skipped " + s.label + " (" + counted(count, "matrix", "matrices") +
                  "): output is complete (--resume)");
}

void CliObserver::report(nlohmann::json item) {
  if (!report_) return;
  if (!prefix_.empty()) item["half"] = "svd";
  // Called on a worker thread: a report that cannot be written (disk full) must not take the
  // run down with it. Say so once and stop writing it; the results themselves go on, and the
  // exit code says that something failed.
  try {
    report_->add_item(item);
  } catch (const std::exception& e) {
    progress_.failure(std::string("tandem: error: the report is not written: ") + e.what());
    report_ = nullptr;
    report_failed_ = true;
  }
}

void CliObserver::on_output(const SvdSource& s, const std::string& path, bool complete) {
  std::lock_guard<std::mutex> lock(mu_);
  ++outputs_;
  written_.insert(s.label);
  // Where each input's results are: an .incomplete.npz (failed matrices as NaN) included.
  report({{"input", s.label}, {"output", path}, {"complete", complete}});
  if (!complete) {
    progress_.failure("tandem: wrote " + path + " with failed matrices as NaN");
  } else if (!progress_.is_tty()) {
    progress_.event(prefix_ + "wrote " + path);
  }
}

void CliObserver::print_repeats() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [label, last] : repeats_) {
    if (last.more == 0) continue;
    progress_.failure("tandem: error: " + label + ": " + std::to_string(last.more) + " more " +
                      (last.more == 1 ? "matrix" : "matrices") + " failed the same way");
    last.more = 0;
  }
}

void CliObserver::report_unwritten(const std::vector<SvdSource>& sources) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const SvdSource& s : sources) {
    if (s.output.empty() || written_.count(s.label)) continue;
    report({{"input", s.label},
            {"output", nullptr},
            {"complete", false},
            {"message", "interrupted before its output was complete; nothing was written"}});
  }
}

}  // namespace tandem::cli
